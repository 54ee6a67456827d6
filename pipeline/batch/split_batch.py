"""A batch's long videos split into segments, as one long video is (long_run.py), so one long
video and many short ones keep every worker busy.

    for item, line in batch_runs(engine, todo, settings, progress, split=True): ...

With several workers (`--workers N`, N > 1, or `--ray`), each local video at least two
`--segment-s` long becomes one task per segment, its parts in a hidden folder beside its
outputs in OUT_DIR; the long videos' segments go first, so the short videos fill the tail.
When a video's last segment is in, its parts are joined into its planned outputs (join.py)
and its summary line is yielded, as a whole video's would be. A failed segment fails its
video (one line naming the range); the others go on. Anything that cannot be planned here
(a link, an unreadable file, an AVI, a follow-cam run) runs whole, as before, and reports
its own error.
"""
from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import MosaicError
from ..events import Result
from .long_run import check_parts, join_and_audit
from .plan import Item, failed_line
from .segments import SegmentItem, plan_segments, segment_items


@dataclass
class _Split:
    item: Item
    info: object
    work: Path
    parts: list[SegmentItem]
    started: float = field(default_factory=time.monotonic)
    done: dict = field(default_factory=dict)
    read: dict = field(default_factory=dict)
    finished: bool = False


def _plan(item: Item, settings, first_index: int) -> _Split | None:
    from ..audio.plan import check_audio_against
    from ..io.source import looks_like_link
    from ..io.video import probe_video

    if looks_like_link(item.source) or item.zip_path is None or Path(item.source).suffix.lower() == ".avi" \
            or settings.follow or settings.people_record is not None:
        return None
    try:
        info = probe_video(item.source)
        check_audio_against(settings, info.duration_s)
    except MosaicError:
        return None  # the whole run reports it
    segments = plan_segments(info, settings, looks_at_pixels=settings.detections_csv is None)
    if segments is None:
        return None
    work = item.zip_path.parent / f".{item.zip_path.name}.segments-{uuid.uuid4().hex[:8]}"
    try:
        work.mkdir(parents=True)
    except OSError:
        return None
    return _Split(item, info, work, segment_items(segments, Path(item.source), info, work,
                                                  item.video_path is not None, first_index))


def _joined(split: _Split, settings) -> dict:
    try:
        parts = check_parts(split.parts, split.done)
        result = None
        for event in join_and_audit(parts, split.parts, split.info, settings, Path(split.item.source),
                                    split.item.zip_path, split.item.video_path, split.work, split.started):
            if isinstance(event, Result):
                result = event
        return {"input": split.item.label, "status": "done", **result.summary()}
    except MosaicError as err:
        return failed_line(split.item, str(err))
    finally:
        shutil.rmtree(split.work, ignore_errors=True)


def batch_runs(engine, items: list[Item], settings, progress, split: bool) -> Iterator[tuple[Item, dict]]:
    """engine.run(items, progress), with the long videos split when `split`."""
    if not split or not settings.segment_s:
        yield from engine.run(items, progress)
        return
    whole, first, splits = [], [], []
    next_index = max((item.index for item in items), default=0) + 1
    for item in items:
        planned = _plan(item, settings, next_index)
        if planned is None:
            whole.append(item)
        else:
            splits.append(planned)
            first += planned.parts
            next_index += len(planned.parts)
    owner = {part.index: s for s in splits for part in s.parts}

    def relay(slot: int, task, frames_read: int, frames_total: int) -> None:
        video = owner.get(task.index)
        if video is None:
            return progress(slot, task, frames_read, frames_total)
        video.read[task.index] = max(0, frames_read - task.segment.own_start)
        owned = sum(video.read.values()) + sum(p["owned_frames"] for p in video.done.values())
        progress(slot, video.item, owned, video.info.frame_count)

    try:
        for task, line in engine.run(first + whole, relay):
            video = owner.get(task.index)
            if video is None:
                yield task, line
            elif not video.finished and line.get("status") != "done":
                video.finished = True
                span = task.label.rsplit(" ", 1)[-1]
                yield video.item, failed_line(video.item, f"the segment {span} failed: {line.get('error')}")
            elif not video.finished:
                video.done[task.index] = line
                video.read.pop(task.index, None)
                if len(video.done) == len(video.parts):
                    video.finished = True
                    yield video.item, _joined(video, settings)
    finally:
        for video in splits:
            with contextlib.suppress(OSError):
                shutil.rmtree(video.work, ignore_errors=True)
