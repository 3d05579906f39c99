"""Optional dependencies: import them with a message naming the extra that installs them."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import CausalCamError


class MissingExtraError(CausalCamError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


#: Which extra installs which module.
EXTRAS: dict[str, str] = {
    "pydicom": "medical",
    "nibabel": "medical",
    "fastapi": "app",
    "uvicorn": "app",
    "selenium": "dev",
    "skimage": "localisation",
    "scipy": "localisation",
    "timm": "models",
    "safetensors": "models",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS.get(module.partition(".")[0], module)
        raise MissingExtraError(
            f"{purpose} needs {module}, which is not installed: pip install 'causalcam[{extra}]'"
        ) from error


def installed(extra: str) -> bool:
    """Whether every module that ``extra`` installs can be imported here."""
    modules = [module for module, name in EXTRAS.items() if name == extra]
    return bool(modules) and all(importlib.util.find_spec(m) is not None for m in modules)
