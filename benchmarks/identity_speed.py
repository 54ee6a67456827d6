"""Milliseconds per face descriptor: dlib's own network (dlib-bin, no BLAS) against the torch
port that FaceEmbedder.describe runs (pipeline/identity/resnet.py), in one run.

    python benchmarks/identity_speed.py [--reps 3] [--busy]

On every face >= 20 px of the sample photos: the 150x150 chips dlib cuts, then per descriptor
dlib's compute_face_descriptor vs the torch network at torch's default thread count and at
1 thread (what describe uses), and the largest distance between the two descriptors. With --busy a second process
spins on one core meanwhile, as the video pipeline's decode/detect/encode threads do: an
OpenMP pool of 2 on 2 cores then waits for the thread that lost its core.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.identity_distances import MIN_FACE_PX, sample_photo_paths  # noqa: E402
from pipeline.identity.embed import CHIP_PADDING, CHIP_SIZE, RESNET_FILE, FaceEmbedder, model_folder  # noqa: E402
from pipeline.identity.photos import face_finder  # noqa: E402
from pipeline.identity.resnet import THREADS, FaceResNet  # noqa: E402


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def spin(stop) -> None:
    while not stop.is_set():
        pass


def per_call_ms(fn, items, reps: int) -> float:
    fn(items[0])  # warm-up (torch picks its kernels on the first call)
    clock = time.perf_counter()
    for _ in range(reps):
        for item in items:
            fn(item)
    return (time.perf_counter() - clock) / (reps * len(items)) * 1000


def main() -> None:
    import dlib
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    args = parser.parse_args()
    embedder, find = FaceEmbedder.load(), face_finder()
    assert embedder.backend == "torch", "the torch port did not load (see the warning above)"
    clock = time.perf_counter()
    reference = dlib.face_recognition_model_v1(str(model_folder() / RESNET_FILE))
    dlib_load = time.perf_counter() - clock
    clock = time.perf_counter()
    net = FaceResNet.load(model_folder() / RESNET_FILE)
    torch_load = time.perf_counter() - clock
    faces = []  # (crop, shape, chip)
    for path in sample_photo_paths():
        image = cv2.imread(str(path))
        for box in find(image):
            if min(box[2] - box[0], box[3] - box[1]) >= MIN_FACE_PX:
                crop, shape = embedder.landmarks(image, box)
                faces.append((crop, shape, dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=CHIP_PADDING)))
    worst = max(float(np.linalg.norm(np.asarray(reference.compute_face_descriptor(crop, shape), np.float32)
                                     - net.describe_chips(chip)[0])) for crop, shape, chip in faces)
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=spin, args=(stop,), daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    try:
        default_threads = torch.get_num_threads()
        dlib_ms = per_call_ms(lambda f: reference.compute_face_descriptor(f[0], f[1]), faces, args.reps)
        rows = [(threads, per_call_ms(lambda f: net.describe_chips(f[2], threads=threads), faces, args.reps))
                for threads in dict.fromkeys((default_threads, 1))]
        describe_ms = per_call_ms(lambda f: embedder.describe(cv2.cvtColor(f[0], cv2.COLOR_RGB2BGR),
                                                              (0, 0, f[0].shape[1], f[0].shape[0])), faces, 1)
    finally:
        stop.set()
    print(f"{cpu_name()}, {len(faces)} faces, {'one core kept busy' if args.busy else 'no extra load'}")
    print(f"network file read: dlib {dlib_load * 1000:.0f} ms, torch port {torch_load * 1000:.0f} ms")
    print(f"dlib compute_face_descriptor: {dlib_ms:.1f} ms per face")
    for threads, ms in rows:
        print(f"torch port, {threads} thread(s): {ms:.1f} ms per face ({dlib_ms / ms:.1f}x faster)")
    print(f"FaceEmbedder.describe (landmarks + chip + net on {THREADS} thread): {describe_ms:.1f} ms per face")
    print(f"largest distance torch vs dlib: {worst:.2e} (a different person: > 0.5)")


if __name__ == "__main__":
    main()
