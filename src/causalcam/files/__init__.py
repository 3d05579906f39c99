"""Explaining files: what ``causalcam explain``, ``causalcam demo`` and ``causalcam serve`` read
and write.

- :mod:`~causalcam.files.inputs`: files and folders become scans (images, DICOM, NIfTI;
  :func:`gather`, :class:`Reading`), unreadable ones skipped with their reason;
- :mod:`~causalcam.files.source`: the model to explain with (:class:`ModelSource`;
  :func:`load_model_source` for ``--model``, :func:`user_model_source` for ``--arch`` /
  ``--factory`` with ``--weights``);
- :mod:`~causalcam.files.settings`: :class:`ExplainSettings`, how files are explained (set
  once, the files given at the call);
- :mod:`~causalcam.files.explain`: :func:`explain_files`, :func:`load_images`;
- :mod:`~causalcam.files.outputs`: panels, overlays, ``.npy`` maps and ``explanations.json``
  (:class:`ImageWriter`, :func:`write_summary`, shared with the sharded run);
- :mod:`~causalcam.files.disclaimer`: the research-use notice every output carries;
- :mod:`~causalcam.files.demo`: :func:`run_demo`, the bundled scans with the bundled model;
  :func:`run_volume_demo`, a generated volume with the bundled 3-D network.
"""

from .demo import DEFAULT_DEMO_OUT, run_demo, run_volume_demo
from .disclaimer import research_notice, short_notice
from .explain import (
    BATCH_SIZE,
    as_source,
    collect_images,
    explain_files,
    load_images,
    model_sized,
    parse_contrast_class,
)
from .inputs import IMAGE_SUFFIXES, Inputs, Reading, Scan, Skipped, gather
from .outputs import (
    ExplainRun,
    ImageWriter,
    map_statistics,
    unique_name,
    write_summary,
)
from .settings import DEFAULT_METHODS, ExplainSettings, check_methods
from .source import ModelSource, UserModel, load_model_source, user_model_source

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_DEMO_OUT",
    "DEFAULT_METHODS",
    "IMAGE_SUFFIXES",
    "ExplainRun",
    "ExplainSettings",
    "ImageWriter",
    "Inputs",
    "ModelSource",
    "Reading",
    "Scan",
    "Skipped",
    "UserModel",
    "as_source",
    "check_methods",
    "collect_images",
    "explain_files",
    "gather",
    "load_images",
    "load_model_source",
    "map_statistics",
    "model_sized",
    "parse_contrast_class",
    "research_notice",
    "run_demo",
    "run_volume_demo",
    "short_notice",
    "unique_name",
    "user_model_source",
    "write_summary",
]
