"""Scene cuts, found cheaply: a cut ends every track and every held box.

Without it ByteTrack hands the id of a man at the end of one shot to whoever stands in
the same place after the cut, and the hold covers (or, with a track left visible, uncovers)
the wrong person there. Each frame is shrunk to THUMB pixels; a cut is a frame whose colour
histogram AND whose thumbnail both differ from the previous frame's by more than a pan, a
zoom or someone walking through ever does: histograms alone miss a cut between two shots
of the same colours, pixel differences alone fire on fast motion. So a cut is a large pixel
difference that either comes with new colours or is a spike, SPIKE times the recent
differences (a cut to another angle of the same scene, or to its mirror image, keeps the
colours). Colours that change almost wholly (HIST_ALONE) are a cut even at the same grey
levels.

Measured on every frame: within the sample clip's panned and zoomed shots
(ui/assets/faces_clip.mp4) the histogram distance stays <= 0.036 and the thumbnail difference
<= 12.9 (of 255), in tests/data/vtest_3s.mp4 (people walking) <= 0.015 and <= 2.9; across the
sample clip's three cuts they are 0.227-0.455 and 45-72. The thresholds sit between. A cut
from zidane.jpg to its mirror image (tests/identity_clips.py) is 0.033 and 47, after
differences of at most 5.3 within the shot.
"""
from __future__ import annotations

import cv2
import numpy as np

THUMB = (64, 36)  # (width, height)
BINS = 16
HIST_CUT = 0.12  # half the L1 distance of the normalised per-channel histograms, 0..1
PIXEL_CUT = 20.0  # mean absolute difference of the grey thumbnails, 0..255
HIST_ALONE = 0.5  # colours this different are a cut whatever the grey levels do
SPIKE = 3.0  # a pixel difference this many times the recent ones is a cut without new colours
RECENT = 5  # frames the recent differences are averaged over


def _signature(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    thumb = cv2.resize(image, THUMB, interpolation=cv2.INTER_AREA)
    hist = np.concatenate([np.bincount(thumb[..., c].ravel() // (256 // BINS), minlength=BINS)
                           for c in range(thumb.shape[2])]).astype(np.float32)
    hist /= thumb.shape[0] * thumb.shape[1]
    grey = cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return hist, grey


class CutDetector:
    """is_cut(image) on each frame in stream order: True on the first frame of a new shot."""

    def __init__(self, hist_cut: float = HIST_CUT, pixel_cut: float = PIXEL_CUT):
        self.hist_cut, self.pixel_cut = hist_cut, pixel_cut
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        self._size: tuple[int, ...] | None = None  # the last frame's (h, w): another size is a cut
        self._recent: list[float] = []  # the last RECENT pixel differences

    def measure(self, image: np.ndarray) -> tuple[float, float]:
        """(histogram distance, pixel difference) from the previous frame; (0, 0) on the first."""
        now = _signature(image)
        last, self._last = self._last, now
        if last is None:
            return 0.0, 0.0
        channels = now[0].shape[0] // BINS
        hist = float(np.abs(now[0] - last[0]).sum()) / (2 * channels)
        return hist, float(np.abs(now[1] - last[1]).mean())

    def is_cut(self, image: np.ndarray) -> bool:
        resized = self._size is not None and image.shape[:2] != self._size  # a live stream rescaled
        self._size = image.shape[:2]
        hist, pixels = self.measure(image)
        recent = max(2.0, sum(self._recent) / len(self._recent)) if self._recent else None
        cut = pixels > self.pixel_cut and (hist > self.hist_cut or (recent is not None and pixels > SPIKE * recent))
        cut = cut or hist > HIST_ALONE or resized
        self._recent = [] if cut else (self._recent + [pixels])[-RECENT:]
        return cut
