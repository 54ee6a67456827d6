"""--keep-face / --only-face on a real clip: one man in two shots with a cut between,
mirrored in the second, the reference photo cropped and rescaled from the first. Checked on
the decoded output video, pixel by pixel, face by face."""
from __future__ import annotations

import pytest

pytest.importorskip("dlib")

import numpy as np
from identity_clips import two_shot_clip
from mediakit import decode_frames, read_zip

from pipeline import Settings, run_to_result
from pipeline.identity.photos import face_finder

PER_SHOT = 16


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("identity")
    return two_shot_clip(folder, face_finder(), PER_SHOT)


def centre(box, share: float = 0.3):
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, share * (x2 - x1) / 2, share * (y2 - y1) / 2
    return slice(int(cy - hh), int(cy + hh)), slice(int(cx - hw), int(cx + hw))


def untouched(out: np.ndarray, src: np.ndarray, box) -> bool:
    """The face centre is the source's (codec noise aside), not a fill."""
    rows, cols = centre(box)
    return float(np.abs(out[rows, cols].astype(int) - src[rows, cols].astype(int)).mean()) < 6


def covered(out: np.ndarray, box) -> bool:
    rows, cols = centre(box)
    return float(out[rows, cols].std()) < 4  # style fill: one flat colour


def render(clip, tmp_path, **faces):
    video, _, reference = clip
    settings = Settings(target="face", style="fill", interval=1000, **{k: (reference,) for k in faces})
    result = run_to_result(video, settings, output=tmp_path / "o.zip", video_output=tmp_path / "o.mp4",
                           work_dir=tmp_path)
    return decode_frames(video), decode_frames(result.video_path), read_zip(result.zip_path)


def test_keep_face_leaves_him_visible_in_both_shots_and_covers_the_other_man(clip, tmp_path):
    src, out, contents = render(clip, tmp_path, keep_faces=True)
    where = clip[1]
    for shot in (range(PER_SHOT), range(PER_SHOT, 2 * PER_SHOT)):
        kept = [f for f in shot if untouched(out[f], src[f], where[f]["X"])]
        assert len(kept) >= 0.9 * len(shot), f"shot {shot}: he is visible on only {kept}"
        for f in shot:
            assert covered(out[f], where[f]["Y"]), f"frame {f}: the other man is not covered"
    rows = contents.csv_rows()
    assert rows and all(r["person"] for r in rows)


def test_only_face_covers_him_and_leaves_the_other_man(clip, tmp_path):
    src, out, contents = render(clip, tmp_path, only_faces=True)
    where = clip[1]
    for f in range(2 * PER_SHOT):
        assert covered(out[f], where[f]["X"]), f"frame {f}: he is not covered"
        assert untouched(out[f], src[f], where[f]["Y"]), f"frame {f}: the other man is covered"
    # he is one person across the cut (and mirrored): every row left is his, one number,
    # on two tracks, as the cut ended the first
    rows = contents.csv_rows()
    assert len({r["person"] for r in rows}) == 1
    before = {r["track_id"] for r in rows if int(r["frame"]) < PER_SHOT}
    after = {r["track_id"] for r in rows if int(r["frame"]) >= PER_SHOT}
    assert before and after and not before & after


def body_rows(where, width: int = 640, height: int = 360) -> str:
    """A replayed CSV of person boxes (no track ids) around each man's face: the person
    target, whose boxes are bodies; the face inside is found for matching."""
    lines = ["frame,x1,y1,x2,y2,score"]
    for f, faces in enumerate(where):
        for x1, y1, x2, y2 in faces.values():
            w, h = x2 - x1, y2 - y1
            box = (max(0, x1 - 0.6 * w), max(0, y1 - 0.3 * h), min(width, x2 + 0.6 * w), min(height, y2 + 2.5 * h))
            lines.append(f"{f}," + ",".join(f"{v:.1f}" for v in box) + ",0.9")
    return "\n".join(lines) + "\n"


