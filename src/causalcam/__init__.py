"""causalcam."""
