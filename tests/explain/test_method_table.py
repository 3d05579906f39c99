"""The method table: one entry per name of ``METHOD_NAMES``, each with its formula; every
gradient method comes from the one forward pass and one batched VJP, the family adding one
vector (Finer-CAM's score) to the six maps' and none when only the explained score is
needed; EigenCAM and RandomCAM need no VJP."""

from __future__ import annotations

import pytest
from explain_helpers import random_inputs, tiny_cnn
from test_state import Spy

from causalcam.errors import InputError
from causalcam.explain import METHOD_NAMES, METHODS, ONE_PASS_METHODS, PAPER_MAPS, Explainer


def test_one_entry_per_name_each_with_its_formula() -> None:
    assert tuple(METHODS) == METHOD_NAMES
    assert set(PAPER_MAPS) < set(ONE_PASS_METHODS) < set(METHOD_NAMES)
    for name, entry in METHODS.items():
        assert entry.name == name and len(entry.formula) > 20, name
    assert [n for n, e in METHODS.items() if e.forwards] == ["scorecam"]


def test_family_costs_one_vjp_with_one_more_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    net, x = tiny_cnn(num_classes=5), random_inputs(3, 16)
    spy = Spy(monkeypatch)
    Explainer(net).explain(x, methods=PAPER_MAPS)
    Explainer(net).explain(x, methods=ONE_PASS_METHODS)
    family = ("gradcam", "hirescam", "gradcam_elementwise", "xgradcam", "layercam")
    Explainer(net).explain(x, methods=(*family, "eigengradcam", "gradcam++"))
    Explainer(net).explain(x, methods=("eigencam", "randomcam"))
    # the six maps: e_P, S p, S e_P, S e_Q; the one-pass family adds Finer-CAM's score and
    # contrast_ce's softmax and e_Q
    assert [s[0] for s in spy.shapes] == [4, 7, 1]


def test_unknown_method_lists_the_table() -> None:
    with pytest.raises(InputError, match="scorecam"):
        Explainer(tiny_cnn()).explain(random_inputs(1, 16), methods=("gradcam+++",))
