"""COVID-CT data: the official split, the uint8 tensor cache, checks, and bundled samples."""

from .cache import cached_split, load_split
from .covidct import CLASSES, SPLITS, CovidCT, Problem, open_grey, resolve_root
from .samples import SampleScan, sample_scans
from .tensors import SplitTensors
from .verify import fetch_dataset, import_dataset, verify_dataset

__all__ = [
    "CLASSES",
    "SPLITS",
    "CovidCT",
    "Problem",
    "SampleScan",
    "SplitTensors",
    "cached_split",
    "fetch_dataset",
    "import_dataset",
    "load_split",
    "open_grey",
    "resolve_root",
    "sample_scans",
    "verify_dataset",
]
