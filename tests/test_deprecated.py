"""Names that moved keep working from their old module, with a DeprecationWarning."""

from __future__ import annotations

import pytest

import causalcam.core
import causalcam.demo
import causalcam.explain_files

MOVED = [
    "IMAGE_SUFFIXES",
    "DEFAULT_METHODS",
    "ModelSource",
    "ExplainRun",
    "load_model_source",
    "collect_images",
    "load_images",
    "parse_contrast_class",
    "check_methods",
    "explain_files",
    "map_statistics",
]


@pytest.mark.parametrize("name", MOVED)
def test_demo_aliases_warn_and_return_the_moved_object(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"causalcam.explain_files.{name}"):
        value = getattr(causalcam.demo, name)
    assert value is getattr(causalcam.explain_files, name)


def test_demo_resolve_device_alias() -> None:
    with pytest.warns(DeprecationWarning, match="causalcam.core.resolve_device"):
        from causalcam.demo import resolve_device
    assert resolve_device is causalcam.core.resolve_device


def test_unknown_names_still_fail() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = causalcam.demo.no_such_name  # type: ignore[attr-defined]


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
