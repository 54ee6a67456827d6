"""Tracking and review renders (issues 9 and 10): ByteTrack ids through a crossing and a miss,
the hold over the miss, tracks left unmasked, drawn (manual) boxes interpolated between their
frames, bad review input, and renders from detections that never load the model.

Every render here replays a CSV on real footage, writes PNG (lossless) with the `fill`
style, and is checked pixel by pixel against frames decoded independently with PyAV: a
covered pixel is black, every other pixel equals the source. The one-pixel ring around
each expected region is left out of both checks, so float rounding of an interpolated box
edge cannot decide a test."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mediakit import decode_frames, leftovers, padded_box, read_zip
from pipeline import InputError, Settings, SettingsError, run_to_result
from pipeline.detections import Detections
from pipeline.track.tracking import TemporalHold

REPO = Path(__file__).resolve().parents[1]
CLIP40 = REPO / "ui" / "assets" / "vtest_clip.mp4"  # 40 frames of vtest.avi, 768x576, 10 fps
W, H, FRAMES = 768, 576, 30  # the excerpt, tests/data/vtest_3s.mp4
FILL = dict(interval=1, image_format="png", style="fill")  # hold_s stays 0.5 s = 5 frames


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["frame", "x1", "y1", "x2", "y2", "score", "class", "track_id", "kind"])
        writer.writeheader()
        for row in rows:
            writer.writerow({"class": 0, "kind": "detected", **row})
    return path


def row(frame: int, box, **extra) -> dict:
    return {"frame": frame, **dict(zip(("x1", "y1", "x2", "y2"), box)), **extra}


def check_frame(out: np.ndarray, src: np.ndarray, boxes, label: str, pad: float = 10.0) -> None:
    """`out` is `src` with the padded `boxes` filled black and nothing else changed."""
    h, w = src.shape[:2]
    inner, outer = np.zeros((h, w), bool), np.zeros((h, w), bool)
    for box in boxes:
        region = padded_box(box, pad, w, h)
        if region is None:
            continue
        x1, y1, x2, y2 = region
        outer[max(0, y1 - 1):y2 + 1, max(0, x1 - 1):x2 + 1] = True
        inner[y1 + 1:y2 - 1, x1 + 1:x2 - 1] = True
    changed = np.any(out != src, axis=2)
    assert not changed[~outer].any(), f"{label}: {int(changed[~outer].sum())} pixels changed outside every box"
    assert (out[inner] == 0).all(), f"{label}: {int(np.any(out[inner] != 0, axis=1).sum())} pixels left uncovered"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


# -- ByteTrack through a crossing and a miss --------------------------------------------
def person_a(f: int):  # walks right
    return (150.0 + 14 * f, 180.0, 210.0 + 14 * f, 330.0)


def person_b(f: int):  # walks left, crossing A around frame 15
    return (560.0 - 14 * f, 200.0, 626.0 - 14 * f, 370.0)


A_MISSED = (20, 21, 22)  # the detector does not see A on these frames
B_OCCLUDED = range(13, 18)  # B is behind A: a low score (conf is 0.2)


def crossing_rows(occluded_score: float = 0.22) -> list[dict]:
    rows = []
    for f in range(FRAMES):
        if f not in A_MISSED:
            rows.append(row(f, person_a(f), score=0.8))
        rows.append(row(f, person_b(f), score=occluded_score if f in B_OCCLUDED else 0.8))
    return rows


def test_bytetrack_keeps_ids_through_a_crossing_and_a_miss_and_the_hold_covers_it(excerpt, tmp_path):
    boxes = write_csv(tmp_path / "crossing.csv", crossing_rows())  # no track ids: the tracker names them
    result = run_to_result(excerpt, Settings(detections_csv=boxes, **FILL), output=tmp_path / "o.zip",
                           work_dir=tmp_path)
    contents = read_zip(result.zip_path)
    ids = {"A": set(), "B": set()}
    held = []
    for r in contents.csv_rows():
        f, box = int(r["frame"]), [float(r[k]) for k in ("x1", "y1", "x2", "y2")]
        who = "A" if np.allclose(box, person_a(f), atol=0.051) else "B" if np.allclose(box, person_b(f), atol=0.051) else None
        assert who, f"frame {f}: unexpected box {box}"
        ids[who].add(r["track_id"])
        if r["kind"] == "held":
            held.append((who, f))
    assert len(ids["A"]) == len(ids["B"]) == 1 and ids["A"] != ids["B"], ids
    assert "" not in ids["A"] | ids["B"]
    assert sorted(held) == [("A", f) for f in A_MISSED], "the miss is held (interpolated), nothing else"
    assert len(contents.csv_rows()) == 2 * FRAMES

    sources = decode_frames(excerpt)
    assert contents.frame_indices() == list(range(FRAMES))
    for f in range(FRAMES):
        check_frame(contents.image_for_frame(f), sources[f], [person_a(f), person_b(f)], f"frame {f}")


def _track_ids(rows: list[dict], hold: int = 5) -> dict[str, set[int]]:
    """Push the crossing through TemporalHold: the ids each person got, and every box output."""
    tracker = TemporalHold(hold, track_gap=10, conf=0.2)
    out = []
    for f in range(FRAMES):
        here = [r for r in rows if r["frame"] == f]
        out += tracker.push(f, f, Detections(np.array([[r[k] for k in ("x1", "y1", "x2", "y2")] for r in here],
                                                      np.float32),
                                             np.array([r["score"] for r in here], np.float32)))
    out += tracker.flush()
    ids: dict[str, set[int]] = {"A": set(), "B": set()}
    for f, found in out:
        found = found[found.seen]  # held boxes aside
        assert len(found) == (1 if f in A_MISSED else 2) and found.track_id.all(), f"frame {f}: every box, with an id"
        for box, track in zip(found.xyxy, found.track_id):
            ids["A" if np.allclose(box, person_a(f), atol=1e-3) else "B"].add(int(track))
    return ids


def test_low_score_detections_keep_the_track_through_the_occlusion():
    """ByteTrack's second association: B at 0.22 (above conf 0.2, below the high threshold)
    stays on its track; at 0.05 ByteTrack drops those detections, yet each continues B's box
    of the frame before (tracking.py's recent boxes), so they keep B's id, and A keeps its own."""
    assert len(_track_ids(crossing_rows(0.22))["B"]) == 1
    ids = _track_ids(crossing_rows(0.05))
    assert len(ids["A"]) == len(ids["B"]) == 1 and ids["A"] != ids["B"], ids


def test_new_and_unmatched_detections_get_ids_of_their_own():
    """ByteTrack outputs neither a new (unconfirmed) track nor an unmatched low score; both
    are still returned, each with a non-zero id, and a person first seen mid-video keeps the
    id its unconfirmed track had."""
    tracker = TemporalHold(0, track_gap=10, conf=0.2)
    out = []
    for f in range(6, 12):
        boxes = [(100 + 3 * f, 100, 160 + 3 * f, 260)]  # appears on frame 6, not the first frame
        scores = [0.9]
        if f == 8:
            boxes.append((500, 300, 530, 360))  # a weak, one-frame detection
            scores.append(0.21)
        out += tracker.push(f, f, Detections(np.array(boxes, np.float32), np.array(scores, np.float32)))
    out += tracker.flush()
    assert [len(found) for _, found in out] == [1, 1, 2, 1, 1, 1]
    assert len({int(found.track_id[0]) for _, found in out}) == 1
    weak = out[2][1]
    assert weak.track_id.all() and len(set(weak.track_id.tolist())) == 2


def test_replay_keeps_the_csv_track_ids_and_numbers_new_ones_after_them(excerpt, tmp_path):
    rows = [row(f, (100, 100, 160, 250), track_id=9) for f in range(0, FRAMES, 3)]
    rows += [row(f, (400 + f, 150, 460 + f, 320), track_id=5) for f in range(0, FRAMES, 3)]
    rows += [row(f, (600, 300, 660, 450)) for f in range(0, FRAMES, 3)]  # no id: the tracker's
    boxes = write_csv(tmp_path / "ids.csv", rows)
    result = run_to_result(excerpt, Settings(interval=3, detections_csv=boxes), output=tmp_path / "o.zip",
                           work_dir=tmp_path)
    by_x = {}
    for r in read_zip(result.zip_path).csv_rows():
        by_x.setdefault(round(float(r["x1"])) // 100, set()).add(int(r["track_id"]))
    assert by_x[1] == {9} and by_x[4] == {5}
    assert len(by_x[6]) == 1 and by_x[6].pop() > 9, "new ids never collide with the CSV's"


# -- tracks left unmasked -----------------------------------------------------------------
def t1(f):
    return (60.0 + 2 * f, 120.0, 130.0 + 2 * f, 330.0)


def t2(f):
    return (300.0 + 5 * f, 150.0, 380.0 + 5 * f, 400.0)


def t3(f):
    return (600.0, 250.0 - 2 * f, 680.0, 450.0 - 2 * f)


T2_SEEN = [f for f in range(5, 25) if f not in (12, 13, 14)]
T2_HELD = [0, 1, 2, 3, 4, 12, 13, 14, 25, 26, 27, 28, 29]  # 5 frames before, the gap, 5 after


def unmask_csv(path: Path) -> Path:
    rows = [row(f, t1(f), score=0.9, track_id=1) for f in range(FRAMES)]
    rows += [row(f, t2(f), score=0.9, track_id=2) for f in T2_SEEN]
    rows += [row(f, t3(f), score=0.9, track_id=3) for f in range(FRAMES)]
    return write_csv(path, rows)


def test_unmask_tracks_leaves_that_person_as_the_source_on_every_frame(excerpt, tmp_path):
    boxes = unmask_csv(tmp_path / "review.csv")
    sources = decode_frames(excerpt)

    # Without it, track 2 is covered where seen and where held.
    plain = read_zip(run_to_result(excerpt, Settings(detections_csv=boxes, **FILL), output=tmp_path / "plain.zip",
                                   work_dir=tmp_path).zip_path)
    held = sorted(int(r["frame"]) for r in plain.csv_rows() if r["track_id"] == "2" and r["kind"] == "held")
    assert held == T2_HELD
    for f in (0, 4, 13, 20, 29):
        x1, y1, x2, y2 = (int(v) for v in t2(min(max(f, 5), 24)))  # the gap 12-14 is interpolated: t2(f)
        assert (plain.image_for_frame(f)[y1 + 2:y2 - 2, x1 + 2:x2 - 2] == 0).all(), f"frame {f}: track 2 covered"

    proc = cli(str(excerpt), "-o", str(tmp_path / "unmasked.zip"), "--interval", "1", "--format", "png",
               "--style", "fill", "--detections", str(boxes), "--unmask-tracks", "2")
    assert proc.returncode == 0, proc.stderr
    contents = read_zip(tmp_path / "unmasked.zip")
    assert contents.frame_indices() == list(range(FRAMES))
    for f in range(FRAMES):  # tracks 1 and 3 covered, everything else (track 2 too) the source
        check_frame(contents.image_for_frame(f), sources[f], [t1(f), t3(f)], f"frame {f}")
    assert {r["track_id"] for r in contents.csv_rows()} == {"1", "3"}, "detections.csv lists covered boxes"


# -- drawn (manual) boxes -------------------------------------------------------------------
DRAWN_10, DRAWN_30 = (100.0, 100.0, 180.0, 300.0), (400.0, 160.0, 500.0, 400.0)
LOOSE = (600.0, 50.0, 660.0, 150.0)  # drawn on frame 35 without a track id


def drawn_path(f: int):
    """Where track 4 must be covered: interpolated from 10 to 30, held 5 frames beyond."""
    if 5 <= f <= 10:
        return DRAWN_10
    if 30 <= f <= 35:
        return DRAWN_30
    if 10 < f < 30:
        t = (f - 10) / 20
        return tuple((1 - t) * a + t * b for a, b in zip(DRAWN_10, DRAWN_30))
    return None


@pytest.mark.parametrize("interval", [1, 7])
def test_manual_boxes_cover_the_linear_path_between_their_frames(tmp_path, interval):
    boxes = write_csv(tmp_path / "drawn.csv", [
        row(10, DRAWN_10, track_id=4, kind="manual"), row(30, DRAWN_30, track_id=4, kind="manual"),
        row(35, LOOSE, kind="manual"),
    ])
    settings = Settings(detections_csv=boxes, **{**FILL, "interval": interval})
    contents = read_zip(run_to_result(CLIP40, settings, output=tmp_path / "o.zip", work_dir=tmp_path).zip_path)
    sources = decode_frames(CLIP40)
    assert contents.frame_indices() == list(range(0, 40, interval))
    for f in contents.frame_indices():
        expected = [b for b in (drawn_path(f), LOOSE if 30 <= f <= 39 else None) if b is not None]
        check_frame(contents.image_for_frame(f), sources[f], expected, f"frame {f}")
    rows = contents.csv_rows()
    manual = {(int(r["frame"]), r["track_id"]) for r in rows if r["kind"] == "manual"}
    assert {m for m in manual if m[1] == "4"} == {(f, "4") for f in (10, 30) if f % interval == 0}
    loose = {r["track_id"] for r in rows if float(r["x1"]) == LOOSE[0]}
    assert len(loose) == 1 and int(loose.pop()) > 4, "a drawn box without an id gets a new one, held like a detection"


# -- bad review input -----------------------------------------------------------------------
def _one_line_error(caught, *words: str) -> None:
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


@pytest.mark.parametrize("name, text, words", [
    ("columns.csv", "frame,x1,y1,x2\n0,10,10,50\n", ("columns.csv", "line 1", "y2")),
    ("outside.csv", "frame,x1,y1,x2,y2\n0,10,10,50,50\n3,800,10,900,50\n", ("outside.csv", "line 3", "outside")),
    ("late.csv", "frame,x1,y1,x2,y2\n30,10,10,50,50\n", ("late.csv", "line 2", "frame 30", "past the end")),
])
def test_bad_review_csv_is_one_error_naming_the_line(excerpt, tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        run_to_result(excerpt, Settings(detections_csv=path), output=tmp_path / "o.zip", work_dir=tmp_path)
    _one_line_error(caught, *words)
    assert not leftovers(tmp_path)


def test_unknown_track_id_is_one_error_naming_it_before_any_work(excerpt, tmp_path):
    boxes = unmask_csv(tmp_path / "review.csv")
    proc = cli(str(excerpt), "-o", str(tmp_path / "o.zip"), "--detections", str(boxes), "--unmask-tracks", "2,42")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "track 42 " in lines[0] and "review.csv" in lines[0], lines
    assert not (tmp_path / "o.zip").exists() and not leftovers(tmp_path)

    with pytest.raises(SettingsError) as caught:
        Settings(unmask_tracks=(3,))
    _one_line_error(caught, "detections CSV")
    with pytest.raises(SettingsError):
        Settings(detections_csv=boxes, unmask_tracks=(0,))
    proc = cli(str(excerpt), "--detections", str(boxes), "--unmask-tracks", "3,x")
    assert proc.returncode == 2 and "'x'" in proc.stderr


def test_a_render_with_nothing_to_change_writes_the_source_frames(excerpt, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("frame,time_s,x1,y1,x2,y2,score,class,track_id,kind,target\n")
    result = run_to_result(excerpt, Settings(detections_csv=empty, interval=6, image_format="png"),
                           output=tmp_path / "o.zip", work_dir=tmp_path)
    contents = read_zip(result.zip_path)
    sources = decode_frames(excerpt)
    assert contents.frame_indices() == [0, 6, 12, 18, 24]
    for f in contents.frame_indices():
        assert np.array_equal(contents.image_for_frame(f), sources[f])
    assert contents.csv_rows() == [] and result.people_found == 0


# -- renders from detections never run the model -------------------------------------------
def test_a_render_from_detections_never_loads_or_calls_the_model(excerpt, tmp_path, monkeypatch):
    import pipeline.models

    def refuse(*args, **kwargs):
        raise AssertionError("a render from detections loaded the model")

    monkeypatch.setattr(pipeline.models, "load_detector", refuse)
    boxes = unmask_csv(tmp_path / "review.csv")
    with open(boxes, "a", newline="") as handle:  # plus rows the tracker must name
        handle.write("7,500,400,560,520,0.5,0,,detected\n8,502,400,562,520,0.5,0,,manual\n")
    result = run_to_result(excerpt, Settings(detections_csv=boxes, unmask_tracks=(3,), interval=5),
                           output=tmp_path / "o.zip", work_dir=tmp_path)
    assert result.images_written == 6 and result.people_found > 0


def test_the_tracker_never_pip_installs_lap():
    """ultralytics' matching module pip-installs `lap` when it cannot import it; we check
    for lap first and fail with a clear message, and with lap present nothing calls
    check_requirements."""
    script = """
import sys
import numpy as np
sys.modules["lap"] = None  # lap cannot be imported
from pipeline.errors import MosaicError
from pipeline.track.tracking import TemporalHold
from pipeline.detections import Detections
try:
    TemporalHold(5)
    print("no error")
except MosaicError as err:
    print("refused:", err)
assert "ultralytics.trackers" not in sys.modules
del sys.modules["lap"]
import ultralytics.utils.checks as checks
def refuse(*args, **kwargs):
    raise AssertionError("check_requirements called")
checks.check_requirements = refuse
hold = TemporalHold(5)
hold.push(0, 0, Detections(np.array([[10, 10, 50, 90]], np.float32)))
print("ids:", [found.track_id.tolist() for _, found in hold.flush()])
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "refused: Tracking needs the 'lap' package" in proc.stdout
    assert "ids: [[1]]" in proc.stdout
