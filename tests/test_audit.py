"""The audit and the report (pipeline/audit/), on real faces: the shipped faces clip
(ui/assets/faces_clip.mp4, 960x540, 124 frames) run with the face target (CenterFace, no
download), then rendered again from its own detections.csv with every box from frame 62 on
removed, so the second half shows uncovered faces. The outputs are read back from disk.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from pipeline import Settings, SettingsError, run_to_result
from pipeline.models.weights import CENTERFACE_ONNX, CENTERFACE_SHA256, SSDLITE_PERSON_SHA256

FACES_CLIP = REPO / "ui" / "assets" / "faces_clip.mp4"
CUT = 62  # frames from here on lose every box


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def report_of(zip_path: Path) -> dict:
    return json.loads(zip_path.with_name(zip_path.stem + ".report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A default-style face run with every image audited."""
    folder = tmp_path_factory.mktemp("audit_clean")
    settings = Settings(target="face", device="cpu", interval=10, detail="fast", audit="all")
    result = run_to_result(FACES_CLIP, settings, output=folder / "clean.zip")
    return folder, result


@pytest.fixture(scope="module")
def cut_csv(clean) -> tuple[Path, set[int]]:
    """The clean run's detections.csv without any box from frame CUT on; and the frames that
    had a face there."""
    folder, result = clean
    text = zipfile.ZipFile(result.zip_path).read("detections.csv").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    faces = {int(r[0]) for r in rows[1:]}
    path = folder / "cut.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0]] + [r for r in rows[1:] if int(r[0]) < CUT])
    return path, {f for f in faces if f >= CUT}


