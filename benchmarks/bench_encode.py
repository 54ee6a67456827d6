"""The video output's encoder: what each x264 preset costs and gives, in one run.

    python benchmarks/bench_encode.py [--seconds 10] [--presets ultrafast,superfast,veryfast,faster,medium]

Two 1080p30 clips: ../shared/samples/vtest.avi scaled up (a plaza, soft; bench_memory.py's
clip) and the face clip of bench_recall.py (the sample photos filmed by a zooming, panning
virtual camera: sharp edges, motion everywhere). Each clip is decoded once into memory; then
for each preset our own VideoSink (pipeline/io/video_sink.py: BGR -> I420 by OpenCV, x264 at
CRF 20 with the run's thread count) encodes every frame, and the benchmark prints the CPU
milliseconds a frame (this process's user + system time over the encode: every x264 thread
counted), the wall time, the file size, and what the encode lost against the frames it was
given: PSNR and SSIM of the luma plane, on every 5th frame decoded back. Presets alternate
clip by clip in the order given; nothing is hard-coded. Prints the CPU and the load.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_memory import make_clip  # noqa: E402
from machine import cpu_line, load  # noqa: E402
from make_face_clip import shots, write_clip  # noqa: E402

from pipeline.io.video import read_frames  # noqa: E402
from pipeline.io.video_sink import VideoSink  # noqa: E402


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images (Gaussian window 11, sigma 1.5: Wang et al.)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2YUV)[:, :, 0]


def encode(frames: list[np.ndarray], clip: Path, preset: str, out: Path) -> dict:
    height, width = frames[0].shape[:2]
    t, c = time.perf_counter(), cpu_s()
    with VideoSink(out, clip, width, height, 30.0, None, preset=preset) as sink:
        for i, image in enumerate(frames):
            sink.write(image, i / 30)
    wall, cpu = time.perf_counter() - t, cpu_s() - c
    psnr, ssims = [], []
    for i, decoded in enumerate(f.image for f in read_frames(out)):
        if i % 5 == 0 and i < len(frames):
            y_src, y_out = luma(frames[i]), luma(decoded)
            psnr.append(cv2.PSNR(y_src, y_out))
            ssims.append(ssim(y_src, y_out))
    return {"preset": preset, "cpu_ms_frame": 1000 * cpu / len(frames), "wall_s": wall,
            "mb": out.stat().st_size / 1e6, "psnr_db": float(np.mean(psnr)), "ssim": float(np.mean(ssims))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--presets", default="ultrafast,superfast,veryfast,faster,medium")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    presets = args.presets.split(",")
    print(f"CPU: {cpu_line()}; load {load()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        faces = Path(tmp) / "faces.mp4"
        write_clip(faces, shots(), 1920, 1080, 30, args.seconds)
        for name, clip in (("vtest 1080p", make_clip(1920, 1080, args.seconds)), ("faces 1080p", faces)):
            frames = [f.image for _, f in zip(range(int(args.seconds * 30)), read_frames(clip))]
            print(f"\n{name}: {len(frames)} frames, CRF 20   (load {load()})")
            print("| preset | CPU ms a frame | wall s | MB | PSNR dB (Y) | SSIM (Y) |")
            print("| --- | --- | --- | --- | --- | --- |")
            for preset in presets:
                row = {"clip": name, **encode(frames, clip, preset, Path(tmp) / f"{preset}.mp4")}
                rows.append(row)
                print(f"| {preset} | {row['cpu_ms_frame']:.1f} | {row['wall_s']:.1f} | {row['mb']:.2f} | "
                      f"{row['psnr_db']:.2f} | {row['ssim']:.4f} |", flush=True)
            del frames
    print(f"\nload after: {load()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
