"""Never destroy the user's footage (issue 16): outputs that collide with inputs or with each
other, folders that cannot be written, a sink that fails at start-up; "stop and keep what
is done"; a warning when nobody was detected; counts that agree when a run stops early.

Every refusal is checked the way a user meets it: one `error:` line, exit 2, the input
byte-for-byte unchanged, not one new file in any folder, no pipeline thread left.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from mediakit import decode_frames, padded_boxes, read_zip, union_mask
from pipeline import NO_PERSON_WARNING, USER_STOP, Cancelled, OutputError, Settings, kept_path, run, run_to_result
from pipeline.events import Progress, Result

W, H, FPS, FRAMES = 768, 576, 10, 30  # the excerpt
BOX = (300.0, 150.0, 420.0, 400.0)
PAD = 10.0


def _run_until(source: Path, settings: Settings, stop_when, *, finish: threading.Event, **kwargs) -> Result:
    """Run, set `finish` at the first Progress for which `stop_when` is true, return the Result."""
    result = None
    for event in run(source, settings, finish=finish, **kwargs):
        if isinstance(event, Progress) and stop_when(event):
            finish.set()
        elif isinstance(event, Result):
            result = event
    assert result is not None
    return result


def _assert_masked_exactly(image: np.ndarray, source: np.ndarray) -> None:
    """A PNG output frame: identical to the source outside the padded box, changed inside."""
    regions = padded_boxes([BOX], PAD, W, H)
    inside = union_mask(regions, image.shape)
    assert np.array_equal(image[~inside], source[~inside]), "pixels outside the box changed"
    x1, y1, x2, y2 = regions[0]
    changed = np.any(image[y1:y2, x1:x2] != source[y1:y2, x1:x2], axis=-1).mean()
    assert changed > 0.5, f"only {changed:.0%} of the box is masked"


# -- stop and keep what is done -----------------------------------------------------------
def test_stop_and_keep_gives_a_valid_zip_of_the_frames_done_under_a_partial_name(
        excerpt, tmp_path, box_detector, no_stray_threads):
    out = tmp_path / "out"
    out.mkdir()
    previous = out / "clip_mosaic.zip"
    previous.write_bytes(b"the previous good result")  # never replaced by a cut-short run
    settings = Settings(interval=2, batch=1, image_format="png", pad_pct=PAD, hold_s=0.0)
    detector = box_detector([BOX], delay_s=0.1)
    result = _run_until(excerpt, settings, lambda e: e.images_written >= 3, finish=threading.Event(),
                        output=previous, detector=detector, work_dir=tmp_path)

    assert result.stop_reason == USER_STOP and result.stopped_early
    assert result.zip_path == out / "clip_mosaic_partial.zip" == kept_path(previous)
    assert previous.read_bytes() == b"the previous good result"
    assert sorted(p.name for p in out.iterdir()) == ["clip_mosaic.zip", "clip_mosaic_partial.report.html",
                                                     "clip_mosaic_partial.report.json", "clip_mosaic_partial.zip"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no working file or job folder left"

    stop = result.stopped_at_frame
    assert 6 <= stop < FRAMES, "stopped in the middle, after the third image"
    assert result.frames_read == stop, "the count says how many frames went through"
    assert result.stopped_at_s == pytest.approx(stop / FPS)
    contents = read_zip(result.zip_path)  # testzip() passes: a whole, valid archive
    expected = list(range(0, stop, 2))
    assert contents.frame_indices() == expected and result.images_written == len(expected)
    assert all(name.startswith(f"frame_{i:06d}_") for name, i in zip(contents.image_names, expected))
    assert {int(r["frame"]) for r in contents.csv_rows()} == set(expected)
    assert result.zip_bytes == result.zip_path.stat().st_size
    sources = decode_frames(excerpt, expected)
    for index in expected:
        _assert_masked_exactly(contents.image_for_frame(index), sources[index])
    assert max(i for call in detector.calls for i in call) < stop + 4, "reading stopped at the cut"
    assert result.message.startswith(f"Stopped by you at frame {stop} (t={stop / FPS:.1f} s): ")
    assert f"{len(expected)} images" in result.message and "kept in clip_mosaic_partial.zip" in result.message
    assert "the rest of the video was not processed" in result.message


def test_stop_and_keep_with_video_keeps_a_playable_video_of_the_same_frames(samples_dir, tmp_path, box_detector,
                                                                               no_stray_threads):
    """Megamind.avi has AC-3 audio: the kept video's audio ends with its last frame."""
    source = samples_dir / "Megamind.avi"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    settings = Settings(interval=25, batch=1, hold_s=0.0)
    result = _run_until(source, settings, lambda e: e.frames_read >= 60, finish=threading.Event(),
                        output=tmp_path / "m.zip", video_output=tmp_path / "m.mp4",
                        detector=box_detector([BOX], delay_s=0.02), work_dir=tmp_path)

    assert result.stop_reason == USER_STOP
    stop = result.stopped_at_frame
    assert 60 <= stop < 270
    assert result.video_path == tmp_path / "m_partial.mp4" and result.zip_path == tmp_path / "m_partial.zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_partial.mp4", "m_partial.report.html",
                                                          "m_partial.report.json", "m_partial.zip"]
    assert result.frames_read == result.video_frames == stop
    assert read_zip(result.zip_path).frame_indices() == list(range(0, stop, 25))
    with av.open(str(result.video_path)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == stop
    frames = [f.to_ndarray(format="bgr24") for f in decoded[-1:]]
    video_end = decoded[-1].time + 1 / 23.976
    with av.open(str(result.video_path)) as container:
        audio = container.streams.audio[0]
        audio_end = max(float(p.pts * p.time_base) for p in container.demux(audio) if p.pts is not None)
    assert abs(audio_end - stop / 23.976) < 0.2, "the audio stops where the kept video stops"
    assert abs(video_end - stop / 23.976) < 0.2
    # the kept video is masked too: its last frame differs from the source inside the box
    last = decode_frames(source, [stop - 1])[stop - 1]
    x1, y1, x2, y2 = (int(v) for v in BOX)
    assert np.abs(frames[-1][y1:y2, x1:x2].astype(int) - last[y1:y2, x1:x2]).mean() > 5


def test_stop_and_keep_before_any_frame_writes_nothing(excerpt, tmp_path, box_detector, no_stray_threads):
    finish = threading.Event()
    finish.set()
    detector = box_detector([BOX])
    with pytest.raises(Cancelled):
        for _ in run(excerpt, Settings(), output=tmp_path / "o.zip", detector=detector, finish=finish,
                     work_dir=tmp_path):
            pass
    assert detector.calls == [] and list(tmp_path.iterdir()) == []


def test_plain_cancel_still_removes_everything(excerpt, tmp_path, box_detector, no_stray_threads):
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        for event in run(excerpt, Settings(interval=1, batch=1), output=tmp_path / "o.zip", cancel=cancel,
                         finish=threading.Event(), detector=box_detector([BOX], delay_s=0.1), work_dir=tmp_path):
            if isinstance(event, Progress) and event.images_written >= 2:
                cancel.set()
    assert list(tmp_path.iterdir()) == []


# -- refusals: one line, exit 2, the input untouched, nothing new anywhere -------------------
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, tuple[int, float] | None]:
    """Every entry under `folder` (hidden ones too) with its size and mtime for files."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime) if p.is_file() and not p.is_symlink()
            else None for p in sorted(folder.rglob("*"))}


@pytest.fixture
def workspace(tmp_path, excerpt, monkeypatch):
    """tmp_path as the current folder, holding clip.mp4 (a copy of the excerpt), a folder
    out/, a text file, an empty detections CSV and a private temp folder for job folders."""
    shutil.copy(excerpt, tmp_path / "clip.mp4")
    (tmp_path / "out").mkdir()
    (tmp_path / "notes.txt").write_text("not a folder\n")
    (tmp_path / "none.csv").write_text("frame,x1,y1,x2,y2\n")
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR: job folders go there
    return tmp_path


@pytest.fixture
def read_only_dir(workspace):
    """A read-only tmpfs at ro/: permission bits say writable, root ignores them, yet
    nothing can be created there. Needs root to mount (as in CI)."""
    mount_point = workspace / "ro"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {proc.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def _link(name: str, hard: bool = False):
    """A setup step: `name` made a symlink (or hard link) to clip.mp4."""
    def make(w: Path) -> None:
        os.link(w / "clip.mp4", w / name) if hard else (w / name).symlink_to(w / "clip.mp4")
    return make


def _copy_of_clip(name: str):
    return lambda w: shutil.copy(w / "clip.mp4", w / name)


# name -> (argv, words the error line must name, setup step or None); paths are relative to
# the workspace, which is the current folder
REFUSALS = {
    "-o is the input": (["clip.mp4", "-o", "clip.mp4"], ["clip.mp4", "same file as the input"], None),
    "--video is the input": (["clip.mp4", "-o", "out/a.zip", "--video", "clip.mp4"],
                             ["clip.mp4", "same file as the input"], None),
    "--video is -o": (["clip.mp4", "-o", "out/a.zip", "--video", "out/a.zip"], ["out/a.zip", "same file"], None),
    "--video is -o spelled otherwise": (["clip.mp4", "-o", "out/a.zip", "--video", "out/../out/a.zip"],
                                        ["out/a.zip", "out/../out/a.zip", "same file"], None),
    "-o is the input via ./": (["clip.mp4", "-o", "./clip.mp4"], ["clip.mp4", "same file as the input"], None),
    "-o is the input via ..": (["clip.mp4", "-o", "out/../clip.mp4"], ["out/../clip.mp4", "same file as the input"],
                               None),
    "input reached through a symlink": (["link.mp4", "--video", "clip.mp4"], ["link.mp4", "clip.mp4"],
                                        _link("link.mp4")),
    "-o is a symlink to the input": (["clip.mp4", "-o", "out/link.zip"], ["out/link.zip", "clip.mp4"],
                                     _link("out/link.zip")),
    "-o is a hard link to the input": (["clip.mp4", "-o", "out/hard.zip"], ["out/hard.zip", "clip.mp4"],
                                       _link("out/hard.zip", hard=True)),
    "stop-and-keep name of --video is the input": (["v_partial.mp4", "-o", "out/a.zip", "--video", "v.mp4"],
                                                   ["v.mp4", "v_partial.mp4", "same file as the input"],
                                                   _copy_of_clip("v_partial.mp4")),
    "-o is the detections CSV": (["clip.mp4", "-o", "none.csv"], ["none.csv", "same file as the input"], None),
    "parent of --video is the input file": (["clip.mp4", "-o", "out/a.zip", "--video", "clip.mp4/v.mp4"],
                                            ["clip.mp4", "not a folder"], None),
    "parent of -o is a file": (["clip.mp4", "-o", "notes.txt/sub/a.zip"], ["notes.txt", "not a folder"], None),
    "-o is a folder": (["clip.mp4", "-o", "out"], ["out", "is a folder"], None),
}


def _refused_in_process(argv: list[str], capsys) -> str:
    """Run the CLI in this process; return its one stderr line after checking exit 2."""
    from pipeline.cli import main

    code = main(argv + ["--detections", "none.csv"] if "--detections" not in argv else argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == "", "no JSON summary for a refused run"
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_output_path_is_refused_with_one_line_and_nothing_changes(case, workspace, capsys, no_stray_threads):
    argv, words, setup = REFUSALS[case]
    if setup is not None:
        setup(workspace)
    inputs = [workspace / argv[0], workspace / "none.csv"]
    before_hash = [_sha256(p) for p in inputs]
    before = _tree(workspace)
    line = _refused_in_process(argv, capsys)
    for word in words:
        assert word in line, f"{word!r} not named in: {line}"
    assert [_sha256(p) for p in inputs] == before_hash, "an input changed"
    assert _tree(workspace) == before, "a file was created, changed or removed"


def test_read_only_folder_is_refused_up_front(read_only_dir, workspace, capsys, no_stray_threads):
    assert read_only_dir.stat().st_mode & 0o222, "the permission bits say writable: only trying tells"
    for argv in (["clip.mp4", "-o", "ro/a.zip"], ["clip.mp4", "-o", "out/a.zip", "--video", "ro/sub/v.mp4"]):
        before, digest = _tree(workspace), _sha256(workspace / "clip.mp4")
        line = _refused_in_process(argv, capsys)
        assert "ro" in line and "not writable" in line and "Read-only file system" in line, line
        assert _tree(workspace) == before and _sha256(workspace / "clip.mp4") == digest


def test_folder_without_write_permission_is_refused(workspace, capsys, no_stray_threads):
    """As a normal user the permission bits are checked first; as root they do not bind and
    the probe file decides (the read-only mount test covers that)."""
    locked = workspace / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permission bits do not stop writes (see the read-only mount test)")
        before = _tree(workspace)
        line = _refused_in_process(["clip.mp4", "-o", "locked/a.zip"], capsys)
        assert "locked" in line and "not writable" in line, line
        assert _tree(workspace) == before
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("argv", [["clip.mp4", "-o", "./clip.mp4"], ["clip.mp4", "-o", "out/a.zip", "--video", "clip.mp4"]])
def test_cli_process_refuses_overwriting_the_input(argv, workspace, repo_root):
    """The real command, as a user types it: exit 2, one line, the input byte-for-byte kept."""
    digest, before = _sha256(workspace / "clip.mp4"), _tree(workspace)
    env = dict(os.environ, PYTHONPATH=str(repo_root))
    proc = subprocess.run([sys.executable, "-m", "pipeline", *argv, "--detections", "none.csv"], cwd=workspace,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "same file as the input" in lines[0], proc.stderr
    assert _sha256(workspace / "clip.mp4") == digest
    assert _tree(workspace) == before


def test_existing_output_that_is_not_an_input_is_replaced_whole(workspace, capsys, no_stray_threads):
    """Replacing a previous result stays allowed (through the .partial rename)."""
    from pipeline.cli import main

    (workspace / "out" / "a.zip").write_bytes(b"old result")
    assert main(["clip.mp4", "-o", "out/a.zip", "--interval", "10", "--detections", "none.csv"]) == 0
    assert read_zip(workspace / "out" / "a.zip").frame_indices() == [0, 10, 20]
    assert sorted(p.name for p in (workspace / "out").iterdir()) == ["a.report.html", "a.report.json", "a.zip"]


# -- a sink that fails at start-up --------------------------------------------------------
@pytest.mark.parametrize("error", [OutputError("Cannot write video v.mp4: no room"),
                                   NotADirectoryError(20, "Not a directory", "x/v.mp4")])
def test_video_sink_failing_at_start_up_stops_everything_and_removes_the_partial_zip(
        error, excerpt, tmp_path, box_detector, monkeypatch, no_stray_threads):
    from pipeline.io import video_sink

    zip_partial = tmp_path / "o.zip.partial"
    seen = {}

    def failing_init(self, *args, **kwargs):
        seen["zip partial existed"] = zip_partial.exists()
        seen["threads"] = [t.name for t in threading.enumerate() if t.name.startswith("mosaic-")]
        raise error

    monkeypatch.setattr(video_sink.VideoSink, "__init__", failing_init)
    detector = box_detector([BOX])
    with pytest.raises(OutputError) as caught:
        for _ in run(excerpt, Settings(interval=1), output=tmp_path / "o.zip", video_output=tmp_path / "v.mp4",
                     detector=detector, work_dir=tmp_path):
            pass
    assert seen["zip partial existed"], "the ZIP sink is opened first: its .partial must then be removed"
    assert seen["threads"] == [], "no stage may start before every sink is open"
    assert "\n" not in str(caught.value) and "v.mp4" in str(caught.value)
    assert detector.calls == []
    assert list(tmp_path.iterdir()) == [], "partial ZIP or job folder left"


def test_sink_abort_never_raises_when_its_folder_is_gone(tmp_path, excerpt):
    from pipeline.io.video_sink import VideoSink
    from pipeline.io.zip_sink import ZipSink

    folder = tmp_path / "f"
    zip_sink = ZipSink(folder / "a.zip", temp_dir=tmp_path)
    video = VideoSink(folder / "v.mp4", excerpt, 64, 48, 10.0, None)
    shutil.rmtree(folder)
    (tmp_path / "f").write_text("now a file")  # unlink of f/... raises NotADirectoryError
    zip_sink.abort()
    video.abort()
    zip_sink.abort()


# -- counts that agree, and a warning when nobody was found -------------------------------
def test_cap_stop_counts_the_frames_that_went_through_not_how_far_the_reader_ran(vtest_avi, box_detector,
                                                                                    tmp_path, no_stray_threads):
    """vtest.avi is 795 frames: the reader runs well past the cap frame before the writer
    stops; the Result's frame count must be the cap frame, as the message says."""
    result = run_to_result(vtest_avi, Settings(interval=5, max_images=7), output=tmp_path / "o.zip",
                           detector=box_detector([BOX]), work_dir=tmp_path)
    assert result.stop_reason == "image_cap" and result.stopped_at_frame == 35
    assert result.frames_read == 35
    assert "Stopped at frame 35 (t=3.5 s)" in result.message
    assert result.summary()["frames_read"] == result.summary()["stopped_at_frame"] == 35
    assert read_zip(result.zip_path).frame_indices() == list(range(0, 35, 5))


