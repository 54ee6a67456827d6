"""The person target on real people, with the bundled model (SSDLite, shipped in
pipeline/models/weights/), offline.

"Offline" is made the same on every machine: YOLO's default weights are not in the run's
folder and every download goes to a dead proxy on 127.0.0.1, so the ultralytics download
fails as it does without a network. The reference is what the bundled model itself finds on
the whole frame (score >= 0.5) on every 5th frame; each of those people must be covered in
the decoded outputs. The CLI runs use style `fill` (black), so "covered" is read from the
pixels: the middle half of the person's box (where the body and head are; the whole-frame
view's boxes are loose at the sides) is black in the decoded ZIP image and video frame.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from mediakit import decode_frames, read_zip
from pipeline import Settings
from pipeline.errors import ModelError
from pipeline.settings import BUNDLED_PERSON_MODEL

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens there: every download fails at once
EVERY = 5  # reference frames: every 5th
SCORE = 0.5  # reference people: the bundled model's boxes at this score or more
FILLED = 24  # a pixel of the black fill, after JPEG or H.264: every channel at most this


def offline_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MOSAIC_MODEL"}
    env.update(HTTPS_PROXY=DEAD_PROXY, HTTP_PROXY=DEAD_PROXY, https_proxy=DEAD_PROXY, http_proxy=DEAD_PROXY,
               NO_PROXY="", no_proxy="", PYTHONPATH=str(REPO), **extra)
    return env


@pytest.fixture(scope="module")
def bundled():
    from pipeline.models import load_detector

    return load_detector(Settings(model=BUNDLED_PERSON_MODEL, conf=SCORE))


def reference(bundled, clip: Path, frames: int) -> dict:
    """Frame -> the people the bundled model finds on the whole frame of `clip` (score >=
    SCORE), every EVERY-th frame."""
    return {index: bundled.detect([frame])[0].xyxy for index, frame in decode_frames(clip, range(0, frames, EVERY)).items()}


def uncovered(images: dict[int, np.ndarray], people: dict[int, np.ndarray]) -> list:
    """(frame, box) of every reference person whose middle half is not all filled."""
    missed = []
    for index, boxes in people.items():
        filled = images[index].max(axis=2) <= FILLED
        for x1, y1, x2, y2 in boxes.round().astype(int):
            quarter = (x2 - x1) // 4
            middle = filled[max(y1, 0):y2, max(x1 + quarter, 0):x2 - quarter]
            if middle.size and middle.mean() < 0.98:
                missed.append((index, (x1, y1, x2, y2), round(float(middle.mean()), 2)))
    return missed


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    return inter / (np.prod(boxes[:, 2:] - boxes[:, :2], axis=1) + np.prod(box[2:] - box[:2]) - inter)


def run_offline(clip: Path, folder: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out_zip, out_video = folder / "out.zip", folder / "out.mp4"
    done = subprocess.run([sys.executable, "-m", "pipeline", str(clip), "-o", str(out_zip), "--video", str(out_video),
                           "--interval", str(EVERY), "--style", "fill", *args],
                          cwd=folder, env=offline_env(), capture_output=True, text=True, timeout=400)
    return done, out_zip, out_video


def check_covered(done, out_zip: Path, out_video: Path, people: dict, frames: int) -> None:
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["model"] == BUNDLED_PERSON_MODEL, "the JSON summary names the model that ran"
    assert any(BUNDLED_PERSON_MODEL in w and "yolo11n.pt" in w for w in summary["warnings"]), summary["warnings"]
    told = [line for line in done.stderr.splitlines() if line.startswith("warning:") and BUNDLED_PERSON_MODEL in line]
    assert len(told) == 1, f"said once on stderr: {done.stderr[-2000:]}"
    total = sum(len(b) for b in people.values())
    assert total >= 30, f"the clip shows enough people to mean something ({total})"
    contents = read_zip(out_zip)
    assert contents.frame_indices() == list(range(0, frames, EVERY))
    zipped = {i: contents.image_for_frame(i) for i in people}
    video = decode_frames(out_video, list(people))
    for name, images in (("ZIP", zipped), ("video", video)):
        missed = uncovered(images, people)
        assert len(missed) <= 0.02 * total, f"{name}: {len(missed)} of {total} people uncovered: {missed[:8]}"


def test_the_bundled_model_finds_real_people_and_nothing_in_an_empty_frame(bundled, vtest_avi):
    frame = decode_frames(vtest_avi, [200])[200]
    found = bundled.detect([frame, frame[:, ::-1].copy(), np.full_like(frame, 128)])
    assert len(found[0]) >= 5, "vtest.avi frame 200 shows at least 5 people the model finds at 0.5"
    boxes = found[0].xyxy
    assert (boxes[:, 3] - boxes[:, 1] > boxes[:, 2] - boxes[:, 0]).all(), "people stand: taller than wide"
    assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= 768).all() and (boxes[:, [1, 3]] <= 576).all()
    back = found[1].xyxy.copy()
    back[:, [0, 2]] = 768 - back[:, [2, 0]]
    assert sum(iou(box, boxes).max() >= 0.5 for box in back) >= 3, "the mirror shows the same people, mirrored"
    assert len(found[2]) == 0, "a grey frame shows nobody"
    assert found[0].score.min() >= SCORE and bundled.model_name == BUNDLED_PERSON_MODEL


def test_the_default_cli_run_offline_covers_every_person_in_the_zip_and_the_video(bundled, vtest_avi, ffmpeg,
                                                                                   tmp_path):
    """vtest.avi's first 9 s: people walk in from the edges and behind the lamp post."""
    clip, frames = tmp_path / "plaza.mp4", 90
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(vtest_avi), "-frames:v", str(frames), "-c:v", "libx264",
                    "-crf", "18", "-pix_fmt", "yuv420p", str(clip)], check=True)
    people = reference(bundled, clip, frames)
    at_edge = sum(int(((b[:, 0] < 8) | (b[:, 2] > 760)).sum()) for b in people.values())
    assert at_edge >= 3, "people at the frame's edge are among those checked"
    done, out_zip, out_video = run_offline(clip, tmp_path / "run", "--format", "png")
    check_covered(done, out_zip, out_video, people, frames)


