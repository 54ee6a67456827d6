"""A long video split into segments, one per task, for `--workers N` (N > 1) and `--ray`.

    segments = plan_segments(info, settings, looks_at_pixels=True)   # None: not worth splitting

Segment k owns frames [own_start, own_end) (settings.segment_s long; the last runs to the end
of the file) and reads frames [read_start, read_end): its own plus an overlap on each side at
least as long as what the detect stage needs to decide a frame: the look-ahead (the hold, or
a `--detail full` rolling scan and a skipped frame), the hold behind it, the one second a
track survives a gap (TemporalHold's track_gap), plus one capture interval. A frame near a
boundary is therefore decided from the same frames around it as in a single run.

`SegmentItem` is what the pools (workers.py, ray.py) hand out in place of a batch Item: its
`run()` runs the segment on the worker (model cached there) and returns a plain dict the
driver (long_run.py) joins with join.py.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..detect.scan import look_ahead_s
from ..errors import Cancelled, MosaicError
from ..io.video import VideoInfo
from ..settings import Settings
from .segment_job import clock

TRACK_GAP_S = 1.0  # TemporalHold's track_gap: ids survive a gap this long


@dataclass(frozen=True)
class Segment:
    number: int
    own_start: int
    own_end: int | None  # None: to the end of the file
    read_start: int
    read_end: int | None

    def span(self, fps: float, frame_count: int) -> str:
        """'0:15.00-0:30.00', for messages."""
        end = self.own_end if self.own_end is not None else max(frame_count, self.own_start)
        return f"{clock(self.own_start / fps)}-{clock(end / fps)}"


def overlap_frames(info: VideoInfo, settings: Settings, looks_at_pixels: bool) -> int:
    """Frames each segment reads beyond each of its ends."""
    ahead = look_ahead_s(looks_at_pixels, settings, (info.height, info.width), info.fps)
    return math.ceil(max(ahead, settings.hold_s, TRACK_GAP_S) * info.fps) + settings.interval + 1


def phase_frames(info: VideoInfo, settings: Settings, looks_at_pixels: bool) -> int:
    """A segment's reading starts on a multiple of this: the capture interval and the
    `--detail` scan's rolling tile period (detect/scan.py), so captures and the tiles each
    frame gets are those of a single run from the first overlap on. The frames the stride
    looks at follow what the boxes do (detect/stride.py): a segment settles on a single run's
    within its overlap, and checks every gap either way."""
    from ..detect.scan import SCAN_S, tiles_apply

    phase = settings.interval
    if tiles_apply(looks_at_pixels, settings, (info.height, info.width)):
        scan_s = SCAN_S[settings.detail][int(settings.target != "face")] or 0.0
        phase = math.lcm(phase, max(1, round(scan_s * info.fps)))
    return phase


def plan_segments(info: VideoInfo, settings: Settings, looks_at_pixels: bool,
                  overlap: int | None = None) -> list[Segment] | None:
    """The segments, or None when the video is shorter than two segments (or splitting is
    off, or its length is unknown)."""
    if not settings.segment_s or not info.frame_count or not info.fps:
        return None
    length = max(1, round(settings.segment_s * info.fps))
    count = info.frame_count // length
    if count < 2:
        return None
    overlap = overlap_frames(info, settings, looks_at_pixels) if overlap is None else overlap
    phase = phase_frames(info, settings, looks_at_pixels)
    segments = []
    for number in range(count):
        own_start = number * length
        own_end = None if number == count - 1 else own_start + length
        read_start = max(0, own_start - overlap) // phase * phase
        segments.append(Segment(number, own_start, own_end, read_start, None if own_end is None else own_end + overlap))
    return segments


@dataclass(frozen=True)
class SegmentItem:
    """One segment as a pool's task: the pools read index, label, outputs()."""

    index: int
    source: str  # the input's path: all a worker is sent (it reads its range from the shared folder)
    label: str
    segment: Segment
    zip_path: Path
    video_path: Path | None = None

    def outputs(self) -> list[Path]:
        return [p for p in (self.zip_path, self.video_path) if p is not None]

    def run(self, settings: Settings, options, cancel: threading.Event | None = None,
            on_progress: Callable[[int, int, int], None] | None = None, detector=None) -> dict:
        """Run on the worker. Errors become a failed line naming the time range."""
        try:
            return run_segment(self, settings, options, cancel, on_progress, detector)
        except Cancelled:
            raise
        except MosaicError as err:
            return {"status": "failed", "input": self.label, "error": str(err)}
        except Exception as err:  # noqa: BLE001 - reported as this segment's failure
            return {"status": "failed", "input": self.label,
                    "error": f"Unexpected {type(err).__name__}: {' '.join(str(err).split())[:300]}"}


def run_segment(item: SegmentItem, settings: Settings, options, cancel=None, on_progress=None, detector=None) -> dict:
    from ..detect.detector import ReplayDetector
    from ..detect.scan import tiles_apply
    from ..events import Progress, Result
    from ..identity.stage import Identity
    from ..io.video import probe_video
    from ..jobs.budget import plan_buffers
    from .segment_job import SegmentJob

    started = time.monotonic()
    video_path = Path(item.source)
    info = probe_video(video_path)
    if detector is None:
        if settings.detections_csv is not None:
            detector = ReplayDetector(settings.detections_csv, (info.width, info.height), info.frame_count)
        else:
            from ..models import load_detector  # cached in the worker: loaded once

            detector = load_detector(settings)
    looks = getattr(detector, "looks_at_pixels", False)
    frame_hw = (info.height, info.width)
    plan = plan_buffers(settings, info, make_video=item.video_path is not None,
                        full_detect=tiles_apply(looks, settings, frame_hw),
                        look_ahead_s=look_ahead_s(looks, settings, frame_hw, info.fps))
    job_dir = Path(tempfile.mkdtemp(prefix="mosaic-segment-", dir=options.work_dir if options else None))
    try:
        job = SegmentJob(item.segment, video_path, info, settings, item.zip_path, detector,
                         cancel or threading.Event(), job_dir, started, item.video_path, None, False, plan,
                         Identity.for_settings(settings))
        result = None
        for event in job.execute():
            if isinstance(event, Result):
                result = event
            elif isinstance(event, Progress) and on_progress is not None and event.stage == "processing":
                on_progress(item.index, event.frames_read, event.frames_total)
        return job.summary(result)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def segment_items(segments: list[Segment], video_path: Path, info: VideoInfo, work: Path, video: bool,
                  first_index: int = 0) -> list[SegmentItem]:
    """One task per segment, its parts in `work` (a folder beside the outputs)."""
    return [SegmentItem(first_index + seg.number, str(video_path.resolve()),
                        f"{video_path.name} {seg.span(info.fps, info.frame_count)}", seg,
                        work / f"part{seg.number:05d}.zip", work / f"part{seg.number:05d}.mp4" if video else None)
            for seg in segments]
