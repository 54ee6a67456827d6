"""Descriptor distances on the sample photos: the figures the default match threshold comes from.

    python benchmarks/identity_distances.py

Prints, for every face CenterFace finds in the sample photos, its distance to every other face
(different people), and for each face its distance to edited copies of itself (scaled,
darkened, mirrored, blurred): the same person. Descriptors are printed nowhere, only distances.
"""
from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.identity.embed import FaceEmbedder, distance
from pipeline.identity.photos import face_finder

REPO = Path(__file__).resolve().parents[1]


def sample_photo_paths() -> list[Path]:
    """The still photos the sample clip is made of (benchmarks/make_face_clip.py)."""
    from benchmarks.make_face_clip import shots

    return [shot.photo for shot in shots()]

MIN_FACE_PX = 20  # CenterFace's smallest faces here; photos.py wants 24 px of a reference


def variants(image: np.ndarray, box) -> dict[str, tuple[np.ndarray, tuple]]:
    x1, y1, x2, y2 = box
    out = {}
    small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    out["scaled 60 %"] = (small, tuple(v * 0.6 for v in box))
    out["darkened 50 %"] = (np.clip(image * 0.5, 0, 255).astype(np.uint8), box)
    w = image.shape[1]
    out["mirrored"] = (np.ascontiguousarray(image[:, ::-1]), (w - x2, y1, w - x1, y2))
    out["blurred"] = (cv2.GaussianBlur(image, (7, 7), 0), box)
    dark_small = np.clip(small * 0.6, 0, 255).astype(np.uint8)
    out["scaled 60 % + darkened + mirrored"] = (np.ascontiguousarray(dark_small[:, ::-1]),
                                               (small.shape[1] - box[2] * 0.6, box[1] * 0.6,
                                                small.shape[1] - box[0] * 0.6, box[3] * 0.6))
    return out


def clip_distances(embedder: FaceEmbedder, faces) -> float:
    """Each photo face against itself in the first and last frame of its shot of the sample
    clip (panned and zoomed, 960x540): the same person at another size and crop."""
    from benchmarks.make_face_clip import render, shots

    worst, frames = 0.0, 31
    print("same person, first vs last frame of its shot in the sample clip (960x540):")
    for shot in shots():
        rendered = list(render(shot, frames, 960, 540))
        photo = cv2.imread(str(shot.photo))
        ph, pw = photo.shape[:2]
        for label, _, box, vector in faces:
            if not label.startswith(shot.photo.name + "#"):
                continue
            row = []
            for i in (0, frames - 1):
                t = i / (frames - 1)
                t = t * t * (3 - 2 * t)
                x, y, w = (a + (b - a) * t for a, b in zip(shot.start, shot.end))
                s = 960 / (w * pw)
                fb = (box[0] * s - x * pw * s, box[1] * s - y * ph * s,
                      box[2] * s - x * pw * s, box[3] * s - y * ph * s)
                if fb[0] < 0 or fb[1] < 0 or fb[2] > 960 or fb[3] > 540 or fb[2] - fb[0] < 12:
                    continue
                d = distance(vector, embedder.describe(rendered[i], fb))
                worst = max(worst, d)
                row.append(f"frame {i} ({fb[2] - fb[0]:.0f} px) {d:.3f}")
            if row:
                print(f"  {label} ({box[2] - box[0]:.0f} px in the photo): " + ", ".join(row))
    return worst


def main() -> None:
    embedder, find = FaceEmbedder.load(), face_finder()
    faces = []  # (label, image, box, descriptor)
    clock, count = time.perf_counter(), 0
    for path in sample_photo_paths():
        image = cv2.imread(str(path))
        for n, box in enumerate(find(image)):
            if min(box[2] - box[0], box[3] - box[1]) < MIN_FACE_PX:
                continue
            faces.append((f"{path.name}#{n}", image, box, embedder.describe(image, box)))
            count += 1
    per_face = (time.perf_counter() - clock) / max(1, count)
    print(f"{len(faces)} faces >= {MIN_FACE_PX} px; {per_face * 1000:.0f} ms per face incl. detection")
    pairs = sorted((distance(a[3], b[3]), a[0], b[0]) for a, b in itertools.combinations(faces, 2))
    print("different people, closest pairs:")
    for d, a, b in pairs[:8]:
        print(f"  {d:.3f}  {a} vs {b}")
    print(f"  smallest {pairs[0][0]:.3f}, median {pairs[len(pairs) // 2][0]:.3f}")
    worst_same = 0.0
    print("same person, edited copies:")
    for label, image, box, vector in faces:
        row = []
        for name, (img, b) in variants(image, box).items():
            d = distance(vector, embedder.describe(img, b))
            worst_same = max(worst_same, d)
            row.append(f"{name} {d:.3f}")
        print(f"  {label}: " + ", ".join(row))
    worst_same = max(worst_same, clip_distances(embedder, faces))
    print(f"largest same-person distance {worst_same:.3f}; smallest different-person {pairs[0][0]:.3f}")


if __name__ == "__main__":
    main()
