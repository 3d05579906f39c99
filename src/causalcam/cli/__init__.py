"""The ``causalcam`` command line (typer). Every command wraps one importable function.

``app`` is the typer application; :func:`main` is the console-script entry point.
"""

from __future__ import annotations

# the commands are listed in the order they are registered
# isort: off
from . import explain as _explain  # noqa: F401 - registers demo, explain
from . import training as _training  # noqa: F401 - registers train, pretrain, train-all
from . import pipeline as _pipeline  # noqa: F401 - registers evaluate, ..., data
from . import serve as _serve  # noqa: F401 - registers serve
from . import benchmark as _benchmark  # noqa: F401 - registers benchmark ground-truth
from . import weights as _weights  # noqa: F401 - registers weights export, retrain

# isort: on
from ._app import app


def main() -> None:
    """Run the command line (``causalcam = causalcam.cli:main``)."""
    app(prog_name="causalcam")


__all__ = ["app", "main"]
