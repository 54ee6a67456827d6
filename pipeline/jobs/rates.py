"""Frames shown and frames detected per second over the last stretch: the stats line of the
Live tab's two paths (the JPEG stream and WebRTC)."""
from __future__ import annotations

import collections
import time


class RateWindow:
    """Record (time, detections so far) as frames are shown; `rates()` reads the window."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._seen: collections.deque = collections.deque()

    def add(self, detected: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._seen.append((now, detected))
        while self._seen and self._seen[0][0] < now - self.window_s:
            self._seen.popleft()

    def rates(self) -> tuple[float, float]:
        """(frames shown per second, frames detected per second) over the window."""
        if len(self._seen) < 2:
            return 0.0, 0.0
        (t0, d0), (t1, d1) = self._seen[0], self._seen[-1]
        span = max(t1 - t0, 1e-6)
        return (len(self._seen) - 1) / span, (d1 - d0) / span
