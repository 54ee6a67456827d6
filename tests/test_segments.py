"""One long video split into segments across workers (issue 33): `--workers N` / `--ray` on
one file.

A 12-s 480x270 clip with real faces, a marker square flashed on known frames and a click in
the audio at each flash, cut into 5-s segments (two: frames 0-124 and 125-299). Checked
against a single run of the same settings: the same frames (count, ZIP names, pixels of the
images), the same detections.csv (global frame numbers, track ids unique and kept across the
boundary), every box the single run masks near a boundary masked too, the joined video's
flashes on the same frames and its clicks within one frame of the source's. Boxes replayed
from a CSV (no model) put a track's end, a track's start and a gap right at the boundary, so
the overlap's work is visible: without it the held boxes there go missing. A worker killed
mid-segment is replaced and only its segment redone; a cancelled run and a failed segment
leave nothing, the failure naming the segment's time range.
"""
from __future__ import annotations

import json
import contextlib
import threading
from pathlib import Path

import numpy as np
import pytest
from batchkit import kill_the_writer
from mediakit import truncated_copy
from segmentkit import (
    FPS,
    click_times,
    flashed_frames,
    flashes,
    video_frames,
    write_face_clip,
    zip_images,
    zip_rows,
)

from pipeline import InputError, Settings, run_to_result
from pipeline.batch.long_run import run_segmented
from pipeline.batch.segments import plan_segments
from pipeline.events import Result
from pipeline.io.video import probe_video

SECONDS = 12.0
BOUNDARY = 125  # 5 s at 25 fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_face_clip(tmp_path_factory.mktemp("segclip") / "clip.mp4", SECONDS)


@pytest.fixture(scope="module")
def boxes_csv(tmp_path_factory) -> Path:
    """Three tracks at the boundary: one ends 3 frames before it (held into segment 2), one
    starts 3 frames after it (held back into segment 1), one has a gap across it
    (interpolated over it); a fourth far from it."""
    rows = ["frame,x1,y1,x2,y2,score,track_id"]
    spans = {1: [(90, 122)], 2: [(128, 170)], 3: [(105, 120), (131, 150)], 4: [(10, 40)]}
    for track, parts in spans.items():
        for first, last in parts:
            for frame in range(first, last + 1):
                x = 40 + 90 * (track - 1) + (frame - first) // 4
                rows.append(f"{frame},{x},60,{x + 60},{140},0.9,{track}")
    path = tmp_path_factory.mktemp("segcsv") / "boxes.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _segmented(clip, settings, out: Path, video: bool = True, **engine) -> Result:
    result = None
    for event in run_segmented(clip, settings, output=out / "seg.zip", video_output=out / "seg.mp4" if video else None,
                               **engine):
        if isinstance(event, Result):
            result = event
    return result


def _single(clip, settings, out: Path) -> Result:
    return run_to_result(clip, settings, output=out / "single.zip", video_output=out / "single.mp4")


def _key(row: dict) -> tuple:
    return row["frame"], row["x1"], row["y1"], row["x2"], row["y2"], row["kind"], row["track_id"]


def _assert_same_video(single: Path, joined: Path, clip: Path, joined_zip: Path) -> None:
    a, b = video_frames(single), video_frames(joined)
    assert len(b) == len(a) == round(SECONDS * FPS)  # every frame once: a part joined twice adds frames
    assert [t for t, _ in b] == pytest.approx([t for t, _ in a], abs=1e-3)
    assert flashed_frames(b) == flashed_frames(a) == flashes(SECONDS)
    source_clicks = click_times(clip)
    assert len(click_times(joined)) == len(source_clicks)
    assert np.max(np.abs(np.array(click_times(joined)) - source_clicks)) < 1 / FPS
    for (_, x), (_, y) in zip(a, b):  # the same picture, up to the encoder's own choices
        assert np.abs(x.astype(np.int16) - y).mean() < 6
    source = video_frames(clip)
    for row in zip_rows(joined_zip):  # every box is masked in the joined video as in the single run's
        frame = int(row["frame"])
        x1, y1, x2, y2 = (int(float(row[k])) for k in ("x1", "y1", "x2", "y2"))
        region = b[frame][1][y1:y2, x1:x2].astype(np.int16)
        assert np.abs(region - a[frame][1][y1:y2, x1:x2]).mean() < np.abs(region - source[frame][1][y1:y2, x1:x2]).mean()


