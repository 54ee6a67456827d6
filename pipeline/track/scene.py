"""Scene cuts for the live path: whether two frames show the same scene.

A live frame is covered with boxes detected on an earlier frame, moved forward by each
track's motion (motion.py). Across a cut those boxes belong to another picture: the new
shot's faces would be shown uncovered until the next detection. So the live masker
compares each frame with the frame its boxes come from and, across a cut, waits for a
detection of the new shot (frames are dropped meanwhile, never shown uncovered).

The signature is a coarse colour histogram of a small copy of the frame: it hardly moves
when the camera pans, zooms or people walk (the sample clip's pans stay under 0.1 from
frame to frame and under 0.4 over half a second), and jumps at a cut (0.75-1.0 there).
"""
from __future__ import annotations

import cv2
import numpy as np

CUT_DISTANCE = 0.5  # L1 distance between normalized histograms (0 = same, 2 = disjoint)
_SMALL = (64, 48)
_BINS = [4, 4, 4]


def signature(image: np.ndarray) -> np.ndarray:
    """(66,) float32: the share of pixels in each of 4x4x4 colour bins, then the frame's
    height and width, so frames of two sizes are always a cut (a browser's WebRTC encoder
    scales its picture down and up: boxes found at one size land beside the faces at another)."""
    small = cv2.resize(image, _SMALL, interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([small], [0, 1, 2], None, _BINS, [0, 256] * 3).ravel()
    return np.concatenate([hist / max(float(hist.sum()), 1.0), image.shape[:2]]).astype(np.float32)


def is_cut(a: np.ndarray | None, b: np.ndarray | None, limit: float = CUT_DISTANCE) -> bool:
    """Whether frames with signatures a and b are in different shots (unknown: no)."""
    if a is None or b is None:
        return False
    return float(np.abs(a - b).sum()) > limit
