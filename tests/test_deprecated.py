"""Names that moved keep working from their old module, with a DeprecationWarning."""

from __future__ import annotations

import pytest


def test_packages_keep_their_public_names() -> None:
    from causalcam.report import PAPER_TABLES, build_report, screenshot
    from causalcam.reproduce import (
        PROFILES,
        evaluate_checkpoints,
        get_profile,
        reproduce,
        transfer_checkpoints,
    )

    assert callable(reproduce) and callable(build_report) and callable(screenshot)
    assert callable(evaluate_checkpoints) and callable(transfer_checkpoints)
    assert get_profile("tiny") is PROFILES["tiny"]
    assert set(PAPER_TABLES) == {"resnet18", "resnet34"}
    assert PAPER_TABLES["resnet18"]["huffman"]["gradcam"][0] == pytest.approx(0.7802)
