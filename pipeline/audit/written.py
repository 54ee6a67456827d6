"""The outputs as written: read back from disk, never the frames a run held in memory.

The ZIP's images are decoded from their bytes; its detections.csv says which boxes were
covered on which frame (every kind: detected, held, drawn by hand), in source pixels. A
video's frames are decoded again, in order (seeking an H.264 file costs a GOP's decode per
frame), and only the frames asked for are converted to pictures.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

from ..errors import OutputError

CSV_NAME = "detections.csv"
IMAGE_NAME = re.compile(r"^frame_(\d+)_t([0-9.]+)s\.(jpg|png)$")


@dataclass(frozen=True)
class CsvRow:
    frame: int
    time_s: float
    box: tuple[float, float, float, float]
    track: int
    kind: str
    person: int


@dataclass(frozen=True)
class ZipImage:
    index: int  # the source frame it shows
    time_s: float
    name: str  # its entry name in the ZIP


def zip_images(zip_path: Path) -> list[ZipImage]:
    """The ZIP's frame images, in frame order."""
    with _open_zip(zip_path) as archive:
        found = [(IMAGE_NAME.match(name), name) for name in archive.namelist()]
    return sorted((ZipImage(int(m.group(1)), float(m.group(2)), name) for m, name in found if m),
                  key=lambda image: image.index)


def read_zip_image(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise OutputError(f"The written image {name} does not decode")
    return image


def csv_rows(zip_path: Path) -> list[CsvRow]:
    """Every row of the ZIP's detections.csv (the boxes the run covered)."""
    with _open_zip(zip_path) as archive:
        try:
            text = archive.read(CSV_NAME).decode("utf-8-sig")
        except KeyError as err:
            raise OutputError(f"{zip_path.name} has no {CSV_NAME}") from err
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            rows.append(CsvRow(int(row["frame"]), float(row.get("time_s") or 0.0),
                               tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")),
                               int(row.get("track_id") or 0), row.get("kind") or "detected",
                               int(row.get("person") or 0)))
        except (KeyError, ValueError) as err:
            raise OutputError(f"{zip_path.name}'s {CSV_NAME} has a bad row: {err}") from err
    return rows


def masks_by_frame(rows: list[CsvRow]) -> dict[int, np.ndarray]:
    """frame -> (N, 4) covered boxes, source pixels."""
    boxes: dict[int, list] = {}
    for row in rows:
        boxes.setdefault(row.frame, []).append(row.box)
    return {frame: np.array(found, np.float32) for frame, found in boxes.items()}


def video_frames(path: Path, wanted: set[int]) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, time_s, BGR image) of the wanted frames of a written video, in order."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise OutputError(f"The written video {path.name} does not open: {err}") from err
    last = max(wanted, default=-1)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index > last:
                break
            if index in wanted:
                time_s = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                yield index, time_s, frame.to_ndarray(format="bgr24")


def video_frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        return sum(1 for _ in container.demux(stream) if _.size)


def spread(count: int) -> list[int]:
    """0..count-1 in an order that covers the whole range early: first, last, middle,
    quarters, eighths... so a sample stopped at any point is spread over the video."""
    if count <= 0:
        return []
    order, seen = [0, count - 1], {0, count - 1}
    parts = 2
    while len(seen) < count:
        for k in range(1, parts, 2):
            i = round(k * (count - 1) / parts)
            if i not in seen:
                seen.add(i)
                order.append(i)
        parts *= 2
        if parts > 4 * count:  # rounding left gaps: fill them in order
            order += [i for i in range(count) if i not in seen]
            break
    return list(dict.fromkeys(order))


def evenly(count: int, take: int) -> list[int]:
    """`take` frame numbers spread evenly over 0..count-1, both ends included."""
    if take >= count:
        return list(range(count))
    if take <= 1:
        return [0][:max(take, 0)]
    return sorted({round(i * (count - 1) / (take - 1)) for i in range(take)})


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as err:
        raise OutputError(f"The written ZIP {zip_path.name} does not open: {err}") from err
