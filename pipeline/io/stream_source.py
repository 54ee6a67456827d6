"""Live sources: a camera, a network stream or a file, decoded on a thread of its own into a
small buffer that drops its oldest frame when the consumer falls behind.

    feed = open_feed("udp://127.0.0.1:5000", timeout_s=10)   # InputError if nothing comes
    while not feed.done:                                      # feed.ended then says why
        frame = feed.get(0.1)                                 # a StreamFrame (BGR) or None

Frame times are seconds from the first frame by the stream's own timestamps (see _Clock).
A file is read as fast as it decodes unless `realtime` paces it at its own frame rate,
like a camera. A live buffer never holds a frame that waited more than BUFFER_S: the oldest
are dropped when the consumer falls behind. A stream that sends nothing for `timeout_s`
ends the feed as "quiet".
"""
from __future__ import annotations

import collections
import re
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import av

from ..errors import InputError
from .video import Frame, upright

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "srt", "tcp", "rtp")
BUFFER_S = 0.2  # a live frame that waited this long for the consumer is dropped (unless newest)
BUFFER_MAX_S = 2.0  # and never more than this many seconds of frames are held
ENDED, QUIET, FAILED = "source ended", "source went quiet", "source failed"


@dataclass
class StreamFrame(Frame):
    arrived: float = 0.0  # time.monotonic() when it was decoded (or due, for a paced file)


@dataclass(frozen=True)
class SourceSpec:
    url: str  # what av.open gets
    kind: str  # camera | stream | file
    format: str | None = None
    options: tuple = ()

    @property
    def live(self) -> bool:
        return self.kind != "file"


def parse_source(text: str) -> SourceSpec:
    """A camera index (0) or device (/dev/video0), a stream URL, or a video file."""
    text = str(text).strip()
    if re.fullmatch(r"\d+", text):
        if sys.platform == "darwin":
            return SourceSpec(text, "camera", "avfoundation")
        return SourceSpec(f"/dev/video{text}", "camera", "v4l2")
    if text.startswith("/dev/video"):
        return SourceSpec(text, "camera", "v4l2")
    scheme = urllib.parse.urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in STREAM_SCHEMES:
        options = (("analyzeduration", "500000"),)  # probe 0.5 s of stream, not 5: a shorter wait
        if scheme.startswith("rtsp"):
            options += (("rtsp_transport", "tcp"),)
        return SourceSpec(text, "stream", None, options)
    if scheme:
        raise InputError(f"Unsupported source '{text[:100]}': use a camera index or device, a "
                         f"{'/'.join(s for s in STREAM_SCHEMES if not s.endswith('s'))} URL, or a video file")
    if not Path(text).expanduser().is_file():
        raise InputError(f"Input not found: {text} (not a file, a camera index or a stream URL)")
    return SourceSpec(str(Path(text).expanduser()), "file")


def open_feed(source: str, timeout_s: float = 10.0, realtime: bool = False, start: bool = True) -> "FrameFeed":
    """Open the source and (unless `start` is False: then `feed.start()`) start decoding it.
    A source that gives no video within `timeout_s` raises InputError (nothing has been
    written anywhere by then)."""
    spec = parse_source(source)
    try:
        container = av.open(spec.url, format=spec.format, options=dict(spec.options),
                            timeout=None if spec.kind == "file" else (timeout_s, timeout_s))
    except av.ExitError as err:
        raise InputError(f"{source} did not connect within {timeout_s:g} s: no video arrived") from err
    except (av.FFmpegError, OSError, ValueError) as err:
        named = f"camera {source} ({spec.url})" if spec.kind == "camera" and spec.url != source else source
        raise InputError(f"Cannot open {named}: {getattr(err, 'strerror', None) or err}") from err
    if not container.streams.video:
        container.close()
        raise InputError(f"No video stream in {source}")
    feed = FrameFeed(container, spec, timeout_s, realtime or spec.live)
    if start:
        feed.start()
    return feed


