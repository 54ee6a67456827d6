"""Finding people in frames: the Detector interface, the CSV replay, and the detect stage (detector, tracking, hold, scene cuts)."""