@pytest.fixture(scope="module")
def cut_run(clean, cut_csv):
    """The CLI renders the cut CSV (no hold, so nothing recreates the removed boxes)."""
    folder, _ = clean
    out = folder / "cut.zip"
    proc = subprocess.run([sys.executable, "-m", "pipeline", str(FACES_CLIP), "--target", "face", "--device", "cpu",
                           "--detections", str(cut_csv[0]), "--hold", "0", "--interval", "10", "--audit", "all",
                           "-o", str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)
    return proc, out


def test_clean_run_flags_none_of_its_mosaics(clean):
    _, result = clean
    report = report_of(result.zip_path)
    images = sorted(int(n.split("_")[1]) for n in zipfile.ZipFile(result.zip_path).namelist()
                    if n.startswith("frame_"))
    assert report["audit"]["checked"] == images  # every written image was looked at
    assert len(report["audit"]["detectors"]) == 1 and report["audit"]["detectors"][0]["name"] == "face"
    flagged = {f["frame"] for f in report["audit"]["findings"]}
    assert len(flagged) <= 0.05 * len(images), report["audit"]["findings"]
    assert result.audit["checked_frames"] == len(images) and result.audit["findings"] == len(report["audit"]["findings"])


def test_render_with_boxes_removed_is_flagged_in_report_and_cli(cut_run, cut_csv):
    proc, out = cut_run
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning: The audit found")]
    assert len(warning) == 1, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    report = report_of(out)
    checked = report["audit"]["checked"]
    flagged = {f["frame"] for f in report["audit"]["findings"]}
    uncovered = [f for f in checked if f in cut_csv[1]]
    others = [f for f in checked if f not in cut_csv[1]]
    assert len(uncovered) >= 5
    assert len(flagged & set(uncovered)) >= 0.9 * len(uncovered), (uncovered, flagged)
    assert len(flagged & set(others)) <= 0.05 * len(others), (others, flagged)
    assert summary["audit"]["findings"] == len(report["audit"]["findings"])
    assert summary["audit"]["frames_with_findings"] == sorted(flagged)
    finding = report["audit"]["findings"][0]
    assert set(finding) >= {"frame", "time_s", "box", "score", "detector"} and finding["detector"] == "face"
    assert finding["score"] >= 0.3 and finding["output"] == "zip"


def test_audit_off_checks_nothing_and_says_so(clean, cut_csv):
    folder, _ = clean
    settings = Settings(target="face", device="cpu", interval=10, hold_s=0.0, detections_csv=cut_csv[0], audit="off")
    result = run_to_result(FACES_CLIP, settings, output=folder / "off.zip")
    report = report_of(result.zip_path)
    assert report["audit"]["mode"] == "off" and report["audit"]["checked"] == [] and report["audit"]["findings"] == []
    assert not any("audit" in str(w) for w in result.warnings)


def test_report_hashes_match_the_files_and_name_no_folder(clean):
    folder, result = clean
    json_path, html_path = result.report_paths
    assert json_path.name == "clean.report.json" and html_path.name == "clean.report.html"
    report = report_of(result.zip_path)
    assert set(report) >= {"tool", "input", "outputs", "models", "settings", "audit", "counts", "tracks", "audio"}
    assert report["input"]["name"] == FACES_CLIP.name and report["input"]["sha256"] == sha(FACES_CLIP)
    assert report["input"]["bytes"] == FACES_CLIP.stat().st_size
    assert (report["input"]["width"], report["input"]["height"], report["input"]["fps"]) == (960, 540, 25.0)
    (zip_entry,) = report["outputs"]
    assert zip_entry["name"] == "clean.zip" and zip_entry["sha256"] == sha(result.zip_path)
    assert zip_entry["bytes"] == result.zip_path.stat().st_size
    assert {m["sha256"] for m in report["models"]} == {CENTERFACE_SHA256} == {sha(CENTERFACE_ONNX)}
    assert report["counts"]["tracks"] == len(report["tracks"]) > 0
    for path in (json_path, html_path):
        text = path.read_text(encoding="utf-8")
        for folder_text in (str(folder), str(REPO), str(Path.home())):
            assert folder_text not in text
    page = html_path.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    # the copies inside the ZIP: the same report, without the ZIP's own hash
    archive = zipfile.ZipFile(result.zip_path)
    inner = json.loads(archive.read("report.json"))
    assert inner["outputs"][0]["sha256"] is None and inner["input"] == report["input"]
    assert inner["audit"] == report["audit"] and "report.html" in archive.namelist()


def test_people_left_visible_are_not_findings_and_video_is_sampled_end_to_end(clean, tmp_path):
    """A render from the full CSV leaving one person visible (every track of theirs, as the
    review's person card does): their face is not a finding; the
    --video output's frames are audited from its first to its last. (The CSV has boxes on
    every 10th frame; the default hold covers the frames between.)"""
    _, result = clean
    full_csv = tmp_path / "full.csv"
    full_csv.write_bytes(zipfile.ZipFile(result.zip_path).read("detections.csv"))
    tracks = report_of(result.zip_path)["tracks"]
    shown_ids = tuple(t["track"] for t in tracks if t["person"] == tracks[0]["person"])
    settings = Settings(target="face", device="cpu", interval=10, detections_csv=full_csv,
                        unmask_tracks=shown_ids, unmask_reason="asked to be seen", audit="sample")
    shown = run_to_result(FACES_CLIP, settings, output=tmp_path / "shown.zip", video_output=tmp_path / "shown.mp4")
    report = report_of(shown.zip_path)
    assert report["audit"]["findings"] == [] and report["audit"]["left_visible_detections"] > 0
    for entry in [t for t in report["tracks"] if t["track"] in shown_ids]:
        assert entry["left_visible"] is True and entry["frames_left_visible"] > 0 and entry["frames_covered"] == 0
        assert entry["reason"] == "asked to be seen"
    video = report["audit"]["checked_video_frames"]
    assert video[0] == 0 and video[-1] == shown.video_frames - 1 and len(video) >= 2
    assert [o["name"] for o in report["outputs"]] == ["shown.zip", "shown.mp4"]
    assert report["outputs"][1]["sha256"] == sha(shown.video_path)
    assert report["input"]["detections_csv"]["sha256"] == sha(full_csv) and report["models"] == [
        m for m in report["models"] if m["role"].startswith("audit:")]


def test_the_page_and_the_api_hand_over_the_same_report(isolated_results):
    """The page's Start (its report offered for download) and the API's /process (its report
    inside the returned ZIP) on the same video and settings: the same report, bar the times
    and the ZIP's own hash, which the copy inside the ZIP cannot hold."""
    from types import SimpleNamespace

    from ui import api, audit_view, handlers

    request = SimpleNamespace(session_hash="audit-tab")
    values = dict(interval=10, target="face", detail="fast", audit="all")
    list(handlers.start_job(str(FACES_CLIP), "", request=request, **values))
    files = audit_view.report_download(request)
    assert files["visible"] and sorted(Path(p).name for p in files["value"]) == [
        "faces_clip_mosaic.report.html", "faces_clip_mosaic.report.json"]
    page = json.loads(Path(sorted(files["value"])[1]).read_text(encoding="utf-8"))
    zip_path, summary = list(api.process_api(str(FACES_CLIP), **values))[-1]
    from_api = json.loads(zipfile.ZipFile(zip_path).read("report.json"))
    for key in ("input", "models", "settings", "counts", "tracks", "audio"):
        assert from_api[key] == page[key], key
    for key in ("mode", "detectors", "checked", "findings"):
        assert from_api["audit"][key] == page["audit"][key], key
    assert [o["name"] for o in from_api["outputs"]] == [o["name"] for o in page["outputs"]] == ["faces_clip_mosaic.zip"]
    assert page["outputs"][0]["sha256"] and from_api["outputs"][0]["sha256"] is None
    assert page["input"]["sha256"] == sha(FACES_CLIP) and len(page["audit"]["checked"]) == 13
    assert f"Audit: {len(page['audit']['checked'])} frames checked" in summary


@pytest.fixture(scope="module")
def pedestrians(tmp_path_factory, excerpt):
    """vtest's pedestrians masked by the bundled person model (SSDLite, offline), every 3rd frame."""
    folder = tmp_path_factory.mktemp("audit_persons")
    settings = Settings(model="ssdlite-person", interval=3, detail="fast", audit="all")
    return folder, run_to_result(excerpt, settings, output=folder / "ssd.zip")


def test_masks_made_by_ssdlite_are_audited_for_faces_only_and_the_report_says_why(pedestrians):
    _, result = pedestrians
    audit = report_of(result.zip_path)["audit"]
    assert [d["name"] for d in audit["detectors"]] == ["face"]
    assert any("only faces were audited" in note for note in audit["notes"])
    models = {m["role"]: m for m in report_of(result.zip_path)["models"]}
    assert models["masks"]["name"] == "ssdlite_person.pb" and models["masks"]["sha256"] == SSDLITE_PERSON_SHA256


def test_people_left_uncovered_are_found_by_the_independent_person_model(pedestrians, excerpt):
    """The CSV rendered again (a replay: the person model is independent of it) with every
    box from frame 15 on removed: the people there are findings of the person detector."""
    folder, result = pedestrians
    text = zipfile.ZipFile(result.zip_path).read("detections.csv").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    cut = folder / "cut.csv"
    with open(cut, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0]] + [r for r in rows[1:] if int(r[0]) < 15])
    settings = Settings(detections_csv=cut, interval=3, hold_s=0.0, audit="all")
    render = run_to_result(excerpt, settings, output=folder / "cut.zip")
    audit = report_of(render.zip_path)["audit"]
    assert [d["name"] for d in audit["detectors"]] == ["face", "person"]
    people = {f["frame"] for f in audit["findings"] if f["detector"] == "person"}
    after = [f for f in audit["checked"] if f >= 15]
    assert len(people & set(after)) >= 0.9 * len(after), (after, people)
    assert render.audit["findings"] >= len(after)
    assert any("The audit found" in str(w) for w in render.warnings)


