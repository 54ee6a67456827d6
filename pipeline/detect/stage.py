"""The detect stage without threads: frames in, each frame's tracked boxes out, in order.

Runs the detector on a batch (in a file run on the frames the stride picks, stride.py, and
then on those between two looks that disagree), gives every box a track id, adds held and
interpolated boxes across misses and skipped frames (TemporalHold, which delays frames by its
look-ahead), and leaves out the tracks the reviewer chose to show. A file run and a live
stream drive the same object.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..errors import MosaicError
from ..identity.stage import Identity
from ..io.video import Frame
from ..mask.unmask import without_tracks
from ..settings import Settings
from ..track.cuts import CutDetector
from ..track.ids import HIGH_MARGIN
from ..track.tracking import TemporalHold
from .detector import Detector, ReplayDetector
from .scan import file_stride, with_detail
from .stride import Stride, bridges


class DetectStage:
    def __init__(self, detector: Detector, settings: Settings, fps: float, look_ahead: bool = True,
                 scale: tuple[float, float] | None = None, identity: Identity | None = None,
                 drop_pixels: bool = False, look_ahead_s: float | None = None,
                 frame_wh: tuple[int, int] | None = None):
        # a file run scans full-resolution tiles as settings.detail asks; a live stream
        # (no look-ahead) keeps to the whole frame: it must not fall behind
        looks = getattr(detector, "looks_at_pixels", False)
        most = file_stride(looks, settings, fps) if look_ahead else 1  # live: every frame it is given
        self.detector = with_detail(detector, settings, fps, most) if look_ahead else detector
        # a ZIP's captures are outputs in their own right: always looked at
        self.stride = Stride(most, settings.captures)
        self.strong = settings.conf + HIGH_MARGIN  # ByteTrack's: a score that may start a track
        self._last_tracked = None  # the last look's boxes, with track ids (bridges)
        self._carry: list[tuple[Frame, bool]] = []  # frames after the last look, and whether each is a cut
        # the frames are full size only for the tiles: the renderer reads them again
        # (budget.py reread), so the look-ahead keeps no pixels
        self.drop_pixels = drop_pixels
        replay = detector if isinstance(detector, ReplayDetector) else None  # its ids and drawn boxes
        # frames given as small copies: boxes scaled back to the full frame before tracking
        # (a replay's boxes are in the full frame already: it never looks at the pixels)
        self.scale = None if replay else scale
        self.image_scale = scale  # full-frame pixels per pixel of the images given (replay too)
        self.hold = TemporalHold(round(settings.hold_s * fps), track_gap=round(fps), conf=settings.conf,
                                 first_id=max(replay.track_ids, default=0) + 1 if replay else 1,
                                 keyframes=replay.keyframes if replay else None, look_ahead=look_ahead,
                                 lead=None if look_ahead_s is None else round(look_ahead_s * fps), bounds=frame_wh,
                                 hull=most)
        self.unmask = settings.unmask_tracks  # track ids the reviewer chose to show
        self.cuts = CutDetector()  # a scene cut ends every track and held box
        self.identity = identity  # people by face; keep-face / only-face (pipeline/identity/)
        self.seconds = 0.0  # time spent in the detector
        # frame -> the boxes left visible on purpose (review ticks, --keep-face / --only-face):
        # the audit (pipeline/audit/) does not count people there as misses
        self.left_visible: dict[int, Detections] = {}

    def push(self, frames: Sequence[Frame], final: bool = False) -> list[tuple[Frame, Detections]]:
        """Detect `frames` (in stream order); returns the frames now ready, with boxes. Frames
        after the stride's last look wait for the next push (`final`: none wait)."""
        fresh = [(frame, self.cuts.is_cut(frame.image)) for frame in frames]  # every frame, in order
        pending, self._carry = self._carry + fresh, []
        indices, cuts = [f.index for f, _ in pending], [c for _, c in pending]
        looks = self.stride.plan(indices, cuts, final)
        if not looks:
            self._carry = pending
            return []
        self._carry, pending = pending[looks[-1] + 1:], pending[:looks[-1] + 1]
        found = dict(zip(looks, self._detect([pending[k][0] for k in looks])))
        filled = self.stride.fill(indices, cuts, looks, [self._sides(found[k]) for k in looks])
        if filled:  # the frames between two looks that disagree
            found.update(zip(filled, self._detect([pending[k][0] for k in filled], between=True)))
        self.stride.learn(indices, cuts, {k: self._sides(d) for k, d in found.items() if d is not None})
        tracked = {}
        for k, (frame, cut) in enumerate(pending):  # in order: a cut ends the tracks before it
            if cut:
                self.hold.cut(frame.index)
            if k in found:
                tracked[k] = self.hold.track(frame.index, found[k])
        ready = []
        before = self._last_tracked
        for k, (frame, cut) in enumerate(pending):
            if k in tracked:
                before = (k, tracked[k])
                if self.identity is not None:
                    self.identity.observe(frame.index, frame.image, tracked[k], self.image_scale)
                shown = tracked[k]
            else:  # not looked at (stride.py): the hold covers it, and the boxes on both sides
                after = next(tracked[j] for j in range(k + 1, len(pending)) if j in tracked)
                shown = bridges(before[1], after) if before is not None and not cut else Detections.empty()
            if self.drop_pixels:  # after every look at the pixels
                frame = Frame(frame.index, frame.time_s, None)
            ready.extend(self.hold.add(frame.index, frame, shown))
        self._last_tracked = (None, tracked[looks[-1]])
        return self._shown(ready)

    def _sides(self, found: Detections) -> tuple[np.ndarray, np.ndarray]:
        """A look's boxes for the stride, and which are weak: scores that only continue a track."""
        return found.xyxy, found.score < self.strong

    def _detect(self, frames: list[Frame], between: bool = False) -> list[Detections | None]:
        clock = time.perf_counter()
        detect = getattr(self.detector, "detect_between", self.detector.detect) if between else self.detector.detect
        found = detect([f.image for f in frames], [f.index for f in frames])
        self.seconds += time.perf_counter() - clock
        if len(found) != len(frames):
            raise MosaicError("The detector returned a wrong number of results")
        if self.scale is not None:
            found = [None if detections is None else detections.scaled(*self.scale) for detections in found]
        return found

    def flush(self) -> list[tuple[Frame, Detections]]:
        """The frames still held back (the stride's, the look-ahead's), at the end of the stream."""
        return self.push([], final=True) + self._shown(self.hold.flush())

    def _shown(self, ready: list[tuple[Frame, Detections]]) -> list[tuple[Frame, Detections]]:
        """After the hold, so a shown track's held and interpolated boxes go too."""
        shown = []
        for frame, detections in ready:
            kept = detections
            if self.identity is not None:
                kept = self.identity.apply(kept)
            if self.unmask:
                kept = without_tracks(kept, self.unmask)
            if len(kept) < len(detections):
                self._note_visible(frame.index, detections, kept)
            shown.append((frame, kept))
        return shown

    def _note_visible(self, index: int, before: Detections, kept: Detections) -> None:
        """Keep the boxes a frame leaves uncovered on purpose (those in `before`, not in `kept`)."""
        gone = ~np.array([any(np.array_equal(box, k) for k in kept.xyxy) for box in before.xyxy], bool)
        self.left_visible[index] = before[gone]
