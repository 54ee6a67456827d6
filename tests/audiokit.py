"""Test media with sound, made with PyAV and numpy (and espeak-ng for speech), and the
measurements the voice tests make on it: decoded samples, dominant frequency, fundamental
frequency of speech, where a click and a flashed frame are."""
from __future__ import annotations

import shutil
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48_000
FPS = 10
SIZE = (64, 48)
FLASH = 255  # the flashed frame's grey level; the others are dark


def tone(seconds: float, hz: float = 220.0, level: float = 0.3, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def add_click(audio: np.ndarray, at_s: float, rate: int = RATE, level: float = 0.95, ms: float = 6.0,
              hz: float = 2000.0) -> np.ndarray:
    """A click at `at_s`: a 6 ms Hann-shaped 2 kHz burst, loud and short. Not a
    sample-to-sample alternation: that is all at the Nyquist frequency, which any pitch
    shift upwards moves out of the band (the resampler rightly filters it away)."""
    out = audio.copy()
    first, n = round(at_s * rate), round(ms / 1000 * rate)
    burst = level * np.hanning(n) * np.sin(2 * np.pi * hz * np.arange(n) / rate)
    out[first:first + n] = burst.astype(np.float32)
    return out


def speech(text: str, tmp: Path, rate: int = RATE) -> np.ndarray:
    """Words spoken by espeak-ng, as float32 mono at `rate`."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        import pytest

        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = tmp / "speech.wav"
    subprocess.run([binary, "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        native = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    # to `rate` by FFmpeg's resampler, like any source audio would be
    frame = av.AudioFrame.from_ndarray((data * 32767).astype(np.int16)[None], format="s16", layout="mono")
    frame.sample_rate = native
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks = [c.to_ndarray()[0] for c in resampler.resample(frame)] + [c.to_ndarray()[0] for c in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def make_clip(path: Path, audio: np.ndarray | None, seconds: float, flash_frame: int | None = None,
              metadata: dict | None = None, rate: int = RATE, audio_codec: str = "aac") -> Path:
    """A small MP4 (or MOV for pcm): dark frames at FPS (one white at `flash_frame`) and
    `audio` (mono float32) encoded with `audio_codec`; `metadata` as container tags."""
    with av.open(str(path), "w") as out:
        if metadata:
            out.metadata.update(metadata)
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        sound = None
        if audio is not None:
            sound = out.add_stream(audio_codec, rate=rate)
            sound.layout = "mono"
            if audio_codec == "aac":
                sound.bit_rate = 192_000
        for index in range(round(seconds * FPS)):
            level = FLASH if index == flash_frame else 20 + index % 5
            frame = av.VideoFrame.from_ndarray(np.full((SIZE[1], SIZE[0], 3), level, np.uint8), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            fmt = "fltp" if audio_codec == "aac" else "s16"
            size = sound.codec_context.frame_size or 1024
            for start in range(0, len(audio), size):
                block = audio[start:start + size]
                data = block[None] if fmt == "fltp" else (block * 32767).astype(np.int16)[None]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return path


def decode_audio(path: Path, rate: int = RATE) -> np.ndarray:
    """The first audio track, mixed to mono float32 at `rate`, from its first sample's time
    on (a track that starts late is padded with zeros in front, so index / rate is time)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, start = [], None
        for frame in container.decode(stream):
            if start is None:
                start = max(0, round((frame.time or 0.0) * rate))
            chunks += [c.to_ndarray()[0] for c in resampler.resample(frame)]
        chunks += [c.to_ndarray()[0] for c in resampler.resample(None)]
    return np.concatenate([np.zeros(start or 0, np.float32), *chunks]).astype(np.float32)


def audio_duration(path: Path) -> float:
    return len(decode_audio(path)) / RATE


def has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def dominant_hz(audio: np.ndarray, rate: int = RATE) -> float:
    """The strongest frequency of the steady middle half (Hann window, parabolic peak)."""
    middle = audio[len(audio) // 4: 3 * len(audio) // 4]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    spectrum[: round(40 * len(middle) / rate)] = 0  # no DC
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1: k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(middle)


def median_f0(audio: np.ndarray, rate: int = RATE, lo: float = 50.0, hi: float = 500.0) -> float:
    """The median fundamental frequency of the voiced 60 ms frames: per frame, the first
    autocorrelation peak (unbiased, normalized) within 90 % of the highest, so neither a
    harmonic nor a multiple of the period is taken for it."""
    n, hop = round(0.06 * rate), round(0.01 * rate)
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[::hop]
    energy = np.sqrt(np.mean(frames ** 2, axis=1))
    frames = frames[energy > 0.3 * energy.max()]
    frames = frames - frames.mean(axis=1, keepdims=True)
    corr = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * n)) ** 2)[:, :n] / (n - np.arange(n))
    lags = np.arange(round(rate / hi), round(rate / lo))
    corr = corr[:, lags] / corr[:, :1]
    peaks = (corr >= np.roll(corr, 1, axis=1)) & (corr >= np.roll(corr, -1, axis=1))
    good = peaks & (corr >= 0.9 * corr.max(axis=1, keepdims=True))
    first = np.where(good.any(axis=1), good.argmax(axis=1), corr.argmax(axis=1))
    return float(np.median(rate / lags[first]))


def semitones(f_from: float, f_to: float) -> float:
    return 12 * np.log2(f_to / f_from)


def click_time(audio: np.ndarray, rate: int = RATE) -> float:
    """Where the loudest short burst is (the peak of a 3 ms moving RMS), in seconds."""
    n = round(0.003 * rate)
    envelope = np.convolve(np.square(audio, dtype=np.float64), np.ones(n) / n, mode="same")
    return float(np.argmax(envelope) / rate)


def flash_time(path: Path) -> float:
    """When the white frame shows in a video, by its timestamp."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.to_ndarray(format="gray").mean() > 128:
                return float(frame.time)
    raise AssertionError(f"no flashed frame in {path}")


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