def test_segments_cover_the_video_once_with_overlaps(clip):
    info = probe_video(clip)
    settings = Settings(segment_s=5, hold_s=0.5, interval=5)
    segments = plan_segments(info, settings, looks_at_pixels=True)
    assert [(s.own_start, s.own_end) for s in segments] == [(0, BOUNDARY), (BOUNDARY, None)]
    assert segments[0].read_end - BOUNDARY >= FPS and BOUNDARY - segments[1].read_start >= FPS  # >= 1 s
    assert segments[1].read_start % 5 == 0  # on a capture: the same frames detected as in one run
    assert plan_segments(info, Settings(segment_s=7), True) is None  # shorter than two segments
    assert plan_segments(info, Settings(segment_s=0), True) is None


def test_boxes_held_across_a_boundary_are_those_of_a_single_run(clip, boxes_csv, tmp_path):
    """Replayed boxes, --workers 2, with a worker killed mid-segment: the same rows, images
    and video as one process, only the killed segment redone."""
    settings = Settings(detections_csv=boxes_csv, segment_s=5, hold_s=0.5, interval=5)
    single = _single(clip, settings, tmp_path)
    killed: list[int] = []
    killer = threading.Thread(target=kill_the_writer, args=(tmp_path, killed, 120.0), daemon=True)
    killer.start()
    joined = _segmented(clip, settings, tmp_path, workers=2)
    killer.join(5)
    assert killed, "no worker was caught mid-segment"
    rows, expected = zip_rows(joined.zip_path), zip_rows(single.zip_path)
    near = {str(f) for f in range(BOUNDARY - 12, BOUNDARY + 12)}
    assert {r["kind"] for r in expected if r["frame"] in near} >= {"held", "detected"}
    assert [_key(r) for r in rows] == [_key(r) for r in expected]
    assert zip_images(joined.zip_path) == zip_images(single.zip_path)  # same names, same bytes
    assert joined.frames_read == single.frames_read == 300 and joined.video_frames == 300
    _assert_same_video(single.video_path, joined.video_path, clip, joined.zip_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # the split run ends with its audit and report too
        "seg.mp4", "seg.report.html", "seg.report.json", "seg.zip",
        "single.mp4", "single.report.html", "single.report.json", "single.zip"]
    report = json.loads((tmp_path / "seg.report.json").read_text())
    assert report["outputs"][0]["name"] == "seg.zip" and report["input"]["name"] == "clip.mp4"


