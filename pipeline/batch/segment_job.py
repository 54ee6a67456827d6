"""One segment of a long video, run on a worker: decode only its range, detect over the range
and its overlaps, render and write only the frames it owns.

`read_range` seeks to the keyframe at or before the first frame of the range and decodes
from there, dropping what comes before; frames keep their global index (from their
timestamps), so captures, image names and detections.csv rows are those of a single run.
`SegmentJob` is FileJob with that reader, the owned frames passed on after the detect stage
(so the hold and look-ahead see the overlaps, but nothing outside is rendered), and a video
sink that writes its own H.264 stream without audio (segments.py joins them; the audio is
added once, over the whole track). No B-frames in a segment's encode: every segment then
starts on a keyframe and its decode order is its display order, so the parts join by copying
packets.
"""
from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av

from ..errors import InputError, OutputError
from ..io.video import DECODE_THREAD_TYPE, DECODE_THREADS, Frame, upright
from ..io.video_sink import VideoSink
from ..io.zip_sink import ZipSink
from ..io.outputs import as_output_error
from ..jobs.budget import REREAD_DECODE_THREADS
from ..jobs.engine import END
from ..jobs.file_job import FileJob
from ..settings import ENCODES

SEEK_BACK_S = (0.0, 5.0, 30.0)  # a demuxer that lands after the target is asked again, earlier
TAIL_KINDS = ("detected", "manual")  # rows beyond a segment's end that tie its tracks to the next's


