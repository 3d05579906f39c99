"""Error types shared by the whole package.

Every error a user can cause (bad input, bad data, bad option) derives from
:class:`CausalCamError`, so the command line can print it as one clear line
without a traceback. Subclasses also derive from the builtin exception a caller
would naturally catch (``ValueError``, ``FileNotFoundError``).
"""

from __future__ import annotations


class CausalCamError(Exception):
    """Base class of every user-facing causalcam error."""


class InputError(CausalCamError, ValueError):
    """An argument (tensor, option, class index, layer name) is not acceptable."""


class DataError(CausalCamError, ValueError):
    """A data set, split file or image on disk is missing, malformed or corrupt."""


class CheckpointError(CausalCamError, ValueError):
    """A checkpoint cannot be read, or does not match what was asked for."""
