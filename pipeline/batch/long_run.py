"""One long video across many workers: `python -m pipeline LONG.mp4 --workers N` (N > 1) or
`--ray [ADDRESS]`, the single run's flags and outputs (`-o OUT.zip`, `--video OUT.mp4`).

    for event in run_segmented("shift.mp4", settings, workers=4):   # Progress..., Result

The checks of a single run come first (outputs, photos, audio, disk); then the video is cut
into segments (segments.py), handed to the workers (local processes: workers.py; Ray
actors: ray.py) with only its path, and the parts are joined (join.py) into one ZIP and
one MP4 under `.partial` names, renamed when complete. A video shorter than two segments,
a Drive link, a follow-cam run (its crop is smoothed over the whole video), a run that
writes the per-person record, or `--segment-s 0` is the plain single run, in this process.
The parts live in a hidden folder beside the output (the shared folder Ray needs), removed
at the end whatever happens. A worker that dies is replaced and only its segment redone
(the pools' retries); a segment that fails fails the video with one line naming its time
range; a cancelled run (`cancel`, or closing the generator) leaves nothing.
"""
from __future__ import annotations

import math
import queue
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

from ..audio.plan import audio_edit, audio_notes, check_audio_against, check_audio_request
from ..errors import Cancelled, InputError, Message, OutputError
from ..events import COMPLETED, NO_PERSON_WARNING, Progress, Result, hdr_note
from ..identity.stage import Identity
from ..io.disk import ensure_free_space, estimate_output_bytes
from ..io.outputs import check_outputs
from ..io.source import looks_like_link
from ..io.video import probe_video
from ..jobs.audit_step import audit_and_report
from ..jobs.runner import _inputs, default_output, run
from .join import join_videos, join_zips
from .plan import JobOptions
from .segments import SegmentItem, plan_segments, segment_items

POLL_S = 0.25
STOP_WAIT_S = 30.0


class _PoolThread(threading.Thread):
    """Runs the pool's loop (it blocks) and passes lines and progress to the generator. The
    pool is started and stopped by the generator's thread (Ray's init wants that one)."""

    def __init__(self, pool, items: list[SegmentItem]):
        super().__init__(name="mosaic-segments", daemon=True)
        self.pool, self.items = pool, items
        self.lines: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.read: dict[int, int] = {}  # segment -> its progress, global frame index + 1

    def run(self) -> None:
        try:
            for item, line in self.pool.run(self.items, self._progress):
                self.lines.put((item, line))
                if line.get("status") != "done" or self.stop.is_set():
                    break  # a failed segment fails the video: the others stop too
        except BaseException as err:  # noqa: BLE001 - handed to the generator, raised there
            self.lines.put((None, err))
        finally:
            self.lines.put((None, None))

    def _progress(self, slot: int, item, frames_read: int, frames_total: int) -> None:
        if self.stop.is_set():
            raise Cancelled("Cancelled; partial output removed")
        self.read[item.index] = frames_read


def _local_pool(workers: int, settings, work: Path):
    from .workers import LocalPool

    return lambda: LocalPool(workers, settings, JobOptions(work_dir=str(work)))


def _ray_pool(address: str, workers: int | None, settings, work: Path):
    from .ray import RayPool

    warn = lambda text: print(f"warning: {text}", file=sys.stderr)  # noqa: E731
    return lambda: RayPool(None if address == "local" else address, workers, settings,
                           JobOptions(work_dir=str(work)), work, warn)


