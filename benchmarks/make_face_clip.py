"""Build the sample clip with real faces (`ui/assets/faces_clip.mp4`) from four photos.

    python benchmarks/make_face_clip.py [--out ui/assets/faces_clip.mp4] [--width 960]
        [--height 540] [--fps 25] [--seconds 5]

Each photo gets an equal share of the clip, filmed by a virtual camera that pans and zooms
over it (a crop window moving smoothly between two rectangles, resampled to the output
size), so faces move, grow and shrink like in real footage. Photos: zidane.jpg and bus.jpg
from the `ultralytics` package (AGPL-3.0), messi5.jpg and basketball1.png from OpenCV's
sample data (Apache-2.0 / BSD-3-Clause) in ../shared/samples. The tests import `shots` and
`render` to make their own variants.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples"


def ultralytics_asset(name: str) -> Path:
    import ultralytics

    return Path(ultralytics.__file__).parent / "assets" / name


@dataclass(frozen=True)
class Shot:
    """A photo filmed from crop rectangle `start` to `end`, easing in and out. A rectangle is
    (x, y, width) as fractions of the photo's width and height; its height follows from the
    output's aspect, so nothing is stretched."""

    photo: Path
    start: tuple[float, float, float]
    end: tuple[float, float, float]


def shots() -> list[Shot]:
    """The four shots of the sample clip: zoom in, pan down, zoom out, pan across."""
    return [
        Shot(ultralytics_asset("zidane.jpg"), (0.0, 0.0, 1.0), (0.35, 0.05, 0.6)),
        Shot(ultralytics_asset("bus.jpg"), (0.0, 0.22, 1.0), (0.05, 0.3, 0.7)),
        Shot(SAMPLES / "messi5.jpg", (0.25, 0.1, 0.5), (0.0, 0.0, 1.0)),
        Shot(SAMPLES / "basketball1.png", (0.0, 0.0, 0.7), (0.3, 0.05, 0.7)),
    ]


def render(shot: Shot, frames: int, width: int, height: int) -> Iterator[np.ndarray]:
    """The shot's BGR frames: each crop rectangle resampled to width x height."""
    photo = cv2.imread(str(shot.photo), cv2.IMREAD_COLOR)
    if photo is None:
        raise FileNotFoundError(shot.photo)
    ph, pw = photo.shape[:2]
    for i in range(frames):
        t = i / max(frames - 1, 1)
        t = t * t * (3 - 2 * t)  # ease in and out
        x, y, w = (a + (b - a) * t for a, b in zip(shot.start, shot.end))
        s = width / (w * pw)  # one scale for both axes
        matrix = np.array([[s, 0, -x * pw * s], [0, s, -y * ph * s]], np.float64)
        yield cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)


def write_clip(out: Path, shot_list: list[Shot], width: int, height: int, fps: int, seconds: float,
               crf: int = 21) -> int:
    """Encode the shots back to back as H.264 (yuv420p, +faststart); returns the frame count."""
    import av

    per_shot = round(seconds * fps / len(shot_list))
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(out), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for shot in shot_list:
            for image in render(shot, per_shot, width, height):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts = count
                for packet in stream.encode(frame):
                    container.mux(packet)
                count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "ui" / "assets" / "faces_clip.mp4")
    p.add_argument("--width", type=int, default=960)
    p.add_argument("--height", type=int, default=540)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    count = write_clip(args.out, shots(), args.width, args.height, args.fps, args.seconds)
    print(f"{args.out}: {count} frames, {args.width}x{args.height} at {args.fps} fps, "
          f"{args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
