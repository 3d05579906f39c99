"""Medical image formats: DICOM series and NIfTI volumes (extra ``causalcam[medical]``),
display windows, privacy-safe header facts, and maps written back into volume geometry."""

from .window import DEFAULT_WINDOW, WINDOW_PRESETS, Window, apply_window, parse_window

__all__ = ["DEFAULT_WINDOW", "WINDOW_PRESETS", "Window", "apply_window", "parse_window"]