def run_segmented(source: str | Path, settings, output: str | Path | None = None,
                  video_output: str | Path | None = None, cancel: threading.Event | None = None,
                  workers: int | None = None, ray: str | None = None,
                  max_download_bytes: int | None = None) -> Iterator[Progress | Result]:
    """The single run's events and Result, over segments on `workers` local processes, or
    on Ray when `ray` is an address ("local": a Ray of this machine only)."""
    cancel = cancel or threading.Event()
    text = str(source).strip()
    # the follow-cam crop is smoothed, and the per-person record written, over the whole video: not split
    whole = settings.follow or settings.people_record is not None
    if looks_like_link(text) or not settings.segment_s or whole or (ray is None and (workers or 1) < 2):
        yield from run(source, settings, output=output, video_output=video_output, cancel=cancel,
                       max_download_bytes=max_download_bytes)
        return
    started = time.monotonic()
    video_path = Path(text).expanduser()
    output = Path(output) if output else default_output(video_path)
    check_audio_request(settings, video_output is not None, False)
    check_outputs(_inputs(video_path, settings), [output] + ([video_output] if video_output else []))
    Identity.for_settings(settings)  # face photos: missing, unreadable, no face -> now
    yield Progress(stage="probing", elapsed_s=time.monotonic() - started,
                   message=Message("Reading video", "progress.probing"))
    info = probe_video(video_path)
    segments = plan_segments(info, settings, looks_at_pixels=settings.detections_csv is None) \
        if video_path.suffix.lower() != ".avi" else None  # AVI: frames are counted, never seeked
    if segments is None:
        yield from run(source, settings, output=output, video_output=video_output, cancel=cancel,
                       max_download_bytes=max_download_bytes)
        return
    check_audio_against(settings, info.duration_s)
    ensure_free_space(output.parent, 2 * estimate_output_bytes(info, settings, video_output is not None))
    work = output.parent.resolve() / f".{output.name}.segments-{uuid.uuid4().hex[:8]}"
    try:
        work.mkdir(parents=True)
    except OSError as err:
        raise OutputError(f"Cannot make a working folder in {output.parent}: {err.strerror or err}") from err
    try:
        items = segment_items(segments, video_path, info, work, video_output is not None)
        make_pool = _ray_pool(ray, workers, settings, work) if ray is not None else \
            _local_pool(workers, settings, work)
        parts = yield from _run_parts(make_pool, items, info, cancel, started)
        yield from join_and_audit(parts, items, info, settings, video_path, output, video_output, work, started, cancel)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _progress_of(items: list[SegmentItem], read: dict[int, int], done: dict[int, dict], total: int) -> int:
    frames = 0
    for item in items:
        seg = item.segment
        end = seg.own_end if seg.own_end is not None else max(total, seg.own_start)
        if item.index in done:
            frames += end - seg.own_start
        else:
            frames += min(max(read.get(item.index, 0) - seg.own_start, 0), end - seg.own_start)
    return frames


def _run_parts(make_pool, items: list[SegmentItem], info, cancel: threading.Event, started: float):
    """The segments' summaries, in order (a generator of Progress: `yield from` gives them)."""
    done: dict[int, dict] = {}
    with make_pool() as engine:
        yield from _collect(_PoolThread(engine, items), items, info, cancel, started, done)
    return check_parts(items, done)


def _collect(pool: _PoolThread, items, info, cancel: threading.Event, started: float, done: dict[int, dict]):
    pool.start()
    try:
        while True:
            try:
                item, line = pool.lines.get(timeout=POLL_S)
            except queue.Empty:
                if cancel.is_set():
                    raise Cancelled("Cancelled; partial output removed") from None
                frames = _progress_of(items, pool.read, done, info.frame_count)
                elapsed = time.monotonic() - started
                fps = frames / max(elapsed, 1e-6)
                yield Progress(stage="processing", frames_read=frames, frames_total=info.frame_count,
                               images_expected=0, elapsed_s=elapsed, fps=fps,
                               eta_s=(info.frame_count - frames) / fps if fps > 0 else None,
                               message=f"{len(done)}/{len(items)} segments done")
                continue
            if item is None and line is None:
                break
            if item is None:
                raise line
            if line.get("status") != "done":
                span = item.label.rsplit(" ", 1)[-1]
                raise InputError(f"{Path(item.source).name}: the segment {span} failed: {line.get('error')}")
            done[item.index] = line
    finally:
        pool.stop.set()
        pool.join(STOP_WAIT_S)