def test_keep_face_with_the_person_target_leaves_his_whole_box_visible(clip, tmp_path):
    video, where, reference = clip
    boxes = tmp_path / "bodies.csv"
    boxes.write_text(body_rows(where))
    settings = Settings(target="person", style="fill", interval=1000, detections_csv=boxes, keep_faces=(reference,))
    result = run_to_result(video, settings, output=tmp_path / "o.zip", video_output=tmp_path / "o.mp4",
                           work_dir=tmp_path)
    src, out = decode_frames(video), decode_frames(result.video_path)
    for shot in (range(PER_SHOT), range(PER_SHOT, 2 * PER_SHOT)):
        kept = [f for f in shot if untouched(out[f], src[f], where[f]["X"])]
        assert len(kept) >= 0.9 * len(shot), f"shot {shot}: he is visible on only {kept}"
        for f in shot:
            assert covered(out[f], where[f]["Y"]), f"frame {f}: the other man is not covered"


@pytest.mark.parametrize("kind", ["missing", "no_face", "several"])
def test_a_bad_photo_stops_the_run_before_any_work_and_writes_nothing(clip, tmp_path, kind):
    import cv2

    from pipeline.errors import InputError

    video = clip[0]
    photo = {"missing": tmp_path / "nobody.jpg", "no_face": tmp_path / "wall.png",
             "several": tmp_path / "two.jpg"}[kind]
    if kind == "no_face":
        cv2.imwrite(str(photo), np.full((200, 200, 3), 90, np.uint8))
    elif kind == "several":
        from identity_clips import zidane

        cv2.imwrite(str(photo), cv2.imread(str(zidane())))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=photo.name):
        run_to_result(video, Settings(target="face", keep_faces=(photo,)), output=out / "o.zip",
                      video_output=out / "o.mp4", work_dir=tmp_path)
    assert list(out.iterdir()) == []


def test_the_cli_says_one_line_for_a_bad_photo_and_refuses_both_kinds(clip, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    video, _, reference = clip
    out = tmp_path / "o.zip"
    run = lambda *a: subprocess.run([sys.executable, "-m", "pipeline", str(video), "-o", str(out), *a],
                                    cwd=repo, capture_output=True, text=True, timeout=300, check=False)
    bad = run("--target", "face", "--keep-face", str(tmp_path / "nobody.jpg"))
    assert bad.returncode != 0 and "nobody.jpg does not exist" in bad.stderr and "Traceback" not in bad.stderr
    both = run("--keep-face", str(reference), "--only-face", str(reference))
    assert both.returncode != 0 and "not both" in both.stderr and "Traceback" not in both.stderr
    assert not out.exists()


def test_the_per_person_record_is_opt_in_private_and_outside_the_zip(clip, tmp_path):
    import csv as csv_mod

    from pipeline.errors import OutputError

    video = clip[0]
    record = tmp_path / "record"
    result = run_to_result(video, Settings(target="face", interval=1, people_record=record),
                           output=tmp_path / "o.zip", work_dir=tmp_path)
    names = sorted(p.name for p in record.iterdir())
    assert "PRIVATE_README.txt" in names and "people.csv" in names
    pictures = [n for n in names if n.endswith("_PRIVATE.jpg")]
    rows = list(csv_mod.DictReader((record / "people.csv").open()))
    persons = {r["person"] for r in rows}
    # X is one person across both shots; the other man (three-quarter view) may be one or two
    assert len(pictures) == len(persons) in (2, 3), (names, rows)
    assert all(len(r) == 5 for r in rows), "times and track ids only, never a descriptor"
    zipped = read_zip(result.zip_path).names
    assert zipped and not any("PRIVATE" in n or n.startswith("person") or n == "people.csv" for n in zipped)
    with pytest.raises(OutputError, match="new or empty folder"):  # refused before any work
        run_to_result(video, Settings(target="face", people_record=record), output=tmp_path / "p.zip",
                      work_dir=tmp_path)
    assert not (tmp_path / "p.zip").exists()
    plain = run_to_result(video, Settings(target="face"), output=tmp_path / "q.zip", work_dir=tmp_path)
    assert plain.zip_path.exists() and sorted(p.name for p in tmp_path.iterdir() if "record" in p.name) == ["record"]