def test_a_split_run_offline_covers_every_person_across_its_segments_and_warns_once(bundled, vtest_avi,
                                                                                   ffmpeg, tmp_path):
    """The same plaza on two local workers in 5-s segments: each worker falls back to the
    bundled model, the joined result names it and says so once, and the people are covered
    on both sides of each boundary as in one process."""
    clip, frames = tmp_path / "plaza.mp4", 120
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(vtest_avi), "-frames:v", str(frames), "-c:v", "libx264",
                    "-crf", "18", "-pix_fmt", "yuv420p", str(clip)], check=True)
    done, out_zip, out_video = run_offline(clip, tmp_path / "run", "--workers", "2", "--segment-s", "5")
    check_covered(done, out_zip, out_video, reference(bundled, clip, frames), frames)
    assert "join" in json.loads(done.stdout)["stage_seconds"], "the run was split and joined"


def test_an_hd_mirror_of_the_plaza_is_covered_where_the_whole_frame_sees_people_at_a_quarter(
        bundled, vtest_avi, ffmpeg, tmp_path):
    """The plaza mirrored and scaled to 1280x960: the whole-frame pass sees it at 300x300, a
    quarter of its size, so the run's boxes come from the detail scan's full-size tiles and
    the closer looks as well, and must still cover everyone the whole frame shows."""
    clip, frames = tmp_path / "plaza_hd.mp4", 100
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(vtest_avi), "-frames:v", str(frames), "-vf",
                    "hflip,scale=1280:960", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(clip)],
                   check=True)
    people = reference(bundled, clip, frames)
    done, out_zip, out_video = run_offline(clip, tmp_path / "run")
    check_covered(done, out_zip, out_video, people, frames)


