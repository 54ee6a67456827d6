"""The real YOLO path, with the yolo11n.yaml network (the same architecture as the YOLO11n
weights, untrained, so it finds no one at normal confidence): counts, sizes, order and
format come from real inference on real footage, and the CLI is run end to end on the full
vtest.avi on the default (auto) backend."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mediakit import CSV_COLUMNS, IMAGE_NAME, decode_frames, image_size, leftovers, read_zip
from pipeline import run, run_to_result
from pipeline.events import Progress, Result


def test_yolo_detector_returns_one_result_per_frame(yolo_settings, excerpt):
    from pipeline.models import load_detector

    detector = load_detector(yolo_settings)
    frames = list(decode_frames(excerpt, range(5)).values())
    for batch in (frames[:1], frames[:3], frames):
        found = detector.detect(batch, list(range(len(batch))))
        assert len(found) == len(batch)
        for detections in found:
            assert detections.xyxy.shape[1:] == (4,) and len(detections.score) == len(detections.xyxy)
    assert detector.detect([], []) == []
    # loaded once: asking again gives the same network
    assert load_detector(yolo_settings)._yolo is detector._yolo


def test_yolo_run_png_keeps_every_frame_unchanged_when_no_one_is_found(yolo_settings, excerpt, tmp_path,
                                                                       no_stray_threads):
    settings = yolo_settings.replace(interval=3, image_format="png")
    events = list(run(excerpt, settings, output=tmp_path / "o.zip", work_dir=tmp_path))
    result = events[-1]
    assert isinstance(result, Result)
    assert "loading model" in [e.stage for e in events if isinstance(e, Progress)]
    assert result.stop_reason == "completed" and result.images_written == 10 and result.frames_read == 30
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == list(range(0, 30, 3))
    assert contents.csv_header()[:8] == CSV_COLUMNS
    assert result.people_found == len(contents.csv_rows()) == 0  # untrained network, conf 0.2
    sources = decode_frames(excerpt)
    for index in contents.frame_indices():
        assert np.array_equal(contents.image_for_frame(index), sources[index])
    assert result.stage_seconds["detect"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.report.html", "o.report.json", "o.zip"]


def test_yolo_run_scaled_jpeg(yolo_settings, excerpt, tmp_path):
    result = run_to_result(excerpt, yolo_settings.replace(interval=7, scale_pct=60, batch=3),
                           output=tmp_path / "o.zip")
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == [0, 7, 14, 21, 28]
    assert {image_size(d) for d in contents.images.values()} == {(round(768 * 0.6), round(576 * 0.6))}
    assert all(n.endswith(".jpg") for n in contents.image_names)


def test_cli_full_vtest_interval_5_gives_159_upright_images_in_order(vtest_avi, tmp_path, repo_root):
    """`python -m pipeline vtest.avi --interval 5`, on the default auto backend."""
    source = tmp_path / "vtest.avi"
    shutil.copy(vtest_avi, source)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(repo_root), TMPDIR=str(temp), YOLO_VERBOSE="False")
    done = subprocess.run([sys.executable, "-m", "pipeline", "vtest.avi", "--interval", "5", "--model", "yolo11n.yaml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["images"] == summary["images_expected"] == 159
    assert summary["frames_read"] == 795 and summary["stop_reason"] == "completed"
    zip_path = tmp_path / "vtest_mosaic.zip"
    assert (tmp_path / summary["zip"]).resolve() == zip_path  # default: next to the input
    contents = read_zip(zip_path)
    assert len(contents.image_names) == 159
    assert contents.frame_indices() == list(range(0, 795, 5))
    for name in contents.image_names:
        index, time_s, ext = IMAGE_NAME.match(name).groups()
        assert ext == "jpg" and float(time_s) == pytest.approx(int(index) / 10, abs=1e-3)
        assert image_size(contents.images[name]) == (768, 576)
    assert contents.csv_header()[:8] == CSV_COLUMNS
    assert summary["zip_bytes"] == zip_path.stat().st_size
    assert [p for p in leftovers(tmp_path) if p != zip_path] == []
    assert list(temp.glob("mosaic-job-*")) == []
