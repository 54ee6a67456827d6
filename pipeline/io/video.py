"""Reading videos: probe facts into a VideoInfo, then decode frames in order.

PyAV decodes every frame anyway (a stream cannot skip without decoding), so a frame we do
not capture costs only its decode: we never convert it to BGR and never seek.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..errors import InputError

DECODE_THREAD_TYPE = "AUTO"  # frame + slice threads inside the decoder
DECODE_THREADS = 0  # 0 = FFmpeg's choice (one per core, plus one)
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video stream. fps stays a float: 23.976 is not 23."""

    width: int  # upright size, after rotation metadata is applied
    height: int
    fps: float
    frame_count: int  # from the header or estimated from the duration; 0 when unknown
    duration_s: float
    rotation: int  # degrees the stored picture is turned to be shown upright
    codec: str
    has_audio: bool
    time_base: Fraction | None = None  # of the video stream; the video output keeps it
    hdr: str | None = None  # "PQ" or "HLG" when the source is HDR (we output SDR, not tone mapped)

    @property
    def resolution(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass
class Frame:
    """One decoded frame. `image` is BGR uint8, or None when it was not asked for."""

    index: int  # position in the stream, from 0
    time_s: float
    image: np.ndarray | None


def _open(path: Path) -> "av.container.InputContainer":
    if not path.exists():
        raise InputError(f"Input file not found: {path}", key="err.not_found")
    if path.stat().st_size == 0:
        raise InputError(f"Input file is empty: {path.name}", key="err.empty_file", values={"name": path.name})
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"Not a readable video: {path.name} ({_short(err)})", key="err.not_video",
                         values={"name": path.name, "detail": _short(err)}) from err
    if not container.streams.video:
        container.close()
        raise InputError(f"No video stream in {path.name}", key="err.no_video_stream", values={"name": path.name})
    return container


def _short(err: Exception) -> str:
    if getattr(err, "strerror", None):  # FFmpeg errors: "Invalid data found when processing input"
        return str(err.strerror)
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


def probe_video(path: str | Path) -> VideoInfo:
    """Open the file and decode its first frame, so a file that is not a playable video
    fails here, before any heavy work."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        duration_s = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        frame_count = int(stream.frames or 0) or int(round(duration_s * fps))
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as err:
            raise InputError(f"Cannot decode {path.name}: {_short(err)}", key="err.cannot_decode",
                             values={"name": path.name, "detail": _short(err)}) from err
        if first is None:
            raise InputError(f"{path.name} has no readable frames", key="err.no_frames", values={"name": path.name})
        rotation = int(first.rotation or 0) % 360 if hasattr(first, "rotation") else 0
        transfer = getattr(first, "color_trc", None) or stream.codec_context.color_trc
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            frame_count=frame_count,
            duration_s=duration_s,
            rotation=rotation,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
            time_base=stream.time_base,
            hdr=HDR_TRANSFERS.get(int(transfer or 0)),
        )


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded picture by its display-matrix rotation (counter-clockwise degrees)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def read_frames(path: str | Path, wanted=lambda index: True, size: tuple[int, int] | None = None,
                threads: int = DECODE_THREADS) -> Iterator[Frame]:
    """Decode every frame in stream order; convert to BGR only those `wanted(index)` asks
    for. Times come from presentation timestamps, so variable frame rate is exact.
    With `size` (upright width, height), the BGR images are small copies scaled by FFmpeg
    in the same pass as the colour conversion (area filter): what a detector needs from a
    4K frame, without ever holding the 4K BGR picture. `threads`: decoder threads (0 =
    FFmpeg's choice); each frame thread holds a picture of its own."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = DECODE_THREAD_TYPE
        stream.thread_count = threads
        start = stream.start_time or 0
        time_base = stream.time_base or Fraction(1, 1)
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        # AVI is constant-rate and its pts can come out of order (packed B-frames): count frames.
        use_pts = "avi" not in container.format.name.split(",")
        index = 0
        try:
            for decoded in container.decode(stream):
                if use_pts and decoded.pts is not None:
                    time_s = float((decoded.pts - start) * time_base)
                else:
                    time_s = index / fps
                image = None
                if wanted(index):
                    rotation = int(decoded.rotation or 0)
                    if size is None:
                        image = decoded.to_ndarray(format="bgr24")
                    else:  # the stored picture is turned by 90 or 270: its sides swap
                        width, height = size if rotation % 180 == 0 else size[::-1]
                        image = decoded.reformat(width=width, height=height, format="bgr24",
                                                 interpolation="AREA").to_ndarray()
                    image = upright(image, rotation)
                yield Frame(index=index, time_s=max(time_s, 0.0), image=image)
                index += 1
        except av.FFmpegError as err:
            if index == 0:
                raise InputError(f"Cannot decode {path.name}: {_short(err)}", key="err.cannot_decode",
                                 values={"name": path.name, "detail": _short(err)}) from err
            # A truncated tail: keep what decoded, like every player does.
            return
        if index == 0:
            raise InputError(f"{path.name} has no readable frames", key="err.no_frames", values={"name": path.name})