def test_a_named_yolo_model_that_cannot_be_loaded_is_still_an_error(excerpt, tmp_path):
    out = tmp_path / "out.zip"
    done = subprocess.run([sys.executable, "-m", "pipeline", str(excerpt), "-o", str(out), "--model", "yolo11s.pt"],
                          cwd=tmp_path, env=offline_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("error: Could not load model 'yolo11s.pt'"), done.stderr
    assert BUNDLED_PERSON_MODEL not in done.stderr
    assert not list(tmp_path.glob("out*")), "nothing half-written"


@pytest.mark.parametrize("target", ["silhouette", "head"])
def test_silhouette_and_head_without_their_weights_cover_whole_person_boxes_and_say_so(bundled, vtest_avi,
                                                                                        monkeypatch, tmp_path, target):
    for name, value in offline_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MOSAIC_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    from pipeline.models import load_detector

    detector = load_detector(Settings(target=target))
    assert detector.model_name == BUNDLED_PERSON_MODEL
    notes = " ".join(detector.notes)
    assert f"yolo11n-{'seg' if target == 'silhouette' else 'pose'}.pt could not be loaded" in notes
    assert f"whole-person boxes, not {target}s" in notes
    frame = decode_frames(vtest_avi, [200])[200]
    assert len(detector.detect([frame])[0]) >= len(bundled.detect([frame])[0]), "boxes at the run's lower threshold"
    named = "yolo11s-seg.pt" if target == "silhouette" else "yolo11s-pose.pt"
    with pytest.raises(ModelError, match=f"Could not load model '{named}'"):  # named: the error, no fallback
        load_detector(Settings(target=target, model=named))


def test_what_counts_as_naming_a_model(monkeypatch):
    monkeypatch.delenv("MOSAIC_MODEL", raising=False)
    assert Settings().model == "yolo11n.pt" and Settings().model_named is False
    assert Settings(model="yolo11n.pt").model_named is True, "typed by the user, even the default"
    assert Settings().replace(model="yolo11s.pt").model_named is True
    assert Settings(model="yolo11s.pt").replace(model="").model_named is False
    assert Settings().replace(conf=0.3).model_named is False
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11s.pt")
    assert Settings().model_named is True, "the operator's $MOSAIC_MODEL is a choice"
    with pytest.raises(ModelError, match="FP32 only"):
        from pipeline.models import load_detector

        load_detector(Settings(model=BUNDLED_PERSON_MODEL, precision="int8"))


def test_the_person_column_finds_faces_in_crops_of_every_aspect_with_one_engine_shape():
    """Real people put their boxes' tops in front of CenterFace at every size and aspect: each
    is padded to one square, so the engine is compiled once (it used to compile per aspect,
    ~0.5 s each), and the face comes back where it is in the crop."""
    import cv2

    from identity_clips import zidane
    from pipeline.identity.stage import PERSON_TOP_PX, _lazy_finder

    photo = cv2.imread(str(zidane()))  # 1280x720, two men; the left one's face near (615, 340)
    whole = _lazy_finder(0.5)(photo)
    face = next(b for b in whole if b[0] < 640)
    find = _lazy_finder(0.5)
    for x1, y1, x2, y2 in [(450, 200, 780, 480), (530, 230, 700, 450), (380, 180, 900, 460), (540, 240, 690, 700)]:
        got = find(np.ascontiguousarray(photo[y1:y2, x1:x2]))
        assert got, f"no face in the crop {(x1, y1, x2, y2)}"
        box = np.array(got[0]) + [x1, y1, x1, y1]
        assert iou(box, np.array([face])).max() >= 0.5, (box, face)
        assert max(got[0][2], got[0][3]) <= max(x2 - x1, y2 - y1), "inside the crop, not the padding"
    from pipeline.models.face import load_face_detector

    engine = load_face_detector(Settings(target="face", conf=0.5, device="cpu", imgsz=PERSON_TOP_PX))._engine
    shapes = {(h, w) for h, w, _ in engine.pool.compiled} - {(32, 32)}  # the load's test run
    assert shapes == {(PERSON_TOP_PX, PERSON_TOP_PX)}
