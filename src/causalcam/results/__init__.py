"""Typed results with a JSON form: what the stages of a reproduction, the ablation and the
seed study write, and what the report reads back. Standard library only, so the report
reads them without importing any computation.

- :mod:`.ablation`: :class:`Estimate`, :class:`AblationRow`, :class:`SeedRow`,
  :class:`Choice`, :class:`AblationTable`, :class:`SeedTable`;
- :mod:`.stages`: one result class per stage of ``causalcam reproduce``.
"""

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
from .stages import (
    STAGE_FORMAT,
    STAGE_RESULTS,
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
)

__all__ = [
    "SANITY_TAU",
    "STAGE_FORMAT",
    "STAGE_RESULTS",
    "AblationRow",
    "AblationTable",
    "Choice",
    "CurvePoints",
    "CurvesResult",
    "Estimate",
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
]
