"""Mosaicked video output: H.264/yuv420p MP4 with +faststart that plays in every browser,
the source's timestamps (so frame count, rate and duration match, variable rate included)
and its audio: copied when it is AAC or MP3, otherwise re-encoded to AAC.

Frames are encoded into `<name>.video.partial` as they come; `close()` muxes that with the
source audio into `<name>.partial` and renames it, so nothing half-written is ever left
under the final name.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..audio.voice import AudioEdit, edited_track
from ..errors import OutputError
from .sink import Sink, next_pts

COPYABLE_AUDIO = {"aac", "mp3"}  # plays in MP4 in every browser as-is
AAC_BITRATE = 160_000


LARGE_FRAME_PIXELS = 1920 * 1088  # above 1080p, x264's own buffers are bounded
LARGE_FRAME_LOOKAHEAD = 5
LARGE_FRAME_THREADS = 2
# Up to 1080p: one x264 frame thread per core, not x264's own 1.5 per core. Beside the
# decoder's threads and one inference stream per core, 3 frame threads on 2 cores measured
# slower: a 300-frame 1080p --video run took 24.0 s wall / 41.6 CPU-s with x264's choice and
# 21.2 s / 37.8 with 2 threads (medians of 3 alternating rounds; docs/speed.md, "Thread budget").
# 0 = x264's choice.
X264_THREADS = os.cpu_count() or 0


def x264_options(width: int, height: int, crf: int, preset: str = "veryfast") -> dict[str, str]:
    """x264 settings for a frame size. Up to 1080p: veryfast as it is (its 10-frame
    rate-control look-ahead; frame threads: X264_THREADS). Above it every buffered frame is
    12+ MB (and x264 keeps several planes of each), so the look-ahead is cut to 5 frames,
    the frame threads to 2 and B-frames are left out. Measured encoding 60 frames of the
    4K clip (benchmarks/results): x264's own memory 578 MB as veryfast is, 475 MB with the
    look-ahead cut, 318 MB without B-frames too, which also took 8.5 CPU-s instead of 11.6,
    for the same file size (3.4 MB) at the same CRF."""
    options = {"crf": str(crf), "preset": preset}
    if width * height > LARGE_FRAME_PIXELS:
        options["rc-lookahead"] = str(LARGE_FRAME_LOOKAHEAD)
        options["bf"] = "0"
    return options


class VideoSink(Sink):
    """`with VideoSink(path, source, width, height, fps, time_base) as sink: sink.write(img, pts)`."""

    def __init__(self, path: str | Path, source: str | Path, width: int, height: int,
                 fps: float, time_base: Fraction | None, crf: int = 20, audio: AudioEdit | None = None,
                 preset: str = "veryfast"):
        self.path = Path(path)
        self.audio = audio or AudioEdit()  # keep: the source's audio packets as they are
        self.source = Path(source)
        self.video_partial = self.path.with_name(self.path.name + ".video.partial")
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.frames = 0
        # yuv420p needs even sizes: pad one edge row/column rather than crop picture away
        self.width, self.height = width + width % 2, height + height % 2
        self._last_pts = None
        self._yuv: np.ndarray | None = None  # the I420 buffer each frame is converted into
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = av.open(str(self.video_partial), mode="w", format="mp4")
            rate = Fraction(fps).limit_denominator(100_000) if fps else Fraction(25)
            self._rate = rate
            self._stream = self._out.add_stream("libx264", rate=rate)
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = "yuv420p"
            self._stream.time_base = time_base or (1 / rate)
            self._stream.codec_context.time_base = self._stream.time_base
            self._stream.options = x264_options(self.width, self.height, crf, preset)
            if self.width * self.height > LARGE_FRAME_PIXELS:
                self._stream.codec_context.thread_count = LARGE_FRAME_THREADS
            elif X264_THREADS:
                self._stream.codec_context.thread_count = X264_THREADS
        except (OSError, av.FFmpegError) as err:
            self.abort()
            raise OutputError(f"Cannot write video {self.path.name}: {err}") from err
        except BaseException:  # Ctrl-C while opening: no one holds this sink to abort it
            self.abort()
            raise

    def write(self, image: np.ndarray, time_s: float) -> None:
        """Encode one BGR frame shown at `time_s` (seconds from the start)."""
        height, width = image.shape[:2]
        if (width, height) != (self.width, self.height):
            image = cv2.copyMakeBorder(image, 0, self.height - height, 0, self.width - width, cv2.BORDER_REPLICATE)
        # BGR -> I420 by OpenCV (SIMD, into a reused buffer), not by PyAV's from_ndarray("bgr24")
        # and the encoder's own swscale pass: the 1080p encode step took ~39 ms of CPU a frame
        # instead of ~48 (docs/speed.md).
        # Both use the BT.601 limited-range matrix x264 gets by default: the same picture
        # (mean difference 0.5 levels, from rounding and chroma averaging).
        if self._yuv is None:
            self._yuv = np.empty((self.height * 3 // 2, self.width), np.uint8)
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=self._yuv), format="yuv420p")
        self._time_base = self._stream.time_base  # the muxer may have changed it: end_s reads it after close
        pts = self._last_pts = next_pts(time_s, self._time_base, self._last_pts)
        frame.pts, frame.time_base = pts, self._time_base
        try:
            for packet in self._stream.encode(frame):
                self._out.mux(packet)
        except (OSError, av.FFmpegError) as err:
            raise OutputError(f"Encoding the video failed: {err}") from err
        self.frames += 1

    @property
    def end_s(self) -> float | None:
        """When the last written frame stops showing (None before any frame)."""
        if self._last_pts is None:
            return None
        return float(self._last_pts * self._time_base + 1 / self._rate)

    def _finish_encoding(self) -> None:
        """Flush x264 and close the file, then let the encoder go: x264 keeps its buffers
        (~290 MB at 4K) for as long as its context lives, and the audit runs after this."""
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()
        self._out = self._stream = self._yuv = None

    def close(self, dest: str | Path | None = None, trim_audio: bool = False) -> Path:
        """Finish the video, add the audio and move it into place: `self.path`, or `dest`
        (a run stopped by the user keeps its video under a name marked partial). With
        `trim_audio` the audio ends with the last frame, for a run that stopped early."""
        dest = self.path if dest is None else Path(dest)
        try:
            self._finish_encoding()
            _mux_with_audio(self.video_partial, self.source, self.partial, self.end_s if trim_audio else None,
                            self.audio)
            os.replace(self.partial, dest)
        except (OSError, av.FFmpegError) as err:
            self.abort()
            raise OutputError(f"Finishing the video failed: {err}") from err
        finally:
            self.video_partial.unlink(missing_ok=True)
        return dest

    def abort(self) -> None:
        """Drop the working files; safe to call more than once, never raises (it runs on the
        way out of another error, which must stay the one reported)."""
        steps = (lambda: self._out.close(), lambda: self.video_partial.unlink(missing_ok=True),
                 lambda: self.partial.unlink(missing_ok=True))
        for step in steps:
            with contextlib.suppress(Exception):
                step()


def _mux_with_audio(video_path: Path, source: Path, out_path: Path, audio_until_s: float | None = None,
                    edit: AudioEdit | None = None) -> None:
    """Copy the encoded video and add the source's first audio track, interleaved by time;
    audio from `audio_until_s` on is left out. With an `edit` that changes the audio, the
    track is re-encoded with it applied (audio/voice.py)."""
    with av.open(str(video_path)) as video_in, av.open(str(source)) as source_in, \
            av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        video_stream = video_in.streams.video[0]
        tracks = [_timed(video_in.demux(video_stream), out.add_stream_from_template(video_stream))]
        if source_in.streams.audio:
            if edit is not None and edit.changes:
                out_audio, audio_packets = edited_track(source_in.streams.audio[0], source_in, out, edit)
            else:
                out_audio, audio_packets = _audio_track(source_in.streams.audio[0], source_in, out)
            audio = _timed(audio_packets, out_audio)
            if audio_until_s is not None:
                audio = itertools.takewhile(lambda item: item[0] < audio_until_s, audio)
            tracks.append(audio)
        # Each track is already in time order: merge them lazily, never the whole file in memory.
        for _, packet, stream in heapq.merge(*tracks, key=lambda item: item[0]):
            packet.stream = stream
            out.mux(packet)


def _timed(packets, stream):
    """(time in seconds, packet, output stream) for each packet that has a timestamp."""
    for packet in packets:
        if packet.dts is not None:
            yield float(packet.dts * packet.time_base), packet, stream


def _audio_track(audio_in, source_in, out):
    """The output audio stream (made now, before the header is written) and its packets:
    copied when the codec plays in MP4 everywhere, else re-encoded to AAC."""
    if audio_in.codec_context.name in COPYABLE_AUDIO:
        return out.add_stream_from_template(audio_in), source_in.demux(audio_in)
    rate = audio_in.codec_context.sample_rate or 48000
    out_audio = out.add_stream("aac", rate=rate)
    out_audio.bit_rate = AAC_BITRATE
    layout = "stereo" if (audio_in.codec_context.channels or 2) >= 2 else "mono"
    out_audio.layout = layout
    return out_audio, _aac_packets(audio_in, source_in, out_audio, rate, layout)


def _aac_packets(audio_in, source_in, out_audio, rate: int, layout: str):
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate,
                                  frame_size=out_audio.codec_context.frame_size or 1024)
    counter = [0]  # samples encoded so far
    for packet in source_in.demux(audio_in):
        try:
            frames = packet.decode()
        except av.FFmpegError:
            continue  # a damaged packet (a cut first AC-3 frame, say): skip it, keep the rest
        for frame in frames:
            if counter[0] == 0 and frame.time:  # start where the first good audio starts
                counter[0] = round(frame.time * rate)
            frame.pts = None  # time by counting samples: no gaps or overlaps at skipped packets
            for chunk in resampler.resample(frame):
                yield from _encode_counted(out_audio, chunk, counter, rate)
    for chunk in resampler.resample(None):
        yield from _encode_counted(out_audio, chunk, counter, rate)
    yield from out_audio.encode(None)


def _encode_counted(out_audio, chunk, counter: list[int], rate: int):
    chunk.pts, chunk.time_base = counter[0], Fraction(1, rate)
    counter[0] += chunk.samples
    yield from out_audio.encode(chunk)
