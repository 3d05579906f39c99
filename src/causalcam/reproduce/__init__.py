"""The paper end to end: train (or reuse) the five networks, compute the maps, run threshold
deletion/insertion and transference, the ablation, RISE AUCs, qualitative panels, the report.

:func:`reproduce` runs the stages in order inside one run folder::

    run/manifest.json          profile, seed, versions, hardware, data checksum, seconds per stage
    run/models/<arch>/best.pt  the trained networks (causalcam.training; resumable per epoch)
    run/eval/                  the evaluation store (per curve; resumable, reruns compute nothing)
    run/results/<stage>.json   each stage's result, keyed by a fingerprint of its inputs
    run/figures/*.png          Fig. 2a-b curves, Fig. 2c-h and Fig. 3-like panels
    run/report.md, report.html

Modules: :mod:`.profiles` (how much of the protocol a run does), :mod:`.context` (what stages
share), :mod:`.stages` (train, curves, transfer, ablation, RISE), :mod:`.qualitative` (Fig. 2c-h,
Fig. 3 and its scan selection), :mod:`.manifest`, :mod:`.run` (the orchestration), and the back
ends of ``causalcam evaluate`` (:mod:`.evaluate`) and ``causalcam transfer`` (:mod:`.transfer`).
"""

from ..method_names import CURVE_METHODS
from .context import RunContext, RunSettings, TestSet, load_network, load_test_set, method_functions
from .evaluate import evaluate_checkpoints
from .manifest import hardware
from .profiles import PROFILES, Profile, get_profile, with_archs
from .qualitative import stage_qualitative
from .run import NETWORK_STAGES, STAGES, NetworkStage, default_variant, reproduce
from .stages import (
    TRANSFER_SOURCES,
    stage_ablation,
    stage_curves,
    stage_rise,
    stage_train,
    stage_transfer,
)
from .transfer import transfer_checkpoints

__all__ = [
    "CURVE_METHODS",
    "NETWORK_STAGES",
    "PROFILES",
    "STAGES",
    "TRANSFER_SOURCES",
    "NetworkStage",
    "Profile",
    "RunContext",
    "RunSettings",
    "TestSet",
    "default_variant",
    "evaluate_checkpoints",
    "get_profile",
    "hardware",
    "load_network",
    "load_test_set",
    "method_functions",
    "reproduce",
    "stage_ablation",
    "stage_curves",
    "stage_qualitative",
    "stage_rise",
    "stage_train",
    "stage_transfer",
    "transfer_checkpoints",
    "with_archs",
]
