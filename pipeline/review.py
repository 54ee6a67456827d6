"""Review before export: the people a run tracked, each reviewed frame as it will be
rendered, and the reviewer's corrections (tracks left unmasked, boxes drawn) written back
as a detections.csv that a render replays without the model.

    review = Review("clip.mp4", "detections.csv", step=5)
    for track in review.tracks(): ...               # one card per person
    picture = review.preview(frame_index, edits)     # RGB, boxes outlined in track colours
    review.write_csv(edits, "edited.csv")           # then run(..., detections_csv=edited)

Frames are decoded on demand (a seek near the frame, then forward), a few kept in a small
cache; track crops are made once, lazily, in one pass over the video.
"""
from __future__ import annotations

import collections
import csv
import threading
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from .detections import HELD, MANUAL, Detections
from .errors import InputError
from .io.detections_csv import CSV_HEADER, csv_rows, read_detections_csv
from .io.video import VideoInfo, probe_video, read_frames, upright
from .mask.maskers import MaskStyle, cover

CROP_SIZE = 96  # px, the longer side of a track's card picture
FRAME_CACHE = 8  # decoded frames kept for the frame slider


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per track id (golden-ratio hues)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[2]), int(bgr[1]), int(bgr[0])


@dataclass(frozen=True)
class TrackSummary:
    track_id: int
    first_frame: int
    last_frame: int
    first_s: float
    last_s: float
    boxes: int  # rows of this track (detected, held and manual)
    best_frame: int  # where its box is largest: the frame its card shows
    best_box: tuple[float, float, float, float]


@dataclass(frozen=True)
class DrawnBox:
    """A box a reviewer drew: source pixels, on one frame, for one track."""

    frame: int
    box: tuple[float, float, float, float]
    track_id: int


@dataclass
class Edits:
    unmask: set[int] = field(default_factory=set)  # track ids left uncovered
    drawn: list[DrawnBox] = field(default_factory=list)


