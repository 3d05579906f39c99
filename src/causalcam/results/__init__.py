"""Typed results with a JSON form: what the stages of a reproduction, the ablation and the
seed study write, and what the report reads back. Standard library only, so the report
reads them without importing any computation.

- :mod:`.ablation`: :class:`Estimate`, :class:`AblationRow`, :class:`SeedRow`,
  :class:`Choice`, :class:`AblationTable`, :class:`SeedTable`;
- :mod:`.stages`: one result class per stage of ``causalcam reproduce``;
- :mod:`.localisation`: the localisation table (map mass inside the lungs);
- :mod:`.volumes`: the lesion-mass table of a 3-D network on generated volumes;
- :mod:`.metrics`: the explanation metrics and sanity checks;
- :mod:`.weights`: :class:`WeightsRecord`, the record of a committed network;
- :class:`JsonForm`: the one converter that gives each of them (and the typed results of
  other packages) its JSON form from its fields.
"""

from ._json import JsonForm, check_format, from_jsonable, json_codec, to_jsonable
from .ablation import (
    SANITY_TAU,
    AblationRow,
    AblationTable,
    Choice,
    Estimate,
    SeedRow,
    SeedTable,
    Spread,
)
from .localisation import (
    LocalisationResult,
    LocalisationRow,
    LocalisationStageResult,
)
from .stages import (
    STAGE_FORMAT,
    STAGE_RESULTS,
    STAGE_VERSIONS,
    CurvePoints,
    CurvesResult,
    NetworkRow,
    QualitativeResult,
    RiseRow,
    RiseStageResult,
    SummaryRow,
    TrainResult,
    TransferRecord,
    TransferResult,
    gain_text,
    read_stage,
)
from .volumes import LesionMassResult, LesionMassRow
from .weights import WEIGHTS_FORMAT, WeightsRecord

__all__ = [
    "SANITY_TAU",
    "STAGE_FORMAT",
    "STAGE_RESULTS",
    "STAGE_VERSIONS",
    "WEIGHTS_FORMAT",
    "AblationRow",
    "AblationTable",
    "Choice",
    "CurvePoints",
    "CurvesResult",
    "Estimate",
    "JsonForm",
    "LesionMassResult",
    "LesionMassRow",
    "LocalisationResult",
    "LocalisationRow",
    "LocalisationStageResult",
    "NetworkRow",
    "QualitativeResult",
    "RiseRow",
    "RiseStageResult",
    "SeedRow",
    "SeedTable",
    "Spread",
    "SummaryRow",
    "TrainResult",
    "TransferRecord",
    "TransferResult",
    "WeightsRecord",
    "check_format",
    "from_jsonable",
    "gain_text",
    "json_codec",
    "read_stage",
    "to_jsonable",
]
