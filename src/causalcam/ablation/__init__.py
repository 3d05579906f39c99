"""The ablation of the causal map's open choices and its repetition over training seeds.

- :mod:`.maps`: every method's maps from one explain pass (:func:`explain_methods`), what
  identifies them in the evaluation store (:func:`cache_keys`), identical maps grouped.
- :mod:`.measure`: :func:`measure_ablation` (every causal variant and Grad-CAM++ against
  Grad-CAM on one network, :class:`AblationSettings`) and :func:`run_ablation` (the same,
  written as ``ablation.{csv,json,md}``).
- :mod:`.seeds`: :func:`run_seed_study`, that ablation over several training seeds.
"""

from .maps import BASELINES, cache_keys, explain_all, explain_methods, identical_groups
from .measure import (
    CPU_THRESHOLDS,
    REFERENCE,
    Ablation,
    AblationResult,
    AblationSettings,
    ablation_csv,
    measure_ablation,
    run_ablation,
    write_ablation,
)
from .seeds import SeedStudy, run_seed_study, seed_table, write_seed_study

__all__ = [
    "BASELINES",
    "CPU_THRESHOLDS",
    "REFERENCE",
    "Ablation",
    "AblationResult",
    "AblationSettings",
    "SeedStudy",
    "ablation_csv",
    "cache_keys",
    "explain_all",
    "explain_methods",
    "identical_groups",
    "measure_ablation",
    "run_ablation",
    "run_seed_study",
    "seed_table",
    "write_ablation",
    "write_seed_study",
]
