"""Bad input gets one clear error of our own type, before any heavy work, and leaves nothing
half-written: no ZIP, no *.partial, no mosaic-job-* temp folder. The CLI turns each into
exit code 2 and a single 'error: ...' line on stderr, without a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediakit import leftovers, truncated_copy, zero_frame_video
from pipeline import DownloadError, InputError, MosaicError, Settings, SettingsError, run_to_result


def _not_a_video(tmp: Path, excerpt: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("These are meeting notes, not a video.\n" * 40)
    return path


def _empty(tmp: Path, excerpt: Path) -> Path:
    path = tmp / "empty.mp4"
    path.write_bytes(b"")
    return path


def _truncated_in_header(tmp: Path, excerpt: Path) -> Path:
    path = tmp / "cut_header.mp4"
    path.write_bytes(excerpt.read_bytes()[:500])  # the moov box is cut
    return path


def _truncated_before_first_frame(tmp: Path, excerpt: Path) -> Path:
    return truncated_copy(excerpt, tmp / "cut_media.mp4", 0.005)


def _zero_frames(tmp: Path, excerpt: Path) -> Path:
    return zero_frame_video(tmp / "zero.avi")


def _missing(tmp: Path, excerpt: Path) -> str:
    return str(tmp / "no_such_video.mp4")


BAD_FILES = {
    "not a video": (_not_a_video, "Not a readable video"),
    "empty file": (_empty, "empty"),
    "truncated header": (_truncated_in_header, "readable video"),
    "truncated before first frame": (_truncated_before_first_frame, "decode"),
    "zero frames": (_zero_frames, "no readable frames"),
    "missing file": (_missing, "not found"),
}

BAD_LINKS = {
    "other host": "https://example.com/video.mp4",
    "look-alike host": "https://drive.google.com.example.net/file/d/1AbCdEfGhIjKlMnOp/view",
    "drive link without id": "https://drive.google.com/drive/my-drive",
    "file url": "file:///etc/passwd",
    "ftp": "ftp://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view",
    "credentials in link": "https://user:pw@drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view",
}


def _assert_clean(tmp_path: Path) -> None:
    assert leftovers(tmp_path) == [], f"left behind: {leftovers(tmp_path)}"


def _one_line(err: BaseException) -> None:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text and len(text) < 400


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_video_file_is_one_input_error_and_leaves_nothing(excerpt, tmp_path, box_detector, case, no_stray_threads):
    make, words = BAD_FILES[case]
    inputs, work = tmp_path / "in", tmp_path / "work"
    inputs.mkdir(), work.mkdir()
    source = make(inputs, excerpt)
    detector = box_detector([])
    with pytest.raises(InputError) as caught:
        run_to_result(source, Settings(), output=tmp_path / "out" / "result.zip", detector=detector, work_dir=work)
    _one_line(caught.value)
    assert words.lower() in str(caught.value).lower()
    assert detector.calls == [], "a bad file must fail before detection starts"
    _assert_clean(tmp_path)
    assert list(work.iterdir()) == []


def test_bad_input_fails_before_the_model_loads(excerpt, tmp_path):
    """No detector injected and a model that does not exist: the input error comes first,
    so a user with a broken file is not told about weights."""
    source = _not_a_video(tmp_path, excerpt)
    with pytest.raises(InputError):
        run_to_result(source, Settings(model="no-such-weights.pt"), output=tmp_path / "o.zip", work_dir=tmp_path)
    _assert_clean(tmp_path)


@pytest.mark.parametrize("case", list(BAD_LINKS))
def test_non_drive_or_malformed_link_is_refused_without_network(tmp_path, box_detector, case, no_stray_threads):
    with pytest.raises(DownloadError) as caught:
        run_to_result(BAD_LINKS[case], Settings(), output=tmp_path / "o.zip", detector=box_detector([]),
                      work_dir=tmp_path)
    _one_line(caught.value)
    assert "drive.google.com/file/d/" in str(caught.value)  # says what a good link looks like
    _assert_clean(tmp_path)


@pytest.mark.parametrize("changes,words", [
    ({"interval": 0}, "interval"),
    ({"interval": -5}, "interval"),
    ({"scale_pct": 30}, "50-100"),
    ({"scale_pct": 101}, "50-100"),
    ({"max_mb": 0}, "size cap"),
    ({"max_mb": -1.0}, "size cap"),
    ({"max_images": 0}, "image count"),
    ({"image_format": "gif"}, "format"),
    ({"jpeg_quality": 0}, "quality"),
    ({"conf": 1.5}, "confidence"),
    ({"imgsz": 100}, "multiple of 32"),
    ({"classes": ()}, "classes"),
    ({"interval": 1.5}, "interval"),
    ({"interval": True}, "interval"),
])
def test_out_of_range_setting_is_a_settings_error(changes, words):
    with pytest.raises(SettingsError) as caught:
        Settings(**changes)
    _one_line(caught.value)
    assert words in str(caught.value)


def test_settings_error_names_every_bad_field():
    with pytest.raises(SettingsError) as caught:
        Settings(interval=0, scale_pct=30, max_images=0)
    text = str(caught.value)
    assert "interval" in text and "50-100" in text and "image count" in text


def test_replay_csv_problems_are_input_errors(excerpt, tmp_path):
    cases = {
        "no_columns.csv": "a,b,c\n1,2,3\n",
        "bad_number.csv": "frame,x1,y1,x2,y2\n0,10,10,abc,50\n",
        "inverted_box.csv": "frame,x1,y1,x2,y2\n0,50,10,10,50\n",
        "negative_frame.csv": "frame,x1,y1,x2,y2\n-1,10,10,50,50\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError) as caught:
            run_to_result(excerpt, Settings(detections_csv=path), output=tmp_path / "o.zip", work_dir=tmp_path)
        assert name in str(caught.value)
        _one_line(caught.value)
    with pytest.raises(InputError):
        run_to_result(excerpt, Settings(detections_csv=tmp_path / "missing.csv"), output=tmp_path / "o.zip",
                      work_dir=tmp_path)
    _assert_clean(tmp_path)


def test_truncated_tail_keeps_the_frames_that_decode(excerpt, tmp_path, box_detector):
    """A file cut in the middle of its media is processed up to the cut, like a player
    would, and the Result shows fewer frames than the header promised."""
    source = truncated_copy(excerpt, tmp_path / "half.mp4", 0.5)
    result = run_to_result(source, Settings(interval=1), output=tmp_path / "o.zip", detector=box_detector([]))
    assert 0 < result.frames_read < 30
    assert result.images_written == result.frames_read
    assert result.video.frame_count == 30


def test_a_stage_error_is_reported_as_our_error_and_cleans_up(excerpt, tmp_path, no_stray_threads):
    class Broken:
        def detect(self, frames, indices):
            raise RuntimeError("GPU fell off the bus")

    with pytest.raises(MosaicError) as caught:
        run_to_result(excerpt, Settings(), output=tmp_path / "o.zip", detector=Broken(), work_dir=tmp_path)
    assert "GPU fell off the bus" in str(caught.value)
    _one_line(caught.value)
    _assert_clean(tmp_path)


def test_unwritable_output_is_an_output_error(excerpt, tmp_path, box_detector):
    from pipeline import OutputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        run_to_result(excerpt, Settings(), output=blocker / "sub" / "o.zip", detector=box_detector([]),
                      work_dir=tmp_path)
    assert leftovers(tmp_path) == []


# -- the CLI ----------------------------------------------------------------------------
def _cli(args: list[str], cwd: Path, repo_root: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    temp = cwd / "tmp"
    temp.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(repo_root), TMPDIR=str(temp), YOLO_VERBOSE="False")
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


CLI_CASES = {
    "not a video": (lambda t, e: [str(_not_a_video(t, e))]),
    "empty file": (lambda t, e: [str(_empty(t, e))]),
    "truncated file": (lambda t, e: [str(_truncated_before_first_frame(t, e))]),
    "zero frames": (lambda t, e: [str(_zero_frames(t, e))]),
    "missing file": (lambda t, e: ["missing.mp4"]),
    "wrong drive link": (lambda t, e: ["https://example.com/file/d/abc/view"]),
    "cap of 0 MB": (lambda t, e: [str(e), "--max-mb", "0"]),
    "cap of 0 images": (lambda t, e: [str(e), "--max-images", "0"]),
    "interval 0": (lambda t, e: [str(e), "--interval", "0"]),
    "scale 30": (lambda t, e: [str(e), "--scale", "30"]),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input_exit_2_one_error_line(excerpt, tmp_path, repo_root, case):
    args = CLI_CASES[case](tmp_path, excerpt)
    done = _cli([*args, "--model", "yolo11n.yaml", "--backend", "torch"], tmp_path, repo_root)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr was:\n{done.stderr}"
    assert done.stdout == ""
    assert leftovers(tmp_path) == []
