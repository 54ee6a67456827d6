"""The live output: H.264 into a file (.mp4, .mkv) or onto a stream URL, with PyAV.

Encoded for low delay (x264 zerolatency: no B-frames, no look-ahead, so a frame leaves
the encoder as it goes in). An MP4 is fragmented at every keyframe (2 s), so even a run
that is killed leaves a playable file; it is written as `<name>.partial` and renamed on a
clean close. Stream URLs: rtmp -> FLV, rtsp -> RTSP, udp/srt -> MPEG-TS.
"""
from __future__ import annotations

import contextlib
import os
import urllib.parse
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..errors import OutputError
from .sink import Sink, next_pts

FILE_FORMATS = {".mp4": "mp4", ".mkv": "matroska"}
URL_FORMATS = {"rtmp": "flv", "rtmps": "flv", "rtsp": "rtsp", "udp": "mpegts", "srt": "mpegts"}
MP4_OPTIONS = {"movflags": "+frag_keyframe+empty_moov+default_base_moof"}
TIME_BASE = Fraction(1, 90000)


def is_url(target: str) -> bool:
    return "://" in str(target)


def check_target(target: str) -> None:
    """Refuse an output this sink cannot write, before anything starts."""
    if is_url(target):
        scheme = urllib.parse.urlsplit(target).scheme.lower()
        if scheme not in URL_FORMATS:
            raise OutputError(f"Cannot stream to '{target[:100]}': use an {', '.join(URL_FORMATS)} URL")
    elif Path(target).suffix.lower() not in FILE_FORMATS:
        raise OutputError(f"The output {target} must end in {' or '.join(FILE_FORMATS)} (or be a stream URL)")


class StreamSink(Sink):
    """`sink.write(bgr, time_s)` for each frame (times increasing), then `close()`."""

    def __init__(self, target: str, width: int, height: int, fps: float, crf: int = 23):
        check_target(target)
        self.target, self.frames = str(target), 0
        self.width, self.height = width + width % 2, height + height % 2  # yuv420p: even sizes
        self.final: Path | None = None
        self._last_pts: int | None = None
        if is_url(target):
            fmt, options = URL_FORMATS[urllib.parse.urlsplit(target).scheme.lower()], {}
            url = target if fmt != "mpegts" or "pkt_size" in target else _with_query(target, "pkt_size=1316")
        else:
            self.final = Path(target)
            fmt = FILE_FORMATS[self.final.suffix.lower()]
            options = MP4_OPTIONS if fmt == "mp4" else {}
            url = str(self.final.with_name(self.final.name + ".partial"))
        self._url = url
        rate = Fraction(fps or 30).limit_denominator(1000)
        try:
            if self.final is not None:
                self.final.parent.mkdir(parents=True, exist_ok=True)
            self._out = av.open(url, mode="w", format=fmt, options=options)
            self._stream = self._out.add_stream("libx264", rate=rate)
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = "yuv420p"
            self._stream.time_base = TIME_BASE
            self._stream.codec_context.time_base = TIME_BASE
            self._stream.options = {"preset": "veryfast", "tune": "zerolatency", "crf": str(crf),
                                    "g": str(max(1, round(2 * float(rate))))}
        except (OSError, av.FFmpegError) as err:
            self.abort()
            raise OutputError(f"Cannot write {target}: {getattr(err, 'strerror', None) or err}") from err
        except BaseException:  # Ctrl-C while opening: no one holds this sink to abort it
            self.abort()
            raise

    def write(self, image: np.ndarray, time_s: float) -> None:
        height, width = image.shape[:2]
        if (width, height) != (self.width, self.height):
            image = cv2.copyMakeBorder(image, 0, self.height - height, 0, self.width - width, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        pts = self._last_pts = next_pts(time_s, TIME_BASE, self._last_pts)
        frame.pts, frame.time_base = pts, TIME_BASE
        try:
            for packet in self._stream.encode(frame):
                self._out.mux(packet)
        except (OSError, av.FFmpegError) as err:
            raise OutputError(f"Writing {self.target} failed: {getattr(err, 'strerror', None) or err}") from err
        self.frames += 1

    def close(self) -> str:
        """Flush the encoder, finish the container, give the file its name; returns it."""
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            self._out.close()
            if self.final is not None:
                os.replace(self._url, self.final)
        except (OSError, av.FFmpegError) as err:
            self.abort()
            raise OutputError(f"Finishing {self.target} failed: {getattr(err, 'strerror', None) or err}") from err
        return str(self.final) if self.final is not None else self.target

    def abort(self) -> None:
        """Close without the final name (never raises: it runs on the way out of an error)."""
        with contextlib.suppress(Exception):
            self._out.close()


def _with_query(url: str, extra: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit(parts._replace(query=query))
