"""The segments of one video joined into the outputs of a single run.

ZIP: every segment's images, in frame order, under their own names (global frame numbers),
and one detections.csv whose track ids (and person numbers) are renumbered to be unique over
the whole video, in order of first appearance. A track that runs across a boundary keeps one
id: the boxes a segment detected past its end (its overlap, `tail_rows`) are matched to the
next segment's boxes on the same frames (IoU), and the next segment's track takes the id
(and its person, the person's number). People seen in two segments, not on a track across
the boundary, are grouped by their faces as one process groups them (same_people: each
segment hands over its people's face descriptors, in memory only).

Video: the segments' H.264 streams (each starts on a keyframe, no B-frames) copied packet by
packet into one stream, each part at its own first frame's time; then the source's audio is
added once over the whole track by the same mux a single run uses (io/video_sink.py), so it
stays in sync and the voice options apply the same way.
"""
from __future__ import annotations

import collections
import csv
import io
import os
import zipfile
from pathlib import Path

import av
import numpy as np

from ..errors import OutputError
from ..events import COMPLETED, IMAGE_CAP, SIZE_CAP
from ..io.zip_sink import ZipSink
from ..io.video_sink import _mux_with_audio

CSV_NAME = "detections.csv"
FRAME, TRACK, KIND, PERSON = 0, 8, 9, 11
MATCH_IOU = 0.5


def _iou(a: list[str], b: list[str]) -> float:
    ax1, ay1, ax2, ay2 = (float(v) for v in a[2:6])
    bx1, by1, bx2, by2 = (float(v) for v in b[2:6])
    w, h = min(ax2, bx2) - max(ax1, bx1), min(ay2, by2) - max(ay1, by1)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter)


def stitch(tail_rows: list[list[str]], next_rows: list[list[str]]) -> dict[int, int]:
    """Next segment's track id -> previous segment's, for tracks seen by both on the same
    frames (each previous track given to at most one next track, most shared boxes first)."""
    by_frame = collections.defaultdict(list)
    for row in tail_rows:
        if row[TRACK]:
            by_frame[row[FRAME]].append(row)
    votes = collections.Counter()
    for row in next_rows:
        if row[TRACK] and row[FRAME] in by_frame:
            best = max(by_frame[row[FRAME]], key=lambda other: _iou(row, other))
            if _iou(row, best) >= MATCH_IOU:
                votes[(int(row[TRACK]), int(best[TRACK]))] += 1
    links, taken = {}, set()
    for (mine, theirs), _ in votes.most_common():
        if mine not in links and theirs not in taken:
            links[mine] = theirs
            taken.add(theirs)
    return links


class _Ids:
    """(segment, local id) -> a number unique over the video, in order of first appearance."""

    def __init__(self, fixed: frozenset[int] = frozenset()):
        self.ids: dict[tuple[int, int], int] = {}
        self.fixed = fixed  # a replayed CSV's ids: the same in every segment, kept as they are
        self.count = max(fixed, default=0)

    def get(self, key: tuple[int, int], same_as: tuple[int, int] | None = None) -> int:
        if key[1] in self.fixed:
            return key[1]
        if key not in self.ids:
            if same_as in self.ids:
                self.ids[key] = self.ids[same_as]
            else:
                self.count += 1
                self.ids[key] = self.count
        return self.ids[key]


def _read_part(path: Path) -> tuple[list[list[str]], list[tuple[int, str]]]:
    """A segment ZIP's CSV rows (no header) and its images as (frame, name)."""
    with zipfile.ZipFile(path) as archive:
        text = archive.read(CSV_NAME).decode("utf-8")
        images = [(int(name.split("_")[1]), name) for name in archive.namelist() if name != CSV_NAME]
    return list(csv.reader(io.StringIO(text)))[1:], images


def same_people(parts: list[dict], threshold: float) -> dict[tuple[int, int], tuple[int, int]]:
    """(segment, local person) -> an earlier segment's person whose face it matches (nearest
    descriptor distance <= threshold, each earlier person taken once a segment): one person
    seen in two segments, not on one track across their boundary, gets one number."""
    earlier: list[tuple[tuple[int, int], list]] = []  # (segment, person), descriptors
    alias: dict[tuple[int, int], tuple[int, int]] = {}
    for number, part in enumerate(parts):
        faces = part.get("faces") or {}
        pairs = []
        for person, mine in faces.items():
            for key, theirs in earlier:
                d = min(float(np.linalg.norm(np.asarray(a) - np.asarray(b))) for a in mine for b in theirs)
                if d <= threshold:
                    pairs.append((d, int(person), key))
        taken, matched = set(), set()
        for _, person, key in sorted(pairs, key=lambda p: p[0]):
            if person not in matched and key not in taken:
                alias[(number, person)] = key  # a person of the segment it was first seen in
                matched.add(person)
                taken.add(key)
        earlier += [((number, int(person)), mine) for person, mine in faces.items() if (number, int(person)) not in alias]
    return alias


