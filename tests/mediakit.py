"""Helpers for the pipeline tests that do not depend on the pipeline's own code: decoding
source frames independently with PyAV, reading a result ZIP, the expected padded box of a
detection, cell checks, and making broken or rotated variants of the excerpt."""
from __future__ import annotations

import csv
import io
import math
import re
import struct
import subprocess
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import av
import cv2
import numpy as np

IMAGE_NAME = re.compile(r"^frame_(\d{6,})_t(\d+\.\d{3})s\.(jpg|png)$")
CSV_COLUMNS = ["frame", "time_s", "x1", "y1", "x2", "y2", "score", "class"]


# -- source frames -----------------------------------------------------------------------
def decode_frames(path: Path, indices=None) -> dict[int, np.ndarray]:
    """BGR frames of the first video stream by position (no rotation applied)."""
    wanted = None if indices is None else set(indices)
    frames = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if wanted is None or index in wanted:
                frames[index] = frame.to_ndarray(format="bgr24")
            if wanted is not None and len(frames) == len(wanted):
                break
    return frames


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


# -- a detector with known boxes ---------------------------------------------------------
class BoxDetector:
    """A detector with known boxes, standing in for YOLO when a test needs people found.

    `boxes` is either a list of (x1, y1, x2, y2) used for every frame, or a callable
    frame index -> list of boxes. Every box gets `score` and class 0. `delay_s` sleeps per
    call (to make a run slow enough to cancel). Records the indices it was asked about.
    With `frame_size` (w, h), the boxes are in a frame of that size and come back scaled to
    the image the detector is given, like a real detector's (a run that detects on small
    copies, budget.py's reread, then scales them back)."""

    def __init__(self, boxes: Sequence[Sequence[float]] | Callable[[int], Sequence[Sequence[float]]] = (),
                 score: float = 0.875, delay_s: float = 0.0, frame_size: tuple[int, int] | None = None):
        self.boxes = boxes
        self.score = score
        self.delay_s = delay_s
        self.frame_size = frame_size
        self.shapes: list[tuple[int, ...]] = []  # of the images it was given
        self.calls: list[list[int]] = []
        self._lock = threading.Lock()

    def boxes_for(self, index: int) -> np.ndarray:
        boxes = self.boxes(index) if callable(self.boxes) else self.boxes
        return np.array(boxes, np.float32).reshape(-1, 4)

    def detect(self, frames, indices):
        from pipeline.detect.detector import Detections

        with self._lock:
            self.calls.append([int(i) for i in indices])
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for image, index in zip(frames, indices):
            assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            xyxy = self.boxes_for(int(index))
            with self._lock:
                self.shapes.append(image.shape)
            if self.frame_size is not None:
                sx, sy = image.shape[1] / self.frame_size[0], image.shape[0] / self.frame_size[1]
                xyxy = (xyxy.astype(np.float64) * (sx, sy, sx, sy)).astype(np.float32)
            out.append(Detections(
                xyxy=xyxy,
                score=np.full(len(xyxy), self.score, np.float32),
                class_id=np.zeros(len(xyxy), np.int32),
            ))
        return out

    @property
    def seen_indices(self) -> list[int]:
        return sorted(i for call in self.calls for i in call)


