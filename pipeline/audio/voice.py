"""The output's audio when the user asked to change it: voices disguised or muted, chosen
spans silenced or covered by a tone. Decode -> (disguise: an FFmpeg filter graph) -> spans
and mute in numpy, on whole blocks -> AAC. Samples are counted from where the source's
audio starts and the track keeps exactly the source's sample count, so it stays in sync
with the picture. With nothing to change the video sink copies the source's packets as
they are (video_sink.py); this module is only used when there is something to change.

Disguise resamples the voice to a pitch `semitones` away and stretches it back to its own
length (asetrate -> aresample -> atempo): pitch and formants move together, the duration
does not. The amount is drawn per run with a CSPRNG from DISGUISE_SEMITONES, up or down,
and is never stored, logged or written anywhere, so nobody can undo it with a known factor.
"""
from __future__ import annotations

import itertools
import math
import secrets
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from .spans import Span

VOICES = ("keep", "disguise", "mute")
DISGUISE_SEMITONES = (4.0, 7.0)  # how far the pitch moves, drawn per run, up or down
BLEEP_HZ = 1000.0
BLEEP_LEVEL = 0.25  # -12 dBFS: clearly a bleep, not painful
AAC_BITRATE = 160_000


@dataclass(frozen=True)
class AudioEdit:
    """What to do to the audio: keep, disguise or mute the voice; silence or bleep spans."""

    voice: str = "keep"
    spans: tuple[Span, ...] = ()
    bleep: bool = False

    @property
    def changes(self) -> bool:
        """Whether the audio must be decoded and re-encoded at all."""
        return self.voice != "keep" or bool(self.spans)


def draw_semitones() -> float:
    """A disguise amount for one run, from the OS's CSPRNG: 4-7 semitones, up or down.
    The caller keeps it in a local variable only."""
    rng = secrets.SystemRandom()
    return rng.choice((-1.0, 1.0)) * rng.uniform(*DISGUISE_SEMITONES)


def edited_track(audio_in, source_in, out, edit: AudioEdit):
    """The output AAC stream (made now, before the header is written) and a generator of
    its packets: the source's first audio track with `edit` applied."""
    rate = audio_in.codec_context.sample_rate or 48000
    layout = "stereo" if (audio_in.codec_context.channels or 2) >= 2 else "mono"
    out_audio = out.add_stream("aac", rate=rate)
    out_audio.bit_rate = AAC_BITRATE
    out_audio.layout = layout
    return out_audio, _packets(audio_in, source_in, out_audio, rate, layout, edit)


def _packets(audio_in, source_in, out_audio, rate: int, layout: str, edit: AudioEdit):
    blocks = _decoded(audio_in, source_in, rate, layout)
    start = next(blocks, None)  # the first sample's position, counted from time 0
    if start is None:
        return
    if edit.voice == "disguise":
        blocks = _shifted(blocks, rate, layout, draw_semitones())
    encoder = _Encoder(out_audio, rate, layout, start)
    position = start
    for block in blocks:
        block = _edited(block, position, rate, edit)
        position += block.shape[1]
        yield from encoder.encode(block)
    yield from encoder.encode(None)


def _decoded(audio_in, source_in, rate: int, layout: str):
    """First the position of the first good sample, then the audio as (channels, n)
    float32 blocks, every packet that decodes, without gaps (counted, like video_sink)."""
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    started = False
    for packet in source_in.demux(audio_in):
        try:
            frames = packet.decode()
        except av.FFmpegError:
            continue  # a damaged packet: skip it, keep the rest
        for frame in frames:
            if not started:
                started = True
                yield max(0, round((frame.time or 0.0) * rate))
            frame.pts = None
            for chunk in resampler.resample(frame):
                yield chunk.to_ndarray()
    for chunk in resampler.resample(None):
        yield chunk.to_ndarray()


def _edited(block: np.ndarray, position: int, rate: int, edit: AudioEdit) -> np.ndarray:
    """Mute the whole block, or silence / bleep the parts of it inside the spans."""
    if edit.voice == "mute" and not (edit.bleep and edit.spans):
        return np.zeros_like(block)
    block = np.zeros_like(block) if edit.voice == "mute" else np.array(block, np.float32, copy=True)
    n = block.shape[1]
    for start_s, end_s in edit.spans:
        first = max(math.ceil(start_s * rate) - position, 0)
        last = min(math.ceil(end_s * rate) - position, n)
        if first >= last:
            continue
        if edit.bleep:
            index = np.arange(position + first, position + last, dtype=np.float64)
            block[:, first:last] = (BLEEP_LEVEL * np.sin(2 * np.pi * BLEEP_HZ / rate * index)).astype(np.float32)
        else:
            block[:, first:last] = 0.0
    return block


def _shifted(blocks, rate: int, layout: str, semitones: float):
    """The blocks with their pitch moved by `semitones`, same sample count in and out."""
    factor = 2.0 ** (semitones / 12.0)
    graph = av.filter.Graph()
    chain = [graph.add_abuffer(sample_rate=rate, format="fltp", layout=layout, time_base=Fraction(1, rate)),
             graph.add("asetrate", str(round(rate * factor))),
             graph.add("aresample", str(rate)),
             graph.add("atempo", f"{rate / round(rate * factor):.9f}"),
             graph.add("aformat", f"sample_fmts=fltp:sample_rates={rate}:channel_layouts={layout}"),
             graph.add("abuffersink")]
    for a, b in itertools.pairwise(chain):
        a.link_to(b)
    graph.configure()
    taken = given = 0
    for block in blocks:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, taken, Fraction(1, rate)
        taken += block.shape[1]
        graph.push(frame)
        for out in _pulled(graph):
            out = out[:, :max(taken - given, 0)]  # never more than went in
            given += out.shape[1]
            yield out
    graph.push(None)
    for out in _pulled(graph):
        out = out[:, :max(taken - given, 0)]
        given += out.shape[1]
        yield out
    if given < taken:  # the stretch came out a little short: pad, so the track keeps its length
        yield np.zeros((len(av.AudioLayout(layout).channels), taken - given), np.float32)


def _pulled(graph):
    while True:
        try:
            frame = graph.pull()
        except (BlockingIOError, EOFError):
            return
        except av.FFmpegError as err:
            if getattr(err, "errno", None) in (11, 541478725):  # EAGAIN, AVERROR_EOF
                return
            raise
        yield frame.to_ndarray()


class _Encoder:
    """(channels, n) float32 blocks -> AAC packets in the encoder's frame size, timed by
    counting samples from `start`."""

    def __init__(self, out_audio, rate: int, layout: str, start: int):
        self.out_audio, self.rate, self.layout = out_audio, rate, layout
        self.count = start
        self.chunker = av.AudioResampler(format="fltp", layout=layout, rate=rate,
                                         frame_size=out_audio.codec_context.frame_size or 1024)

    def encode(self, block: np.ndarray | None):
        frame = None
        if block is not None:
            if not block.shape[1]:
                return
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, np.float32), format="fltp",
                                               layout=self.layout)
            frame.sample_rate = self.rate
        for chunk in self.chunker.resample(frame):
            chunk.pts, chunk.time_base = self.count, Fraction(1, self.rate)
            self.count += chunk.samples
            yield from self.out_audio.encode(chunk)
        if block is None:
            yield from self.out_audio.encode(None)
