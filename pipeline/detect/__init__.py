"""Finding people in frames: the Detector interface, the CSV replay, the detect stage (detector, tracking, hold,
scene cuts), the full-resolution tile scan of the detail level (tiles, closer, scan), and the stride
(which frames a file run looks at)."""
