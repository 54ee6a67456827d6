"""Track ids: ultralytics' BYTETracker, plus an id for every box it does not output.

Why ultralytics' BYTETracker: ultralytics is already our detector's dependency, so it adds
only `lap` (its assignment solver), and it takes plain numpy boxes. supervision's ByteTrack
is deprecated (since supervision 0.28) in favour of Roboflow's `trackers` package, which
would be one more young dependency for the same algorithm. ByteTrack's second association
step (tracks matched to low-score detections) is what keeps a partly occluded person on one
track: we set its low threshold below our confidence, so every detection we mask can take
part, and let only detections within HIGH_MARGIN of the confidence do no more than continue
a track.

A detection ByteTrack does not output (a new, unconfirmed track, a low score that matched
nothing, a track it dropped at once) keeps the id of a recent box it continues (_near),
else gets an id of its own: a small face detected at low scores while it moves fast stays
one track instead of one per frame.
"""
from __future__ import annotations

import contextlib
import threading
from types import SimpleNamespace

import numpy as np

from ..errors import MosaicError

HIGH_MARGIN = 0.1  # scores in [conf, conf + this) only continue tracks (ByteTrack's 2nd step)
LOOSE_IOU = 0.5  # an untracked detection keeps the id of a box this close (IoU) on a recent frame,
LOOSE_SHIFT = 0.5  # or of one it moved from by at most this share of its size, at about its size
LOOSE_FRAMES = 3  # recent: boxes of the last this many frames looked at


def _require_lap() -> None:
    """BYTETracker may be imported only once `lap` is known to import: ultralytics' matching
    module otherwise pip-installs lap at run time, which must never happen on a user's machine."""
    try:
        import lap

        assert lap.__version__
    except (ImportError, AssertionError, AttributeError) as err:
        raise MosaicError("Tracking needs the 'lap' package: pip install -r requirements.txt") from err


class _Boxes:
    """The numpy view of detections BYTETracker reads: conf, cls, xywh, boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray):
        self.xyxy, self.conf, self.cls = xyxy, conf, cls

    @property
    def xywh(self) -> np.ndarray:
        return np.concatenate([(self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2, self.xyxy[:, 2:] - self.xyxy[:, :2]], 1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, keep) -> "_Boxes":
        return _Boxes(self.xyxy[keep], self.conf[keep], self.cls[keep])


def _import_tracker() -> None:
    with contextlib.suppress(Exception):  # the same import on the detector's thread reports any error
        import ultralytics.trackers.byte_tracker  # noqa: F401


def preload() -> None:
    """Import the tracker now, in this thread (ultralytics and torch: seconds): a live run does
    it before its source is opened, whose frames would otherwise pile up meanwhile and be
    dropped as too old once the run starts."""
    _require_lap()
    _import_tracker()


def _near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) closeness: IoU, raised to LOOSE_IOU where box a is box b moved by at
    most LOOSE_SHIFT of b's size, both sides within 2/3-3/2 of b's (a small face moving fast
    overlaps its last box by less than LOOSE_IOU)."""
    from ultralytics.utils.metrics import bbox_ioa

    iou = bbox_ioa(a, b, iou=True)
    size_a, size_b = a[:, None, 2:] - a[:, None, :2], b[None, :, 2:] - b[None, :, :2]
    shift = np.abs((a[:, None, :2] + a[:, None, 2:]) - (b[None, :, :2] + b[None, :, 2:])) / 2
    ratio = size_a / np.maximum(size_b, 1e-6)
    moved = ((shift <= LOOSE_SHIFT * size_b) & (ratio >= 2 / 3) & (ratio <= 3 / 2)).all(-1)
    return np.where(moved, np.maximum(iou, LOOSE_IOU), iou)


class ByteTrackIds:
    """update(index, xyxy, score, class_id) -> one track id per box (N,), none of them 0.

    Frames are counted by their stream index (ByteTrack's own frame counter is set to it), so
    `max_gap` is in source frames whatever frames are skipped. Ids come from our own counter
    starting at `first_id`, so they never collide with ids a replayed CSV already uses; the
    tracker is created (and ultralytics imported) only when the first box arrives."""

    def __init__(self, max_gap: int, conf: float = 0.2, first_id: int = 1):
        _require_lap()  # at the start of a run, not after minutes of work
        # ultralytics (torch) takes 1-2 s to import: begun now, beside the model's compile and
        # the decoder, not on the detector's thread when the first box arrives
        threading.Thread(target=_import_tracker, name="tracker import", daemon=True).start()
        self.max_gap, self.conf = max(1, max_gap), conf
        self._tracker = None
        self._next_id = max(1, first_id)
        self._recent: list[tuple[int, np.ndarray, int]] = []  # (id, box, frame): the last LOOSE_FRAMES frames

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def ready(self) -> None:
        """Create the tracker now (importing ultralytics takes seconds): a live stream must
        not pay for it on its first detection, where it would stall every frame behind it."""
        if self._tracker is None:
            self._tracker = self._make()

    def _make(self):
        high = min(self.conf + HIGH_MARGIN, 0.9)
        args = SimpleNamespace(track_high_thresh=high, track_low_thresh=self.conf / 2, new_track_thresh=high,
                               track_buffer=self.max_gap, match_thresh=0.8, fuse_score=True)
        from ultralytics.trackers.byte_tracker import BYTETracker  # only now: lap is there (see _require_lap)

        return BYTETracker(args)

    def reset(self) -> None:
        """A scene cut: every track ends; the next box starts a new one (ids keep counting)."""
        self._tracker = None
        self._recent = []

    def update(self, index: int, xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray) -> np.ndarray:
        ids = np.zeros(len(xyxy), np.int32)
        if self._tracker is None:
            if not len(xyxy):
                return ids
            self._tracker = self._make()
        tracker = self._tracker
        tracker.frame_id = index  # update() adds 1: frames are counted by stream index
        tracker.update(_Boxes(np.asarray(xyxy, np.float32), np.asarray(score, np.float32),
                              np.asarray(class_id, np.float32)))
        for track in tracker.tracked_stracks:  # confirmed and new (unconfirmed) tracks alike
            if track.frame_id == tracker.frame_id and track.idx is not None:
                if getattr(track, "mosaic_id", None) is None:  # our id, on the track object itself
                    track.mosaic_id = self._new_id()
                ids[int(track.idx)] = track.mosaic_id
        # low scores that matched nothing (and tracks ByteTrack dropped at once): masked all the
        # same, and they keep the id of a recent box they continue, of any track not on this frame
        loose = np.flatnonzero(ids == 0)
        taken = set(ids.tolist())
        recent = [(t, b) for t, b, _ in self._recent if t not in taken]
        if len(loose) and recent:
            overlap = _near(np.asarray(xyxy, np.float32)[loose], np.array([b for _, b in recent], np.float32))
            for row, d in enumerate(loose):
                best = int(np.argmax(overlap[row]))
                if overlap[row, best] >= LOOSE_IOU:
                    ids[d] = recent[best][0]
                    overlap[:, best] = -1  # one detection per previous id
        for d in loose:
            if ids[d] == 0:
                ids[d] = self._new_id()
        kept = {t: (b, f) for t, b, f in self._recent if index - f < LOOSE_FRAMES}
        kept.update((int(t), (np.asarray(b, np.float32), index)) for t, b in zip(ids, xyxy))
        self._recent = [(t, b, f) for t, (b, f) in kept.items()]
        return ids
