"""Test media for the live path: frames of real footage that carry their own index, a box
for each index, and a real-time UDP MPEG-TS sender (run as a script, so its pace does not
depend on the test process).

    python tests/live_media.py PORT --frames 75 --fps 25 [--pause-at 40 --pause-s 3]

Each frame is the excerpt's footage (looped) with its index drawn as INDEX_BITS black or
white blocks along a black strip at the top, so a test reads which sent frame an output
frame is, exactly, whatever was dropped on the way.
"""
from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

EXCERPT = Path(__file__).resolve().parent / "data" / "vtest_3s.mp4"
WIDTH, HEIGHT = 320, 240
INDEX_BITS, BLOCK, STRIP = 10, 16, 24  # index blocks of BLOCK px on a STRIP px black band


def footage(width: int = WIDTH, height: int = HEIGHT, path: Path = EXCERPT) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [cv2.resize(f.to_ndarray(format="bgr24"), (width, height), interpolation=cv2.INTER_AREA)
                for f in container.decode(video=0)]


def draw_index(image: np.ndarray, index: int) -> np.ndarray:
    image[:STRIP] = 0
    for bit in range(INDEX_BITS):
        if index >> bit & 1:
            x = 4 + bit * (BLOCK + 4)
            image[4:4 + BLOCK, x:x + BLOCK] = 255
    return image


def read_index(image: np.ndarray) -> int:
    index = 0
    for bit in range(INDEX_BITS):
        x = 4 + bit * (BLOCK + 4)
        if image[8:8 + BLOCK // 2, x + 4:x + 4 + BLOCK // 2].mean() > 128:
            index |= 1 << bit
    return index


def moving_box(index: int) -> tuple[float, float, float, float]:
    """A person-sized box sliding right 2 px a frame and back (below the index strip)."""
    x = 40 + (2 * index) % 400
    x = x if x <= 240 else 480 - x
    return (float(x), 70.0, float(x + 60), 190.0)


def write_csv(path: Path, frames: int) -> Path:
    rows = ["frame,x1,y1,x2,y2"] + [f"{i},{','.join(f'{v:g}' for v in moving_box(i))}" for i in range(frames)]
    path.write_text("\n".join(rows) + "\n")
    return path


def sent_frame(pictures: list[np.ndarray], index: int) -> np.ndarray:
    return draw_index(pictures[index % len(pictures)].copy(), index)


def send(port: int, frames: int, fps: float, pause_at: int = -1, pause_s: float = 0.0) -> None:
    """MPEG-TS (H.264) to udp://127.0.0.1:port, each frame at its real-time moment."""
    pictures = footage()
    out = av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", "w", format="mpegts")
    stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(int(fps)), "crf": "18"}
    start = time.perf_counter()
    for i in range(frames):
        if i == pause_at:
            time.sleep(pause_s)
            start += pause_s
        delay = start + i / fps - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        frame = av.VideoFrame.from_ndarray(sent_frame(pictures, i), format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, 1) / stream.codec_context.framerate
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--pause-at", type=int, default=-1)
    parser.add_argument("--pause-s", type=float, default=0.0)
    args = parser.parse_args()
    send(args.port, args.frames, args.fps, args.pause_at, args.pause_s)
    print(f"sent {args.frames}", file=sys.stderr)