def test_cli_warns_when_nobody_was_detected(workspace, capsys, no_stray_threads):
    from pipeline.cli import main

    code = main(["clip.mp4", "-o", "out/a.zip", "--interval", "10", "--max-images", "2", "--detections", "none.csv"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["warnings"] == [NO_PERSON_WARNING] == ["No person was detected: check the output before sharing."]
    assert NO_PERSON_WARNING in summary["message"]
    assert f"warning: {NO_PERSON_WARNING}" in captured.err.splitlines()
    assert summary["frames_read"] == summary["stopped_at_frame"] == 20  # a cap stop's counts agree here too
    assert read_zip(workspace / "out" / "a.zip").csv_rows() == []


def test_no_warning_when_people_were_masked_even_only_in_the_video(excerpt, tmp_path, box_detector):
    found = run_to_result(excerpt, Settings(interval=10), output=tmp_path / "a.zip", detector=box_detector([BOX]))
    assert found.warnings == () and NO_PERSON_WARNING not in found.message
    # one person on frame 3 only: no captured image shows them, the video does
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("frame,x1,y1,x2,y2\n3,300,150,420,400\n")
    video_only = run_to_result(excerpt, Settings(interval=10, hold_s=0.0, detections_csv=boxes),
                               output=tmp_path / "b.zip", video_output=tmp_path / "b.mp4")
    assert video_only.people_found == 0 and video_only.warnings == ()
    nobody = run_to_result(excerpt, Settings(interval=10), output=tmp_path / "c.zip", detector=box_detector([]))
    assert nobody.warnings == (NO_PERSON_WARNING,) and nobody.message.endswith(NO_PERSON_WARNING)


def test_unwritable_working_folder_is_one_line_too(workspace, read_only_dir, box_detector, no_stray_threads):
    before = _tree(workspace)
    with pytest.raises(OutputError) as caught:
        run_to_result("clip.mp4", Settings(), output="out/a.zip", detector=box_detector([BOX]), work_dir=read_only_dir)
    assert "working folder" in str(caught.value) and "Read-only file system" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert _tree(workspace) == before