class FrameFeed:
    """The decoding thread and its buffer. `get()` returns the next StreamFrame, or None when
    none came within the wait; `done` once the source has ended and every frame was taken."""

    def __init__(self, container, spec: SourceSpec, timeout_s: float, paced: bool):
        self.spec, self.timeout_s, self.paced = spec, timeout_s, paced
        self._container = container
        stream = container.streams.video[0]
        self.fps = float(stream.average_rate or stream.guessed_rate or 0) or 30.0
        self.size = (stream.codec_context.width, stream.codec_context.height)  # (0, 0) if not known yet
        # a live buffer drops its oldest frames; a file run waits for room instead
        self.capacity = max(4, round(self.fps * BUFFER_MAX_S)) if paced else 8
        self.frames_in = 0  # decoded
        self.dropped = 0  # decoded but pushed out of the buffer before anyone took them
        self.damaged = 0  # packets that did not decode
        self.ended: str | None = None  # ENDED | QUIET | FAILED once the source is done
        self.error: str | None = None
        self._buffer: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(container,), name="mosaic-live-read",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def done(self) -> bool:
        with self._cond:
            return self.ended is not None and not self._buffer

    def get(self, wait_s: float) -> StreamFrame | None:
        with self._cond:
            if not self._buffer and self.ended is None:
                self._cond.wait(wait_s)
            if not self._buffer:
                return None
            if self.paced:  # skip what waited too long: latency stays bounded
                too_old = time.monotonic() - BUFFER_S
                while len(self._buffer) > 1 and self._buffer[0].arrived < too_old:
                    self._buffer.popleft()
                    self.dropped += 1
            frame = self._buffer.popleft()
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        """Stop reading. The thread ends at its next frame (or read timeout); it owns the
        container, which is never closed under a read in progress."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        elif self._thread.ident is None:  # never started: the container is still ours to close
            self._container.close()

    def _put(self, frame: StreamFrame) -> None:
        with self._cond:
            if self.paced:
                if len(self._buffer) >= self.capacity:
                    self._buffer.popleft()
                    self.dropped += 1
            else:
                while len(self._buffer) >= self.capacity and not self._stop.is_set():
                    self._cond.wait(0.1)
            self._buffer.append(frame)
            self.frames_in += 1
            self._cond.notify_all()

    def _read(self, container) -> None:
        ended, error = ENDED, None
        try:
            with container:
                ended = self._decode(container)
        except av.ExitError:  # the read timeout: nothing came for timeout_s
            ended = QUIET
        except Exception as err:  # noqa: BLE001 - reported by the caller as one line
            ended, error = FAILED, f"{type(err).__name__}: {getattr(err, 'strerror', None) or err}"
        with self._cond:
            self.ended, self.error = ended, error
            self._cond.notify_all()

    def _decode(self, container) -> str:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE" if self.spec.live else "AUTO"  # frame threads add frames of delay
        clock = _Clock(stream, self.fps)
        first_arrival = None
        index = 0
        for packet in container.demux(stream):
            if self._stop.is_set():
                return ENDED
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                self.damaged += 1  # a lost or broken packet: the next keyframe recovers
                continue
            for picture in decoded:
                now = time.monotonic()
                first_arrival = now if first_arrival is None else first_arrival
                time_s = clock.time_s(picture.pts, index, now)
                if self.paced and not self.spec.live:  # a file at its own rate: wait until it is due
                    due = first_arrival + time_s
                    if due > now:
                        self._stop.wait(due - now)
                        now = due
                image = upright(picture.to_ndarray(format="bgr24"), int(picture.rotation or 0))
                self._put(StreamFrame(index, time_s, image, arrived=now))
                index += 1
        return ENDED


class _Clock:
    """Seconds from the first frame, by the stream's timestamps (when the scene was as
    shown: a burst of frames that waited in a network buffer keeps its spacing), but never
    backwards, and across a jump (a timestamp reset, a wrap, a new sender) by the wall clock."""

    JUMP_S = 1.0

    def __init__(self, stream, fps: float):
        self.time_base, self.fps = stream.time_base, fps
        self.last: tuple[float, float, float] | None = None  # (stream s, wall s, our time_s)

    def time_s(self, pts, index: int, now: float) -> float:
        stream_s = index / self.fps if pts is None or self.time_base is None else float(pts * self.time_base)
        if self.last is None:
            self.last = (stream_s, now, 0.0)
            return 0.0
        last_stream, last_wall, last_time = self.last
        step = stream_s - last_stream
        if not 0 < step <= now - last_wall + self.JUMP_S:
            step = max(now - last_wall, 1e-3)
        self.last = (stream_s, now, last_time + step)
        return last_time + step