def test_a_batch_lists_the_findings_per_video(tmp_path, capsys, excerpt):
    """A face run at confidence 0.99 masks nobody (real faces score <= 0.94 here), so the faces
    clip's faces stay visible: its summary line and a stderr warning name them; the other
    video has its own audit."""
    from pipeline.cli import main

    videos = tmp_path / "in"
    videos.mkdir()
    (videos / "faces.mp4").write_bytes(FACES_CLIP.read_bytes())
    (videos / "street.mp4").write_bytes(excerpt.read_bytes())
    capsys.readouterr()
    code = main([str(videos), "-o", str(tmp_path / "out"), "--interval", "40", "--detail", "fast", "--audit", "all",
                 "--target", "face", "--conf", "0.99", "--device", "cpu"])
    captured = capsys.readouterr()
    lines = {Path(line["input"]).name: line for line in map(json.loads, filter(None, captured.out.splitlines()))}
    assert code == 0 and set(lines) == {"faces.mp4", "street.mp4"}
    faces, street = lines["faces.mp4"], lines["street.mp4"]
    assert faces["audit"]["checked_frames"] == 4 and faces["audit"]["findings"] >= 4
    assert street["audit"]["checked_frames"] == 1
    assert any(line.startswith("warning: ") and "faces.mp4" in line and "audit found" in line
               for line in captured.err.splitlines()), captured.err
    for line in lines.values():
        assert all(Path(p).is_file() for p in line["report"])