class Review:
    """A finished run's detections over its video. `step` is the run's capture interval for
    a ZIP-only run (only those frames were detected) and 1 when a video was made; `style`
    the run's mask style (faces grow into the head), which previews are drawn with."""

    def __init__(self, video: str | Path, detections_csv: str | Path, step: int = 1,
                 info: VideoInfo | None = None, style: MaskStyle | None = None):
        self.video = Path(video)
        self.style = style or MaskStyle()  # the run's (render.mask_style): the preview covers as it did
        self.info = info or probe_video(self.video)
        self.step = max(1, int(step))
        self.by_frame = read_detections_csv(detections_csv, include_held=True)
        self.times = _row_times(detections_csv)
        last = max(self.by_frame, default=0)
        count = max(self.info.frame_count, last + 1)
        self.frames = list(range(0, count, self.step))  # the reviewed (detected) frames
        self._cache: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self._crops: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self._tracks = self._summarize()

    # -- tracks -------------------------------------------------------------------------
    def _summarize(self) -> list[TrackSummary]:
        seen: dict[int, list] = {}
        self.person_of: dict[int, int] = {}  # track id -> person number (the CSV's person column)
        for frame in sorted(self.by_frame):
            found = self.by_frame[frame]
            for box, track, person in zip(found.xyxy, found.track_id, found.person):
                if track:
                    seen.setdefault(int(track), []).append((frame, box))
                    if person:
                        self.person_of.setdefault(int(track), int(person))
        tracks = []
        for track_id, rows in sorted(seen.items()):
            areas = [(b[2] - b[0]) * (b[3] - b[1]) for _, b in rows]
            best_frame, best_box = rows[int(np.argmax(areas))]
            first, last = rows[0][0], rows[-1][0]
            tracks.append(TrackSummary(track_id, first, last, self.time_of(first), self.time_of(last),
                                       len(rows), best_frame, tuple(float(v) for v in best_box)))
        return tracks

    def tracks(self) -> list[TrackSummary]:
        return list(self._tracks)

    def track_ids(self) -> set[int]:
        return {t.track_id for t in self._tracks}

    def time_of(self, frame: int) -> float:
        return self.times.get(frame, frame / (self.info.fps or 25.0))

    def crop(self, track_id: int) -> np.ndarray:
        """RGB picture of the track at its largest box (made for every track in one pass)."""
        with self._lock:
            if not self._crops and self._tracks:
                wanted = {t.best_frame: [] for t in self._tracks}
                for t in self._tracks:
                    wanted[t.best_frame].append(t)
                for frame in read_frames(self.video, wanted=lambda i: i in wanted):
                    for t in wanted.get(frame.index, ()):
                        self._crops[t.track_id] = _crop(frame.image, t.best_box)
                    if frame.image is not None and len(self._crops) == len(self._tracks):
                        break
            if track_id not in self._crops:
                raise KeyError(track_id)
            return self._crops[track_id]

    # -- frames -------------------------------------------------------------------------
    def frame(self, index: int) -> np.ndarray:
        """The source frame at `index`, BGR, upright."""
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
            image = _decode_at(self.video, index, self.time_of(index), self.info)
            self._cache[index] = image
            while len(self._cache) > FRAME_CACHE:
                self._cache.popitem(last=False)
            return image

    def detections_at(self, index: int, edits: Edits | None = None) -> Detections:
        """What the render will cover at `index`: the run's boxes (held included) plus drawn
        boxes (interpolated between two drawn boxes of a track), minus unmasked tracks."""
        edits = edits or Edits()
        parts = [self.by_frame.get(index, Detections.empty())]
        drawn = manual_boxes_at(edits.drawn, index)
        if len(drawn):
            parts.append(drawn)
        found = Detections.concat(parts)
        if edits.unmask and len(found):
            found = found[~np.isin(found.track_id, sorted(edits.unmask))]
        return found

    def preview(self, index: int, edits: Edits | None = None, style: MaskStyle | None = None) -> np.ndarray:
        """RGB frame as it will be rendered, each covered box outlined in its track's colour
        with its id; unmasked tracks are outlined dashed-thin and left uncovered."""
        edits = edits or Edits()
        image = self.frame(index).copy()
        found = self.detections_at(index, edits)
        cover(image, found, style or self.style)
        all_here = self.detections_at(index, Edits(drawn=edits.drawn))
        thick = max(2, round(max(image.shape[:2]) / 400))
        for box, track, kind in zip(all_here.xyxy, all_here.track_id, all_here.kind):
            r, g, b = track_colour(int(track))
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            width = 1 if int(track) in edits.unmask else thick
            cv2.rectangle(image, (x1, y1), (x2, y2), (b, g, r), width)
            label = f"{track}" + (" drawn" if kind == MANUAL else " held" if kind == HELD else "")
            cv2.putText(image, label, (x1 + 2, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 + thick * 0.1, (b, g, r), max(1, thick // 2), cv2.LINE_AA)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    # -- output -------------------------------------------------------------------------
    def write_csv(self, edits: Edits, path: str | Path) -> Path:
        """The edited detections.csv: the run's detected and manual rows, plus drawn boxes as
        manual rows. Held rows are left out (the render's hold recreates them); unmasked
        tracks stay in the file (the render is told to leave them uncovered)."""
        path = Path(path)
        rows: list[list[str]] = []
        drawn_by_frame: dict[int, list[DrawnBox]] = {}
        for box in edits.drawn:
            drawn_by_frame.setdefault(box.frame, []).append(box)
        for frame in sorted(set(self.by_frame) | set(drawn_by_frame)):
            found = self.by_frame.get(frame, Detections.empty())
            found = found[found.kind != HELD]
            extra = drawn_by_frame.get(frame, [])
            if extra:
                found = Detections.concat([found, _as_manual(extra)])
            rows.extend(csv_rows(frame, self.time_of(frame), found))
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_HEADER)
            writer.writerows(rows)
        return path

    def next_track_id(self, edits: Edits) -> int:
        used = self.track_ids() | {b.track_id for b in edits.drawn}
        return max(used, default=0) + 1


def manual_boxes_at(drawn: list[DrawnBox], index: int) -> Detections:
    """Drawn boxes at `index`: each track's box on that frame, or interpolated linearly
    between its drawn boxes on the nearest frames before and after."""
    by_track: dict[int, list[DrawnBox]] = {}
    for box in drawn:
        by_track.setdefault(box.track_id, []).append(box)
    out = []
    for track_id, boxes in by_track.items():
        boxes.sort(key=lambda b: b.frame)
        here = [b for b in boxes if b.frame == index]
        if here:
            out.extend(here)
            continue
        before = [b for b in boxes if b.frame < index]
        after = [b for b in boxes if b.frame > index]
        if before and after:
            a, b = before[-1], after[0]
            t = (index - a.frame) / (b.frame - a.frame)
            out.append(DrawnBox(index, tuple((1 - t) * np.array(a.box) + t * np.array(b.box)), track_id))
    return _as_manual(out)


def _as_manual(boxes: list[DrawnBox]) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(xyxy=np.array([b.box for b in boxes], np.float32),
                      track_id=np.array([b.track_id for b in boxes], np.int32),
                      kind=np.full(len(boxes), MANUAL, object))


def _row_times(path: str | Path) -> dict[int, float]:
    times: dict[int, float] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            try:
                times.setdefault(int(row["frame"]), float(row.get("time_s") or "nan"))
            except (KeyError, TypeError, ValueError):
                continue
    return {k: v for k, v in times.items() if v == v}


def _crop(image: np.ndarray, box) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, max(x2, x1 + 1)), min(h, max(y2, y1 + 1))
    crop = image[y1:y2, x1:x2]
    scale = CROP_SIZE / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def _decode_at(path: Path, index: int, time_s: float, info: VideoInfo) -> np.ndarray:
    """Frame `index`: seek to a keyframe before its time, then decode forward, counting
    frames by time. Falls back to decoding from the start when the seek lands wrong."""
    fps = info.fps or 25.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        time_base = stream.time_base
        use_pts = "avi" not in container.format.name.split(",")
        if use_pts and time_base and time_s > 1.0:
            container.seek(start + int((time_s - 1.0) / time_base), stream=stream, backward=True)
            for decoded in container.decode(stream):
                if decoded.pts is None:
                    break
                t = float((decoded.pts - start) * time_base)
                if abs(t - time_s) < 0.5 / fps:
                    return upright(decoded.to_ndarray(format="bgr24"), int(decoded.rotation or 0))
                if t > time_s:
                    break
    for frame in read_frames(path, wanted=lambda i: i == index):
        if frame.index == index:
            return frame.image
    raise InputError(f"Frame {index} is past the end of {path.name}")