def clock(seconds: float) -> str:
    """12.5 -> '0:12.50', 3725 -> '1:02:05.00'."""
    hours, rest = divmod(max(seconds, 0.0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:05.2f}" if hours else f"{int(minutes)}:{secs:05.2f}"


def read_range(path: str | Path, first: int, end: int | None, fps: float, wanted=lambda index: True,
               size: tuple[int, int] | None = None, threads: int = DECODE_THREADS) -> Iterator[Frame]:
    """Frames `first` to `end` (excluded; None: to the end of the file), as read_frames would
    give them. A gap or repeat in the frame timing (variable frame rate) is refused: frame
    numbers would not be those of a single run."""
    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise InputError(f"Cannot open {path.name}: {err}") from err
    with container:
        stream = container.streams.video[0]
        stream.thread_type, stream.thread_count = DECODE_THREAD_TYPE, threads
        start = stream.start_time or 0
        time_base = stream.time_base or Fraction(1, 1)
        for back_s in SEEK_BACK_S if first > 0 else (None,):
            if back_s is not None:
                target = start + int(max(first / fps - back_s, 0.0) / time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            decoded = container.decode(stream)
            head = next(_from(decoded, start, time_base, fps, first), None)
            if head is None or head[0] == first or back_s == SEEK_BACK_S[-1]:
                break
        if head is None:
            return
        expected = first
        for index, time_s, picture in _chain(head, _from(decoded, start, time_base, fps, first)):
            if end is not None and index >= end:
                return
            if index != expected:
                raise InputError(f"{path.name} has uneven frame timing near {clock(time_s)} (frame {index} where "
                                 f"{expected} was due): it cannot be split into segments; run it with --segment-s 0")
            image = None
            if wanted(index):
                rotation = int(picture.rotation or 0)
                if size is None:
                    image = picture.to_ndarray(format="bgr24")
                else:
                    width, height = size if rotation % 180 == 0 else size[::-1]
                    image = picture.reformat(width=width, height=height, format="bgr24",
                                             interpolation="AREA").to_ndarray()
                image = upright(image, rotation)
            yield Frame(index=index, time_s=time_s, image=image)
            expected += 1


def _from(decoded, start, time_base, fps: float, first: int):
    """(index, time, picture) of the decoded pictures from frame `first` on."""
    for picture in decoded:
        if picture.pts is None:
            raise InputError("A frame without a timestamp: this file cannot be split into segments; "
                             "run it with --segment-s 0")
        time_s = max(float((picture.pts - start) * time_base), 0.0)
        index = round(time_s * fps)
        if index >= first:
            yield index, time_s, picture


def _chain(head, rest):
    yield head
    yield from rest


class SegmentVideoSink(VideoSink):
    """A segment's H.264 stream, no audio, no B-frames; close() only finishes the file."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stream.options = {**self._stream.options, "bf": "0"}
        self.first_time_s: float | None = None

    def write(self, image, time_s: float) -> None:
        super().write(image, time_s)
        if self.first_time_s is None:
            self.first_time_s = time_s

    def close(self, dest: str | Path | None = None, trim_audio: bool = False) -> Path:
        dest = self.path if dest is None else Path(dest)
        try:
            self._finish_encoding()
            os.replace(self.video_partial, dest)
        except (OSError, av.FFmpegError) as err:
            self.abort()
            raise OutputError(f"Finishing the video segment failed: {err}") from err
        return dest


class SegmentJob(FileJob):
    """FileJob over frames [read_start, read_end), rendering only [own_start, own_end)."""

    def __init__(self, segment, *args, **kwargs):
        self.segment = segment
        super().__init__(*args, **kwargs)
        if self.reread is not None:  # large frames decoded again to be masked: only the frames it owns
            self.reread.open_frames = lambda: read_range(
                self.video_path, segment.own_start, segment.own_end, self.info.fps, wanted=self._wanted,
                threads=REREAD_DECODE_THREADS)
        self.tail_rows: list[list[str]] = []  # boxes on the next segment's frames, for joining tracks
        self.owned_frames = 0

    def _owns(self, index: int) -> bool:
        seg = self.segment
        return index >= seg.own_start and (seg.own_end is None or index < seg.own_end)

    def _frames(self):
        """Its range only (FileJob's reader does the rest), counting the frames it owns as they
        are read, captured or not."""
        seg = self.segment
        frames = read_range(self.video_path, seg.read_start, seg.read_end, self.info.fps, wanted=self._wanted,
                            size=None if self.plan.detect_full else self.plan.detect_size,
                            threads=REREAD_DECODE_THREADS if self.plan.reread else DECODE_THREADS)
        with contextlib.closing(frames):
            for frame in frames:
                self.owned_frames += self._owns(frame.index)
                yield frame

    def _pass(self, ready) -> None:
        for frame, detections in ready:
            if self._owns(frame.index):
                self.engine.put(self.detected, (frame, detections))
            elif self.segment.own_end is not None and frame.index >= self.segment.own_end:
                self.tail_rows += [row for row in self.renderer.rows(frame, detections) if row[9] in TAIL_KINDS]

    def _detect(self) -> None:
        for batch in self.engine.batches(self.decoded, self.plan.batch):
            self._pass(self.detect.push(batch))
            self.stage_seconds["detect"] = self.detect.seconds
        self._pass(self.detect.flush())
        self.engine.put(self.detected, END)

    def _open_sinks(self) -> None:
        with as_output_error():
            self.sink = ZipSink(self.output, self.settings.max_bytes, temp_dir=self.job_dir)
            if self.video_output is not None:
                self.video_sink = SegmentVideoSink(self.video_output, self.video_path, *self.renderer.video_size,
                                                   self.info.fps, self.info.time_base,
                                                   preset=ENCODES[self.settings.encode])

    def summary(self, result) -> dict:
        """What the driver needs to join this segment (a plain dict: it crosses processes)."""
        return {"status": "done", "segment": self.segment.number, "zip": str(result.zip_path),
                "video": str(result.video_path) if result.video_path else None,
                "owned_frames": self.owned_frames, "video_frames": result.video_frames,
                "first_time_s": self.video_sink.first_time_s if self.video_sink else None,
                "images": result.images_written, "people": result.people_found,
                "tail_rows": self.tail_rows, "seconds": dict(result.stage_seconds),
                "stop_reason": result.stop_reason, "model": result.model,
                "notes": [str(note) for note in self.model_notes],  # the bundled model ran in place of YOLO
                # boxes left visible on purpose on the frames it owns: not findings for the audit
                "left_visible": {i: d for i, d in self.detect.left_visible.items() if self._owns(i)},
                # each person's face descriptors (memory only, never written): people are grouped
                # over the whole video when the parts are joined
                "faces": self.detect.identity.people.faces() if self.detect.identity is not None else {}}
