"""Evaluation of explanation maps (paper Sec. 4; docs/method.md, "Evaluation protocol").

- :func:`huffman_bits`, :func:`huffman_ratio`: exact Huffman code lengths of grey scans.
- :func:`run_deletion_insertion`: threshold deletion/insertion curves (accuracy vs H) for any
  set of map functions and target models, cached and resumable under an output folder;
  :func:`evaluate_maps` the same for maps already computed (with an explicit cache key).
- :func:`summarize`: accuracy at matched H, bits saved vs Grad-CAM, AUC, bootstrap CIs.
- :func:`transference_table`: the paper's Tables 1-2.
- :func:`rise_auc`: RISE probability deletion/insertion AUC (agrees with torchcam).
- :func:`write_evaluation`: curves and summary as CSV + JSON, accuracy-vs-H plots as PNG.
"""

from ..network import Network, as_network
from .huffman import huffman_bits, huffman_bits_from_histograms, huffman_ratio, masked_bits
from .outputs import write_evaluation
from .rise import RiseResult, RiseSettings, rise_auc, rise_baseline, rise_curves
from .settings import DEFAULT_THRESHOLDS, MODES, EvaluationSettings, validate_thresholds
from .summary import DEFAULT_H_VALUES, accuracy_at_h, h_at_accuracy, summarize
from .tables import curve_rows, rows_to_csv, write_rows
from .threshold import (
    Curve,
    EvaluateMaps,
    MapFn,
    compute_maps,
    evaluate_maps,
    run_deletion_insertion,
)
from .transference import TRANSFER_THRESHOLDS, TransferenceTable, transference_table

__all__ = [
    "DEFAULT_H_VALUES",
    "DEFAULT_THRESHOLDS",
    "MODES",
    "TRANSFER_THRESHOLDS",
    "Curve",
    "EvaluateMaps",
    "EvaluationSettings",
    "MapFn",
    "Network",
    "RiseResult",
    "RiseSettings",
    "TransferenceTable",
    "accuracy_at_h",
    "as_network",
    "compute_maps",
    "curve_rows",
    "evaluate_maps",
    "h_at_accuracy",
    "huffman_bits",
    "huffman_bits_from_histograms",
    "huffman_ratio",
    "masked_bits",
    "rise_auc",
    "rise_baseline",
    "rise_curves",
    "rows_to_csv",
    "run_deletion_insertion",
    "summarize",
    "transference_table",
    "validate_thresholds",
    "write_evaluation",
    "write_rows",
]