def check_parts(items, done):
    if len(done) != len(items):
        raise Cancelled("Cancelled; partial output removed")
    for item in items:  # every frame of every segment, once: a missing range is named
        seg, line = item.segment, done[item.index]
        want = None if seg.own_end is None else seg.own_end - seg.own_start
        if line["owned_frames"] == 0 or (want is not None and line["owned_frames"] != want):
            raise InputError(f"{Path(item.source).name}: the segment {item.label.rsplit(' ', 1)[-1]} could not be "
                             f"read whole ({line['owned_frames']} of {want or 'its'} frames decoded)")
    return [done[item.index] for item in items]


def join_and_audit(parts, items, info, settings, video_path: Path, output: Path, video_output, work: Path,
                   started: float, cancel: threading.Event | None = None) -> Iterator[Progress | Result]:
    """The parts joined, then the whole video's outputs looked at again and its report
    written, as a single run ends: Progress events, then the Result."""
    joined, track_ids = yield from join_parts(parts, items, info, settings, video_path, output, video_output,
                                              work, started)
    yield from audit_and_report(joined, video_path, info, settings, left_visible(parts, track_ids),
                                cancel or threading.Event(), started)


def join_parts(parts, items, info, settings, video_path: Path, output: Path, video_output, work: Path, started):
    yield Progress(stage="finishing", elapsed_s=time.monotonic() - started,
                   message=Message("Joining the segments", "progress.csv"))
    clock = time.monotonic()
    fixed = frozenset()
    if settings.detections_csv is not None:  # its ids are the reviewer's: kept
        from ..detect.detector import ReplayDetector

        fixed = frozenset(ReplayDetector(settings.detections_csv, (info.width, info.height), info.frame_count).track_ids)
    joined_ids: dict = {}
    zip_path, images, rows, reason = join_zips(parts, output, settings.max_bytes, settings.max_images, work, fixed,
                                               joined_ids, settings.face_match)
    video_path_out, video_frames = None, 0
    try:
        if video_output is not None:
            yield Progress(stage="finishing", elapsed_s=time.monotonic() - started,
                           message=Message("Adding the audio to the video", "progress.audio"))
            video_frames = join_videos(parts, video_path, Path(video_output), audio_edit(settings))
            video_path_out = Path(video_output)
    except BaseException:
        zip_path.unlink(missing_ok=True)
        raise
    seconds: dict[str, float] = {}
    for part in parts:
        for stage, value in part["seconds"].items():
            seconds[stage] = seconds.get(stage, 0.0) + value
    seconds["join"] = time.monotonic() - clock
    frames = sum(part["owned_frames"] for part in parts)
    notes = list(dict.fromkeys(note for part in parts for note in part.get("notes", ())))  # said once
    warnings = notes + ([NO_PERSON_WARNING] if rows == 0 else []) + ([hdr_note(info.hdr)] if info.hdr else [])
    warnings += audio_notes(settings, info.has_audio, video_output is not None)
    result = Result(zip_path=zip_path, video=info, images_written=images,
                 images_expected=math.ceil(info.frame_count / settings.interval), frames_read=frames,
                 people_found=sum(part["people"] for part in parts), zip_bytes=zip_path.stat().st_size,
                 stop_reason=reason, stopped_at_frame=None, stopped_at_s=None,
                 elapsed_s=time.monotonic() - started, stage_seconds=seconds, frames_promised=info.frame_count,
                 video_path=video_path_out, video_frames=video_frames, warnings=tuple(warnings),
                 model=parts[0].get("model"))
    return result, joined_ids


def left_visible(parts: list[dict], joined_ids: dict) -> dict:
    """Frame -> the boxes the segments left visible on purpose, with their joined track ids."""
    import numpy as np

    shown = {}
    for number, part in enumerate(parts):
        for index, boxes in part.get("left_visible", {}).items():
            ids = np.array([joined_ids.get((number, int(t)), int(t)) if t else 0 for t in boxes.track_id], np.int32)
            shown[index] = boxes.with_tracks(ids)
    return shown