def test_real_faces_near_boundaries_are_covered_as_in_a_single_run(clip, tmp_path):
    """CenterFace: every face the single run masks within one second of the boundary is
    masked in the joined output (the same box, the same image bytes), and a face seen on both
    sides of the boundary keeps one track id."""
    settings = Settings(target="face", segment_s=5, interval=5)
    single = run_to_result(clip, settings, output=tmp_path / "single.zip")  # ZIP only: the video is checked above
    joined = _segmented(clip, settings, tmp_path, video=False, workers=2)
    images, expected = zip_images(joined.zip_path), zip_images(single.zip_path)
    assert sorted(images) == sorted(expected) and len(images) == 60
    rows, single_rows = zip_rows(joined.zip_path), zip_rows(single.zip_path)
    near = [r for r in single_rows if abs(int(r["frame"]) - BOUNDARY) <= FPS]
    assert len(near) >= 10, "the clip has faces at the boundary"
    boxes = {}
    for r in rows:
        boxes.setdefault(r["frame"], []).append(np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")]))
    for r in near:
        box = np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
        assert any(np.abs(other - box).max() < 2 for other in boxes.get(r["frame"], [])), r
    for name in expected:  # the images near the boundary: the same pixels
        frame = int(name.split("_")[1])
        if abs(frame - BOUNDARY) <= FPS:
            assert images[name] == expected[name], name
    by_track = {}
    for r in rows:
        by_track.setdefault(r["track_id"], set()).add(int(r["frame"]) >= BOUNDARY)
    assert {True, False} in by_track.values(), "a face on both sides of the boundary keeps its track id"
    assert joined.frames_read == single.frames_read == 300
    people = lambda rows: {r["person"] for r in rows if r["person"]}  # noqa: E731
    assert len(people(rows)) == len(people(single_rows)), "people grouped by face over the whole video"


def test_large_frames_decoded_again_to_be_masked_are_each_segments_own(clip, tmp_path):
    """A budget too small to keep the look-ahead's full frames (as at 4K) makes detection read
    small copies and the renderer decode the full frames again (jobs/reread.py): in a segment
    that second read is its own range, so the joined output is the single run's."""
    from pipeline.jobs.budget import plan_buffers
    from pipeline.io.video import probe_video

    settings = Settings(target="face", imgsz=256, segment_s=5, interval=5, memory_mb=10)
    assert plan_buffers(settings, probe_video(clip), make_video=True).reread, "the small budget rereads"
    single = _single(clip, settings, tmp_path)
    joined = _segmented(clip, settings, tmp_path, workers=2)  # it used to fail: its second read began at 0
    assert sorted(zip_images(joined.zip_path)) == sorted(zip_images(single.zip_path))
    assert joined.video_frames == single.video_frames == 300
    boxes = {}  # the small copies are scaled by another path in a segment: boxes may move a little
    for r in zip_rows(joined.zip_path):
        boxes.setdefault(r["frame"], []).append([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
    missed = []
    for r in zip_rows(single.zip_path):
        box = np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
        theirs = np.array(boxes.get(r["frame"], [[0, 0, 0, 0]]), np.float32)
        lo, hi = np.maximum(theirs[:, :2], box[:2]), np.minimum(theirs[:, 2:], box[2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        if (inter / np.prod(box[2:] - box[:2])).max() < 0.8:
            missed.append(r["frame"])
    assert not missed, f"boxes of the single run not covered by the joined run's: frames {missed}"


def test_people_seen_in_two_segments_are_one_person_by_their_faces():
    """same_people: a segment's person whose faces match an earlier segment's person (within
    the threshold, nearest first, each earlier person once a segment) is that person."""
    from pipeline.batch.join import same_people

    rng = np.random.default_rng(0)
    alice, bob, carol = (rng.normal(size=128) for _ in range(3))
    near = lambda v: [v + rng.normal(scale=0.01, size=128) for _ in range(2)]  # noqa: E731
    parts = [{"faces": {1: near(alice), 2: near(bob)}}, {"faces": {1: near(carol)}},
             {"faces": {4: near(bob), 5: near(alice), 6: near(alice)}}]
    alias = same_people(parts, 0.5)
    assert alias.pop((2, 4)) == (0, 2) and list(alias.values()) == [(0, 1)], "alice once a segment; carol is new"
    assert set(alias) <= {(2, 5), (2, 6)}
    assert same_people(parts, 0.0) == {}


def test_ray_gives_the_single_runs_output(clip, boxes_csv, tmp_path):
    pytest.importorskip("ray")
    settings = Settings(detections_csv=boxes_csv, segment_s=5, hold_s=0.5, interval=5)
    single = _single(clip, settings, tmp_path)
    joined = _segmented(clip, settings, tmp_path, ray="local", workers=2)
    assert [_key(r) for r in zip_rows(joined.zip_path)] == [_key(r) for r in zip_rows(single.zip_path)]
    assert zip_images(joined.zip_path) == zip_images(single.zip_path)
    _assert_same_video(single.video_path, joined.video_path, clip, joined.zip_path)


def test_a_broken_range_fails_naming_it_and_leaves_nothing(clip, boxes_csv, tmp_path):
    (tmp_path / "in").mkdir()
    broken = truncated_copy(clip, tmp_path / "in" / "cut.mp4", 0.3)
    settings = Settings(detections_csv=boxes_csv, segment_s=5, interval=5)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=r"cut\.mp4: the segment 0:0\d\.\d\d-0:\d\d\.\d\d "):
        _segmented(broken, settings, out, workers=2)
    assert list(out.iterdir()) == []


def test_a_cancelled_run_leaves_nothing(clip, boxes_csv, tmp_path):
    settings = Settings(detections_csv=boxes_csv, segment_s=5, interval=5)
    events = run_segmented(clip, settings, output=tmp_path / "seg.zip", video_output=tmp_path / "seg.mp4", workers=2)
    with contextlib.closing(events):
        for event in events:
            if event.stage == "processing" and event.frames_read > 0:
                break
    assert list(tmp_path.iterdir()) == []


def test_one_file_with_workers_or_ray_is_one_split_run_and_a_folder_output_stays_a_batch(clip, tmp_path):
    from pipeline.cli.args import build_parser, settings_from_args
    from pipeline.cli.batch import is_batch, is_segmented
    from pipeline.errors import SettingsError

    parse = build_parser().parse_args
    for flags in (["--workers", "2"], ["--ray"], ["--ray", "auto"]):
        args = parse([str(clip), "-o", str(tmp_path / "x.zip"), "--segment-s", "15", *flags])
        assert is_segmented(args) and not is_batch(args), flags
        assert settings_from_args(args).segment_s == 15
    assert not is_segmented(parse([str(clip), "--workers", "1"]))  # one worker: nothing to split over
    args = parse([str(clip), "--workers", "2", "-o", str(tmp_path)])  # -o OUT_DIR: a batch of one, as before
    assert is_batch(args) and not is_segmented(args)
    assert settings_from_args(parse([str(clip)])).segment_s == Settings().segment_s == 60
    for bad in (-1, 2, 10**6):
        with pytest.raises(SettingsError, match="segment length"):
            Settings(segment_s=bad)


def test_a_batch_splits_its_long_video_and_runs_the_short_one_whole(clip, tmp_path, capsys):
    """`INPUT_DIR --workers 2`: the 12-s video is split (5-s segments) and joined into the
    ZIP a single run gives; the 4-s one runs whole; nothing else is left in OUT_DIR."""
    from batchkit import run_cli

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "long.mp4").write_bytes(clip.read_bytes())
    write_face_clip(folder / "short.mp4", 4.0)
    flags = ["--target", "face", "--interval", "10", "--segment-s", "5"]
    settings = Settings(target="face", interval=10, segment_s=5)
    single = run_to_result(clip, settings, output=tmp_path / "single.zip")
    out = tmp_path / "out"
    code, lines, err = run_cli([folder, "-o", out, "--workers", "2", *flags], capsys)
    assert code == 0, err
    assert [(Path(line["input"]).name, line["status"]) for line in lines] == [("long.mp4", "done"), ("short.mp4", "done")]
    assert lines[0]["frames_read"] == 300 and lines[0]["images"] == 30
    assert zip_images(out / "long_mosaic.zip") == zip_images(single.zip_path)
    assert [_key(r)[:6] for r in zip_rows(out / "long_mosaic.zip")] == [_key(r)[:6] for r in zip_rows(single.zip_path)]
    assert sorted(p.name for p in out.iterdir()) == [  # each video's report too, the split one's included
        "long_mosaic.report.html", "long_mosaic.report.json", "long_mosaic.zip",
        "short_mosaic.report.html", "short_mosaic.report.json", "short_mosaic.zip"]
    assert lines[0]["report"] and lines[0]["report"][0].endswith("long_mosaic.report.json")
