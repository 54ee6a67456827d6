"""`precision`: fp32 (default) or int8, an NNCF-quantized OpenVINO model made once and cached.

Quantizing is the slow part (NNCF collects activation ranges over the calibration frames), so
these tests calibrate on a few frames ($MOSAIC_INT8_CALIBRATION_FRAMES); the figures for the
default 300 frames are benchmarks/bench_1080p.py's, quoted in the README.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO
from mediakit import decode_frames, read_zip

from pipeline import ModelError, Settings, SettingsError
from pipeline.models import quantize
from pipeline.models.export import cache_root as _cache_root
from pipeline.models.network import ModelKey
from pipeline.models.quantize import CALIBRATION_ENV_VAR, STAMP, Calibration

pytest.importorskip("nncf", reason="INT8 needs NNCF: pip install -r requirements-int8.txt")

FACES_CLIP = REPO / "ui" / "assets" / "faces_clip.mp4"  # real faces, 960x540, 124 frames
FEW_FRAMES = "8"  # calibration frames in these tests
# Recall of FP32's faces (IoU >= 0.5) by the int8 model calibrated on FEW_FRAMES frames, on
# faces_clip.mp4. Measured 0.97 on this clip with 8 frames (0.97 with the default 300, see
# README); a broken quantization (wrong input scale, colour order, saturated weights) finds
# far fewer. The floor leaves room for another CPU's rounding.
MIN_RECALL = 0.90
MIN_RECALL_CONFIDENT = 0.98  # of FP32's faces scored >= 0.3: the misses are borderline faces


def matched(reference, found, min_iou: float = 0.5) -> np.ndarray:
    """For each reference box: whether a found box overlaps it by IoU >= min_iou."""
    if not len(reference.xyxy) or not len(found.xyxy):
        return np.zeros(len(reference.xyxy), bool)
    from ultralytics.utils.metrics import bbox_ioa  # pairwise IoU, independent of our code

    return bbox_ioa(reference.xyxy, found.xyxy, iou=True).max(axis=1) >= min_iou


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


# -- settings ---------------------------------------------------------------------------
def test_precision_defaults_to_fp32():
    assert Settings().precision == "fp32"
    assert Settings(target="face").precision == "fp32"


@pytest.mark.parametrize("changes, message", [
    ({"precision": "int4"}, "precision must be one of fp32, int8 (got 'int4')"),
    ({"precision": "INT8"}, "precision must be one of fp32, int8"),
    ({"precision": "int8", "backend": "torch"}, "precision int8 runs on OpenVINO on the CPU"),
    ({"precision": "int8", "device": "cuda"}, "precision int8 runs on OpenVINO on the CPU"),
    ({"calibration_video": "clip.mp4"}, "a calibration video is only used with precision int8"),
])
def test_bad_precision_is_a_clear_settings_error(changes, message):
    with pytest.raises(SettingsError) as caught:
        Settings(**changes)
    assert message in str(caught.value)


def test_cli_refuses_a_bad_precision(excerpt):
    done = cli(str(excerpt), "--precision", "int4")
    assert done.returncode == 2
    assert "--precision: invalid choice: 'int4' (choose from 'fp32', 'int8')" in done.stderr
    done = cli(str(excerpt), "--precision", "int8", "--backend", "torch")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: Invalid settings: precision int8 runs on OpenVINO")


def test_calibration_settings_errors(monkeypatch, tmp_path):
    assert Settings(precision="int8", calibration_video="").calibration_video is None
    with pytest.raises(ModelError, match="Calibration video '.*nope.mp4' does not exist"):
        Calibration.for_video(tmp_path / "nope.mp4")
    monkeypatch.setenv(CALIBRATION_ENV_VAR, "many")
    with pytest.raises(ModelError, match="MOSAIC_INT8_CALIBRATION_FRAMES must be a whole number"):
        Calibration.for_video(None)


def test_calibration_frames_are_spread_over_the_clips_and_mirrored_to_fill_up(monkeypatch, excerpt):
    monkeypatch.setenv(CALIBRATION_ENV_VAR, "40")
    seen = []
    frames = Calibration.for_video(excerpt).frames(lambda image: seen.append(image.copy()) or image[::8, ::8])
    assert len(frames) == 40 and len(list(frames)) == 40  # re-iterable: NNCF walks it more than once
    originals, mirrors = seen[:30], seen[30:40]  # the excerpt has 30 frames: all, then 10 mirrored
    assert all(not np.array_equal(a, b) for a, b in zip(originals, originals[1:]))
    assert np.array_equal(mirrors[0], originals[0][:, ::-1])


# -- YOLO (the person target) on the untrained yolo11n.yaml network ------------------------------
@pytest.fixture(scope="module")
def own_calibration_clip(tmp_path_factory, excerpt):
    """A calibration video no other run has used (random noise in a corner), so the int8
    model for it is made by this test; the model folder is removed afterwards."""
    path = tmp_path_factory.mktemp("calib") / f"calib-{uuid.uuid4().hex[:8]}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (768, 576))
    rng = np.random.default_rng()
    for image in list(decode_frames(excerpt).values())[:8]:
        image[:32, :32] = rng.integers(0, 255, (32, 32, 3), np.uint8)
        writer.write(image)
    writer.release()
    yield path
    for stamp in _cache_root().glob(f"**/yolo11n_openvino_int8_*/{STAMP}"):
        if json.loads(stamp.read_text())["key"]["calibration"][0][0] == path.name:
            import shutil

            shutil.rmtree(stamp.parent, ignore_errors=True)
            stamp.parent.with_name(f".{stamp.parent.name}.lock").unlink(missing_ok=True)


def int8_folders(calibration: Path) -> list[Path]:
    return [stamp.parent for stamp in _cache_root().glob(f"**/yolo11n_openvino_int8_*/{STAMP}")
            if json.loads(stamp.read_text())["key"]["calibration"][0][0] == calibration.name]


def test_int8_yolo_end_to_end_made_cached_reused_and_replayed(excerpt, own_calibration_clip, tmp_path):
    """`--precision int8` on yolo11n.yaml: the first run quantizes (its folder appears, beside
    the FP32 export), the second loads it untouched, and the boxes it found, replayed from its
    detections.csv through the same renderer, give the same images. A very low threshold
    makes the untrained network find boxes."""
    env = {CALIBRATION_ENV_VAR: FEW_FRAMES}
    common = ["--model", "yolo11n.yaml", "--precision", "int8", "--calibration-video", str(own_calibration_clip),
              "--conf", "0.0001", "--hold", "0", "--interval", "3", "--format", "png"]
    first = cli(str(excerpt), "-o", str(tmp_path / "first.zip"), *common, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Quantizing yolo11n.xml to INT8 on 8 calibration frames" in first.stderr
    json.loads(first.stdout)  # stdout stays the one JSON line: NNCF's output went to stderr
    (folder,) = int8_folders(own_calibration_clip)
    assert folder.parent == next(folder.parent.glob("yolo11n_openvino_model")).parent  # beside the FP32 export
    made = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {"model.xml", "model.bin", STAMP} <= set(made)

    second = cli(str(excerpt), "-o", str(tmp_path / "second.zip"), *common, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Quantizing" not in second.stderr
    assert int8_folders(own_calibration_clip) == [folder]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == made  # reused, not made again

    one, two = read_zip(tmp_path / "first.zip"), read_zip(tmp_path / "second.zip")
    assert one.csv_rows() and one.csv_text == two.csv_text  # the same boxes from the cached model
    (tmp_path / "first.csv").write_text(one.csv_text)
    replay = cli(str(excerpt), "-o", str(tmp_path / "replay.zip"), "--detections", str(tmp_path / "first.csv"),
                 "--hold", "0", "--interval", "3", "--format", "png")
    assert replay.returncode == 0, replay.stderr[-2000:]
    replayed = read_zip(tmp_path / "replay.zip")
    assert replayed.images.keys() == one.images.keys()
    assert all(replayed.images[name] == one.images[name] for name in one.images)


def test_a_cached_int8_model_is_not_quantized_again_and_a_new_calibration_makes_a_new_one(
        monkeypatch, own_calibration_clip):
    """In-process: with the model from the test above cached, loading never calls NNCF; a
    changed calibration set (here the frame count) gets its own folder."""
    from pipeline.models.quantize import yolo_int8_model

    fp32 = next(_cache_root().glob("yaml-*/yolo11n_openvino_model/yolo11n.xml"), None)
    if fp32 is None or not int8_folders(own_calibration_clip):
        pytest.skip("needs the int8 model made by the end-to-end test")
    key = ModelKey("yolo11n.yaml", "cpu", "openvino", 640, "int8", own_calibration_clip)
    calls = []

    def no_quantizing(*args):
        calls.append(args)
        import openvino as ov

        return ov.Core().read_model(str(fp32))  # a stand-in model, made instantly

    monkeypatch.setattr(quantize, "_quantize", no_quantizing)
    monkeypatch.setenv(CALIBRATION_ENV_VAR, FEW_FRAMES)
    cached = yolo_int8_model(fp32, key)
    assert calls == [] and cached.parent in int8_folders(own_calibration_clip)
    monkeypatch.setenv(CALIBRATION_ENV_VAR, "5")
    other = yolo_int8_model(fp32, key)
    assert len(calls) == 1 and other.parent != cached.parent and other.is_file()
    assert json.loads((other.parent / STAMP).read_text())["key"]["calibration"][-1] == 5


# -- CenterFace (the face target): real weights on real faces ------------------------------
def test_int8_centerface_agrees_with_fp32_on_real_faces(monkeypatch):
    """INT8 CenterFace finds FP32's faces (IoU >= 0.5) on faces_clip.mp4, and its boxes drive
    the same masking path (the detector is the one `--target face --precision int8` loads)."""
    from pipeline.models.face import load_face_detector

    monkeypatch.setenv(CALIBRATION_ENV_VAR, FEW_FRAMES)
    fp32 = load_face_detector(Settings(target="face", device="cpu"))
    int8 = load_face_detector(Settings(target="face", device="cpu", precision="int8"))
    assert int8._engine.path.name == "model.xml" and "centerface_int8_" in int8._engine.path.parent.name
    frames = list(decode_frames(FACES_CLIP).values())
    reference = [found for i in range(0, len(frames), 8) for found in fp32.detect(frames[i:i + 8])]
    found = [found for i in range(0, len(frames), 8) for found in int8.detect(frames[i:i + 8])]
    hits = [matched(r, f) for r, f in zip(reference, found)]
    total = sum(len(h) for h in hits)
    recall = sum(h.sum() for h in hits) / total
    confident = np.concatenate([h[r.score >= 0.3] for h, r in zip(hits, reference)])
    assert total > 150  # 1-4 faces in every frame
    assert recall >= MIN_RECALL, f"int8 found {recall:.1%} of FP32's {total} faces"
    assert confident.mean() >= MIN_RECALL_CONFIDENT, f"int8 found {confident.mean():.1%} of FP32's confident faces"
    assert sum(len(f.xyxy) for f in found) <= 1.2 * total  # and does not cover the frame in boxes