# -- result ZIP ---------------------------------------------------------------------------
@dataclass
class ZipContents:
    names: list[str]  # in archive order
    images: dict[str, bytes]
    csv_text: str

    @property
    def image_names(self) -> list[str]:
        return [n for n in self.names if n not in ("detections.csv", *REPORT_NAMES)]

    def frame_indices(self) -> list[int]:
        return [int(IMAGE_NAME.match(n).group(1)) for n in self.image_names]

    def decoded(self, name: str) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(self.images[name], np.uint8), cv2.IMREAD_COLOR)
        assert image is not None, f"{name} does not decode"
        return image

    def image_for_frame(self, index: int) -> np.ndarray:
        for name in self.image_names:
            if int(IMAGE_NAME.match(name).group(1)) == index:
                return self.decoded(name)
        raise KeyError(index)

    def csv_rows(self) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.csv_text)))

    def csv_header(self) -> list[str]:
        return next(csv.reader(io.StringIO(self.csv_text)))

    def boxes_by_frame(self) -> dict[int, list[tuple[float, float, float, float]]]:
        out: dict[int, list] = {}
        for row in self.csv_rows():
            out.setdefault(int(row["frame"]), []).append(
                tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
        return out


REPORT_NAMES = ("report.json", "report.html")  # the run's report, inside the ZIP (pipeline/audit/)


def read_zip(path: Path) -> ZipContents:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None, f"{path} has a corrupt member"
        names = archive.namelist()
        images = {n: archive.read(n) for n in names if n not in ("detections.csv", *REPORT_NAMES)}
        csv_text = archive.read("detections.csv").decode("utf-8")
    return ZipContents(names, images, csv_text)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an encoded JPEG/PNG."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image.shape[1], image.shape[0]


# -- boxes and cells ----------------------------------------------------------------------
def padded_box(box, pad_pct: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The region a mask must cover: the box grown by pad_pct of its size on each side,
    rounded outward to whole pixels, clipped to the frame; None when nothing is left."""
    x1, y1, x2, y2 = box
    px, py = (x2 - x1) * pad_pct / 100, (y2 - y1) * pad_pct / 100
    clip = lambda v, hi: min(max(v, 0), hi)  # noqa: E731
    region = (clip(math.floor(x1 - px), width), clip(math.floor(y1 - py), height),
              clip(math.ceil(x2 + px), width), clip(math.ceil(y2 + py), height))
    return region if region[2] > region[0] and region[3] > region[1] else None


def padded_boxes(boxes, pad_pct: float, width: int, height: int) -> list[tuple[int, int, int, int]]:
    return [r for r in (padded_box(b, pad_pct, width, height) for b in boxes) if r is not None]


def union_mask(boxes, shape) -> np.ndarray:
    mask = np.zeros(shape[:2], bool)
    for x1, y1, x2, y2 in boxes:
        mask[y1:y2, x1:x2] = True
    return mask


def run_lengths(line: np.ndarray) -> list[int]:
    """Lengths of runs of identical pixels along a (N, 3) line."""
    change = np.any(line[1:] != line[:-1], axis=-1)
    edges = np.flatnonzero(change) + 1
    bounds = np.concatenate([[0], edges, [len(line)]])
    return list(np.diff(bounds))


def shortest_inner_run(region: np.ndarray) -> int:
    """Shortest run of equal colour along rows and columns, not counting each line's last run
    (the last cell may be cropped by the box edge). Mosaic cells are >= this wide."""
    shortest = 10**9
    for lines in (region, region.transpose(1, 0, 2)):
        for line in lines:
            runs = run_lengths(line)
            if len(runs) > 1:
                shortest = min(shortest, min(runs[:-1]))
    return shortest


# -- variants of the excerpt --------------------------------------------------------------
def top_level_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """(type, offset, size) of an MP4's top-level boxes."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        boxes.append((kind.decode("latin-1"), offset, size))
        offset += size
    return boxes


def truncated_copy(source: Path, dest: Path, fraction_of_media: float) -> Path:
    """`source` cut inside its media data: `fraction_of_media` of the mdat box kept."""
    data = source.read_bytes()
    mdat = [b for b in top_level_boxes(data) if b[0] == "mdat"]
    assert mdat, "excerpt has no mdat box"
    _, offset, size = mdat[0]
    assert offset > [b for b in top_level_boxes(data) if b[0] == "moov"][0][1], "expected +faststart"
    dest.write_bytes(data[: offset + 8 + int(size * fraction_of_media)])
    return dest


def zero_frame_video(dest: Path) -> Path:
    """An AVI with a video stream and no frames."""
    with av.open(str(dest), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    return dest


def rotated_copy(ffmpeg: str, source: Path, dest: Path, degrees: int) -> Path:
    """Same stream, with a display-matrix rotation (what phones write)."""
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-c", "copy",
                    "-metadata:s:v:0", f"rotate={degrees}", str(dest)], check=True)
    return dest


def ffmpeg_upright_frames(ffmpeg: str, path: Path, width: int, height: int, count: int) -> np.ndarray:
    """The first `count` frames as ffmpeg shows them (it applies the rotation), BGR."""
    raw = subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(path), "-frames:v", str(count),
                          "-f", "rawvideo", "-pix_fmt", "bgr24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(count, height, width, 3)


def leftovers(*folders: Path) -> list[Path]:
    """Anything a run must not leave behind: ZIPs, *.partial files, job temp folders."""
    found = []
    for folder in folders:
        if folder.exists():
            for path in folder.rglob("*"):
                if path.suffix in (".zip", ".partial") or path.name.startswith("mosaic-job-"):
                    found.append(path)
    return found


def mosaic_threads() -> list[threading.Thread]:
    """The pipeline's live threads (it names them mosaic-*)."""
    return [t for t in threading.enumerate() if t.name.startswith("mosaic-") and t.is_alive()]
