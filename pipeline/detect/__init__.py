"""Detection: the detector interface, the detect stage, and the full-resolution tile scan."""
