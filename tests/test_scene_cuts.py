"""Scene cuts end tracks and holds: no id and no held box crosses a cut to whoever stands
in that place next. A replayed crossing at a cut: person A walks to the middle, the shot
cuts, person B stands where A was. Without the cut (the same background throughout)
ByteTrack carries A's id on to B, which is what the cut must prevent."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
from identity_clips import background, write_video
from mediakit import read_zip

from pipeline import Settings, run_to_result
from pipeline.track.cuts import CutDetector

FPS, CUT, FRAMES = 20, 20, 40


def box_at(f: int) -> tuple[float, float, float, float]:
    """A walks right until the cut; B stands just beyond where A was last seen."""
    x = 60 + 5 * f if f < CUT else 60 + 5 * CUT
    return (float(x), 60.0, float(x + 50), 200.0)


def clip(tmp_path: Path, with_cut: bool) -> Path:
    frames = []
    for f in range(FRAMES):
        image = background(1 if with_cut and f >= CUT else 0)
        x1, y1, x2, y2 = (int(v) for v in box_at(f))
        cv2.rectangle(image, (x1, y1), (x2, y2), (20, 200, 230) if f < CUT else (230, 230, 230), -1)
        frames.append(image)
    return write_video(tmp_path / f"cut_{with_cut}.mp4", frames, FPS)


def replay_csv(tmp_path: Path) -> Path:
    path = tmp_path / "boxes.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "x1", "y1", "x2", "y2", "score"])  # no track ids: the tracker names them
        for frame in range(FRAMES):
            writer.writerow([frame, *box_at(frame), 0.9])
    return path


def rows_of(tmp_path: Path, with_cut: bool) -> list[dict]:
    settings = Settings(detections_csv=replay_csv(tmp_path), interval=1, hold_s=0.5, people=False)
    result = run_to_result(clip(tmp_path, with_cut), settings, output=tmp_path / f"o_{with_cut}.zip",
                           work_dir=tmp_path, detect_only=True)
    return read_zip(result.zip_path).csv_rows()


def test_the_person_after_a_cut_gets_a_new_track_and_no_held_box_crosses(tmp_path):
    rows = rows_of(tmp_path, with_cut=True)
    before = {r["track_id"] for r in rows if int(r["frame"]) < CUT}
    after = {r["track_id"] for r in rows if int(r["frame"]) >= CUT}
    assert before and after and not before & after, (before, after)
    for r in rows:  # one box per frame: a held box from the other shot would be a second
        assert sum(1 for o in rows if o["frame"] == r["frame"]) == 1, f"frame {r['frame']}: a box crossed the cut"


def test_without_the_cut_the_tracker_would_carry_the_id_over(tmp_path):
    rows = rows_of(tmp_path, with_cut=False)
    assert len({r["track_id"] for r in rows}) == 1  # so the test above is not passing by luck


def test_cut_detector_finds_the_sample_clips_cuts_and_nothing_else():
    from mediakit import decode_frames

    repo = Path(__file__).resolve().parents[1]
    frames = decode_frames(repo / "ui" / "assets" / "faces_clip.mp4")
    cuts = CutDetector()
    found = [i for i in sorted(frames) if cuts.is_cut(frames[i])]
    assert found == [31, 62, 93]  # four shots of 31 frames
    walking = decode_frames(repo / "tests" / "data" / "vtest_3s.mp4")
    cuts = CutDetector()
    assert not any(cuts.is_cut(walking[i]) for i in sorted(walking))


def test_detections_csv_without_a_person_column_still_reads(tmp_path):
    from pipeline.io.detections_csv import read_detections_csv

    path = tmp_path / "old.csv"
    path.write_text("frame,time_s,x1,y1,x2,y2,score,class,track_id,kind,target\n3,0.1,1,2,30,40,0.9,0,7,detected,face\n")
    found = read_detections_csv(path)[3]
    assert found.track_id.tolist() == [7] and found.person.tolist() == [0]