def test_the_default_audit_is_sample_and_an_operator_may_set_another(monkeypatch):
    from pipeline.cli.args import build_parser, settings_from_args

    monkeypatch.delenv("MOSAIC_AUDIT", raising=False)
    assert Settings().audit == "sample"
    assert settings_from_args(build_parser().parse_args(["v.mp4"])).audit == "sample"
    monkeypatch.setenv("MOSAIC_AUDIT", "all")
    assert Settings().audit == "all" and settings_from_args(build_parser().parse_args(["v.mp4"])).audit == "all"
    assert settings_from_args(build_parser().parse_args(["v.mp4", "--audit", "off"])).audit == "off"
    monkeypatch.setenv("MOSAIC_AUDIT", "sometimes")
    with pytest.raises(SettingsError, match="audit must be one of"):
        Settings()


def test_a_4k_frame_is_checked_in_tiles_and_finds_every_face_of_its_quarters():
    """Four frames of the faces clip at 1080p side by side make one 4K frame: the audit's face
    detector looks at it in full-resolution pieces of at most 1280 px (CenterFace on a whole
    4K frame took 1.1 GB), and finds every face CenterFace finds in each 1080p quarter alone."""
    import cv2
    import numpy as np

    from mediakit import decode_frames
    from pipeline.audit.detectors import TILE_PX, face_auditor

    quarters = [cv2.resize(f, (1920, 1080)) for f in decode_frames(FACES_CLIP, [20, 45, 70, 100]).values()]
    uhd = np.concatenate([np.concatenate(quarters[:2], 1), np.concatenate(quarters[2:], 1)], 0)
    detector = face_auditor(Settings()).detector
    sizes = []
    full_detect = detector.full.detect
    detector.full.detect = lambda images: sizes.extend(i.shape[:2] for i in images) or full_detect(images)
    found = detector.detect([uhd])[0]
    assert sizes and max(max(s) for s in sizes) <= TILE_PX
    expected = 0
    for k, quarter in enumerate(quarters):
        x, y = 1920 * (k % 2), 1080 * (k // 2)
        alone = full_detect([quarter])[0]
        for box in alone.xyxy[alone.score >= 0.5] + np.array([x, y, x, y], np.float32):
            expected += 1
            lo, hi = np.maximum(box[:2], found.xyxy[:, :2]), np.minimum(box[2:], found.xyxy[:, 2:])
            inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
            union = np.prod(box[2:] - box[:2]) + np.prod(found.xyxy[:, 2:] - found.xyxy[:, :2], axis=1) - inter
            assert (inter / union >= 0.5).any(), f"face {box.round()} of quarter {k} not found in the 4K frame"
    assert expected >= 4
