"""The research-use notice every output carries, with the bundled model's measured accuracy."""

from __future__ import annotations

from functools import cache

from ..errors import CausalCamError
from ..models.checkpoint import DEFAULT_MODEL, read_checkpoint


@cache
def bundled_test_accuracy() -> tuple[float, int] | None:
    """Test accuracy and test-set size recorded in the bundled checkpoint (``None`` if absent)."""
    try:
        metrics = read_checkpoint(DEFAULT_MODEL)["meta"].get("metrics", {})
        test = metrics["test"]
        return float(test["accuracy"]), int(test["n"])
    except (CausalCamError, KeyError, TypeError, ValueError):
        return None


def research_notice() -> str:
    """One paragraph: research models, not for clinical use, and the bundled model's accuracy."""
    measured = bundled_test_accuracy()
    accuracy = (
        f"The bundled ResNet-18 classifies {100 * measured[0]:.1f}% of the {measured[1]} "
        "COVID-CT test scans correctly."
        if measured
        else "The bundled model's test accuracy is not recorded in this install."
    )
    return (
        "Research use only: causalcam's models and explanations are research tools, not "
        f"medical devices, and must not be used for diagnosis or treatment. {accuracy}"
    )


def short_notice() -> str:
    """One line for figures: research model, not for clinical use, bundled model's accuracy."""
    measured = bundled_test_accuracy()
    accuracy = f"; bundled model's test accuracy {100 * measured[0]:.1f}%" if measured else ""
    return f"Research use only, not for clinical use{accuracy}."