def join_zips(parts: list[dict], output: Path, max_bytes: int | None, max_images: int | None,
              temp_dir: Path, fixed_ids: frozenset[int] = frozenset(),
              track_ids: dict | None = None, face_match: float | None = None) -> tuple[Path, int, int, str]:
    """One ZIP from the segments' (in order). Returns (path, images, rows, stop reason).
    `fixed_ids`: track ids a replayed CSV gave, kept; the others are renumbered after them.
    `track_ids`, when given, is filled with (segment, local track id) -> the joined id."""
    tracks, people = _Ids(fixed_ids), _Ids()
    if track_ids is not None:
        tracks.ids = track_ids
    alias = same_people(parts, face_match) if face_match is not None else {}
    person_of: dict[tuple[int, int], int] = {}  # (segment, local track) -> its local person
    sink = ZipSink(output, max_bytes, temp_dir=temp_dir)
    reason = COMPLETED
    try:
        previous_tail: list[list[str]] = []
        for number, part in enumerate(parts):
            rows, images = _read_part(Path(part["zip"]))
            links = stitch(previous_tail, rows) if number else {}
            previous_tail = part["tail_rows"]
            for row in rows:
                local = int(row[TRACK]) if row[TRACK] else None
                if local is not None:
                    same = (number - 1, links[local]) if local in links else None
                    row[TRACK] = str(tracks.get((number, local), same))
                if len(row) > PERSON and row[PERSON]:
                    person = int(row[PERSON])
                    if local is not None:
                        person_of[(number, local)] = person
                    # a person's track that runs on from the last segment is that person
                    before = person_of.get((number - 1, links[local])) if local in links else None
                    same = (number - 1, before) if before is not None else alias.get((number, person))
                    row[PERSON] = str(people.get((number, person), same))
            by_frame = collections.defaultdict(list)
            for row in rows:
                by_frame[int(row[FRAME])].append(row)
            names = dict(images)
            with zipfile.ZipFile(part["zip"]) as archive:
                for frame in sorted(set(by_frame) | set(names)):
                    if frame not in names:
                        if not sink.add_rows(by_frame[frame]):
                            reason = SIZE_CAP
                    elif max_images is not None and sink.images >= max_images:
                        reason = IMAGE_CAP
                    elif not sink.add_image(names[frame], archive.read(names[frame]), by_frame[frame]):
                        reason = SIZE_CAP
                    if reason != COMPLETED:
                        break
            if reason != COMPLETED:
                break
        rows_total = sink.rows
        return sink.close(), sink.images, rows_total, reason
    except BaseException:
        sink.abort()
        raise


def join_videos(parts: list[dict], source: Path, output: Path, audio) -> int:
    """One MP4 from the segments' streams plus the source audio. Returns its frame count."""
    joined = output.with_name(output.name + ".video.partial")
    partial = output.with_name(output.name + ".partial")
    frames = 0
    try:
        with av.open(str(joined), mode="w", format="mp4") as out:
            out_stream, extradata = None, None
            for part in parts:
                with av.open(part["video"]) as part_in:
                    stream = part_in.streams.video[0]
                    if out_stream is None:
                        out_stream = out.add_stream_from_template(stream)
                        extradata = stream.codec_context.extradata
                    elif stream.codec_context.extradata != extradata:
                        raise OutputError(f"Video segment {part['segment']} was encoded with other parameters: "
                                          "it cannot be joined without re-encoding")
                    shift = None
                    for packet in part_in.demux(stream):
                        if packet.dts is None:
                            continue  # the demuxer's end marker
                        if shift is None:
                            shift = round(part["first_time_s"] / packet.time_base) - packet.pts
                        packet.pts += shift
                        packet.dts += shift
                        packet.stream = out_stream
                        out.mux(packet)
                        frames += 1
        _mux_with_audio(joined, source, partial, None, audio)
        os.replace(partial, output)
    except (OSError, av.FFmpegError) as err:
        partial.unlink(missing_ok=True)
        raise OutputError(f"Joining the video segments failed: {err}") from err
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        joined.unlink(missing_ok=True)
    return frames
