"""The page's handlers driven directly (no server, no browser), on the real pipeline with the
real YOLO11 network built from yolo11n.yaml (untrained, so it masks no one: the handlers have
no seam for injected boxes, so these tests check structure -- counts, names, sizes, frames,
CSV -- while pixel-level mask checks live in the pipeline tests).

What they prove: Start yields progress and then a ZIP of the frames the settings ask for;
every bad input, a missing model and a cap end in one clear message (never a stack trace)
with nothing left on disk; Stop cancels only its own session's job and removes its output;
closing the generator (what Gradio does on Stop or a closed tab) cleans up too; old results
are swept; the status panel shows the device, CPU %, RAM and running jobs."""
from __future__ import annotations

import re
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import gradio as gr
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import SAMPLE, SAMPLE_FRAMES, SAMPLE_SIZE, long_clip  # noqa: E402
from mediakit import CSV_COLUMNS, IMAGE_NAME, decode_frames, image_size, read_zip  # noqa: E402
from pipeline import Settings  # noqa: E402
from pipeline.errors import InputError, SettingsError  # noqa: E402
from ui import handlers  # noqa: E402
from ui.status import RUNNING, STATUS_CSS, DeviceStatus, JobRate, read_status, status_html  # noqa: E402

PROGRESS, SIZE, GALLERY, ZIP, SUMMARY, VIDEO = range(6)  # start_job's outputs, in layout order


@pytest.fixture(autouse=True)
def isolated_results(tmp_path, monkeypatch) -> Path:
    """Results go to this test's folder; the default model is the untrained yolo11n.yaml."""
    root = tmp_path / "results"
    monkeypatch.setattr(handlers, "RESULTS_ROOT", root)
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11n.yaml")
    return root


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """160 frames (the sample four times): long enough at interval 1 to stop part way."""
    return long_clip(tmp_path_factory.mktemp("long") / "long_clip.mp4", 4)


@pytest.fixture(scope="module")
def sample_frames() -> dict[int, np.ndarray]:
    return decode_frames(SAMPLE)


def request(session: str) -> SimpleNamespace:
    """What Gradio passes as gr.Request, as far as the handlers use it."""
    return SimpleNamespace(session_hash=session)


def folders(root: Path) -> list[Path]:
    return sorted(root.iterdir()) if root.exists() else []


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def closest_source_frame(image: np.ndarray, sources: dict[int, np.ndarray]) -> int:
    """Index of the source frame this output image is (it went through JPEG, no masks)."""
    diffs = {i: float(np.mean(np.abs(image.astype(np.int16) - s.astype(np.int16)))) for i, s in sources.items()}
    return min(diffs, key=diffs.get)


# -- a whole job through Start -------------------------------------------------------------
def test_start_job_streams_progress_then_a_zip_of_every_tenth_frame(isolated_results, sample_frames):
    outputs = []
    running_seen = []
    for out in handlers.start_job(str(SAMPLE), "", request=request("tab-1")):
        outputs.append(out)
        if len(outputs) == 2:  # the first pipeline event: the job is registered as running
            running_seen.append((len(RUNNING.snapshot()), status_html()))
    first, last = outputs[0], outputs[-1]
    assert first[SUMMARY] == "Working…" and first[ZIP] is None
    assert all(out[ZIP] is None for out in outputs[:-1]), "the ZIP is offered only when it is complete"
    assert running_seen and running_seen[0][0] == 1 and "1 job(s) running" in running_seen[0][1]
    assert RUNNING.snapshot() == [] and "idle" in status_html()

    assert last[SUMMARY].startswith("✅ Done: 4 images"), last[SUMMARY]
    assert f"{SAMPLE_SIZE[0]}x{SAMPLE_SIZE[1]}" in last[SUMMARY] and f"{SAMPLE_FRAMES} frames read" in last[SUMMARY]
    assert "done" in last[PROGRESS] and last[VIDEO] is None
    zip_path = Path(last[ZIP])
    assert zip_path.is_file() and zip_path.name == "vtest_clip_mosaic.zip"
    assert [zip_path.parent] == folders(isolated_results), "one result folder per job, in RESULTS_ROOT"
    shown_mb = float(re.search(r"([\d.]+) MB / no cap", last[SIZE]).group(1))
    assert abs(shown_mb - zip_path.stat().st_size / 1e6) <= 0.05

    contents = read_zip(zip_path)
    assert contents.frame_indices() == [0, 10, 20, 30]
    assert all(IMAGE_NAME.match(n) for n in contents.image_names)
    assert contents.csv_header()[:len(CSV_COLUMNS)] == CSV_COLUMNS
    for name, index in zip(contents.image_names, contents.frame_indices()):
        image = contents.decoded(name)
        assert (image.shape[1], image.shape[0]) == SAMPLE_SIZE
        assert closest_source_frame(image, sample_frames) == index, f"{name} is not source frame {index}"

    # the gallery shows the latest written frames, RGB (the pipeline works in BGR)
    gallery = last[GALLERY]
    assert 1 <= len(gallery) <= handlers.GALLERY_SIZE
    for picture, caption in gallery:
        index = int(caption.removeprefix("frame "))
        assert index in contents.frame_indices()
        written = contents.image_for_frame(index)
        thumb = cv2.resize(written, (picture.shape[1], picture.shape[0]), interpolation=cv2.INTER_AREA)
        as_rgb = np.mean(np.abs(picture.astype(np.int16) - thumb[..., ::-1].astype(np.int16)))
        as_bgr = np.mean(np.abs(picture.astype(np.int16) - thumb.astype(np.int16)))
        assert as_rgb < 3 and as_rgb < as_bgr, (as_rgb, as_bgr)


def test_start_job_applies_interval_scale_format_and_makes_the_video(isolated_results):
    outputs = list(handlers.start_job(str(SAMPLE), "", interval=5.0, scale_pct=50.0, image_format="png",
                                      make_video=True))
    last = outputs[-1]
    assert last[SUMMARY].startswith("✅ Done: 8 images"), last[SUMMARY]
    contents = read_zip(Path(last[ZIP]))
    assert contents.frame_indices() == list(range(0, SAMPLE_FRAMES, 5))
    assert all(n.endswith(".png") for n in contents.image_names)
    half = (SAMPLE_SIZE[0] // 2, SAMPLE_SIZE[1] // 2)
    assert {image_size(d) for d in contents.images.values()} == {half}
    video = Path(last[VIDEO])
    assert video.parent == Path(last[ZIP]).parent and video.suffix == ".mp4"
    with av.open(str(video)) as container:
        frames = [f for f in container.decode(video=0)]
    assert len(frames) == SAMPLE_FRAMES and (frames[0].width, frames[0].height) == half
    assert f"Video: {SAMPLE_FRAMES} frames" in last[SUMMARY]


# -- bad input ----------------------------------------------------------------------------
@pytest.fixture
def text_as_mp4(tmp_path) -> Path:
    path = tmp_path / "<img src=x onerror=alert(1)>.mp4"  # a hostile name must come out escaped
    path.write_text("just some notes, not a video\n")
    return path


BAD_INPUTS = {
    "text file named .mp4": (lambda t: dict(video_file=str(t)), "Not a readable video"),
    "both file and link": (lambda t: dict(video_file=str(SAMPLE), drive_link="https://drive.google.com/file/d/abc/view"),
                           "not both"),
    "neither": (lambda t: dict(video_file=None, drive_link="   "), "Upload a video or paste a Google Drive link"),
    "non-Drive link": (lambda t: dict(video_file=None, drive_link="https://example.com/video.mp4"),
                       "Only Google Drive links"),
    "ticked size cap of 0": (lambda t: dict(video_file=str(SAMPLE), limit_size=True, max_mb=0), "size cap"),
    "ticked empty image cap": (lambda t: dict(video_file=str(SAMPLE), limit_images=True, max_images=None),
                               "maximum image count"),
    "interval 0": (lambda t: dict(video_file=str(SAMPLE), interval=0), "capture interval"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_message_and_leaves_nothing(case, text_as_mp4, isolated_results):
    make_kwargs, expected = BAD_INPUTS[case]
    outputs = list(handlers.start_job(**make_kwargs(text_as_mp4)))
    summary = outputs[-1][SUMMARY]
    assert summary.startswith("❌"), summary
    assert expected in summary, summary
    assert "Traceback" not in summary and "File \"" not in summary
    assert "<img" not in summary, "user text in the message must be HTML-escaped"
    assert all(out[ZIP] is None and out[VIDEO] is None for out in outputs)
    assert "failed" in outputs[-1][PROGRESS]
    assert folders(isolated_results) == []

    with pytest.raises(gr.Error) as raised:  # the API says the same, as an error
        handlers.process_api(**make_kwargs(text_as_mp4))
    assert expected in raised.value.message and "Traceback" not in raised.value.message
    assert folders(isolated_results) == []


@pytest.mark.parametrize("how", ["model box", "MOSAIC_MODEL"])
def test_missing_model_says_how_to_provide_weights(how, monkeypatch, isolated_results):
    missing = "/nonexistent/model.pt"
    if how == "MOSAIC_MODEL":
        monkeypatch.setenv("MOSAIC_MODEL", missing)
    model = missing if how == "model box" else ""
    outputs = list(handlers.start_job(str(SAMPLE), "", model=model))
    summary = outputs[-1][SUMMARY]
    assert summary.startswith("❌") and "model.pt" in summary, summary
    assert "MOSAIC_MODEL" in summary and "weights" in summary, "the message must say how to provide weights"
    assert "Traceback" not in summary
    assert all(out[ZIP] is None for out in outputs)
    assert folders(isolated_results) == []
    with pytest.raises(gr.Error, match="MOSAIC_MODEL"):
        handlers.process_api(str(SAMPLE), model=model)
    assert folders(isolated_results) == []


def test_warm_model_reports_a_missing_model_instead_of_raising(monkeypatch):
    monkeypatch.setenv("MOSAIC_MODEL", "/nonexistent/model.pt")
    error = handlers.warm_model()
    assert error is not None and "MOSAIC_MODEL" in error
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11n.yaml")
    assert handlers.warm_model() is None


# -- caps ---------------------------------------------------------------------------------
@pytest.mark.parametrize("caps, images, cap_name", [
    (dict(limit_images=True, max_images=2), 2, "image count cap"),
    (dict(limit_size=True, max_mb=0.25), None, "size cap"),
])
def test_a_cap_stops_early_and_says_so(caps, images, cap_name, isolated_results):
    outputs = list(handlers.start_job(str(SAMPLE), "", **caps))
    last = outputs[-1]
    assert last[SUMMARY].startswith("⚠️ Stopped early by the " + cap_name), last[SUMMARY]
    assert "stopped early" in last[PROGRESS]
    zip_path = Path(last[ZIP])
    contents = read_zip(zip_path)
    assert 1 <= len(contents.image_names) < SAMPLE_FRAMES // 10
    if images is not None:
        assert len(contents.image_names) == images
    else:
        assert zip_path.stat().st_size <= 0.25e6
        shown_cap = float(re.search(r"/ ([\d.]+) MB", last[SIZE]).group(1))  # the cap is shown
        assert abs(shown_cap - 0.25) <= 0.05, last[SIZE]


def test_unticked_caps_are_ignored(isolated_results):
    last = list(handlers.start_job(str(SAMPLE), "", limit_size=False, max_mb=0, limit_images=False,
                                   max_images=1))[-1]
    assert last[SUMMARY].startswith("✅ Done: 4 images"), last[SUMMARY]


# -- Stop and isolation -------------------------------------------------------------------
def _run_in_thread(outputs: list, **kwargs) -> threading.Thread:
    def consume():
        for out in handlers.start_job(**kwargs):
            outputs.append(out)
    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread


def test_stop_cancels_only_its_own_session_and_removes_its_output(long_video, isolated_results, no_stray_threads):
    stopped_out: list = []
    other_out: list = []
    stopped = _run_in_thread(stopped_out, video_file=str(long_video), interval=1, request=request("tab-A"))
    other = _run_in_thread(other_out, video_file=str(SAMPLE), interval=2, request=request("tab-B"))
    # both jobs are processing frames before Stop is pressed in tab A
    wait_for(lambda: len(RUNNING.snapshot()) == 2 and all(j.frames_read > 0 for j in RUNNING.snapshot()),
             60, "both jobs to process frames")
    assert len(folders(isolated_results)) == 2, "each job has its own result folder"
    assert handlers.stop_job(request("tab-C")) == "Nothing is running."
    assert handlers.stop_job(None) == "Nothing is running."
    # Stop answers once the job has ended (Gradio drops the job's own last message), so what it
    # says must already be true when it says it
    assert handlers.stop_job(request("tab-A")).startswith("⏹️ Stopped. Partial output was removed")
    assert len(folders(isolated_results)) == 1, "only the other job's folder is left"
    stopped.join(15)
    assert not stopped.is_alive(), "the stopped job did not end"
    other.join(60)
    assert not other.is_alive()

    assert stopped_out[-1][SUMMARY].startswith("⏹️ Stopped"), stopped_out[-1][SUMMARY]
    assert all(out[ZIP] is None for out in stopped_out)
    finished = other_out[-1]
    assert finished[SUMMARY].startswith(f"✅ Done: {SAMPLE_FRAMES // 2} images"), finished[SUMMARY]
    assert read_zip(Path(finished[ZIP])).frame_indices() == list(range(0, SAMPLE_FRAMES, 2))
    assert folders(isolated_results) == [Path(finished[ZIP]).parent], "the stopped job's folder is removed"
    assert RUNNING.snapshot() == []
    assert handlers.stop_job(request("tab-A")) == "Nothing is running.", "a finished job is unregistered"


def test_closing_the_generator_mid_run_removes_everything(long_video, isolated_results, no_stray_threads):
    """Gradio closes the handler's generator when Stop cancels the event or the tab closes."""
    events = handlers.start_job(str(long_video), "", interval=1, request=request("tab-closing"))
    for out in events:
        if "processing" in out[PROGRESS]:
            break
    else:
        pytest.fail("the job ended before it was processing")
    assert len(folders(isolated_results)) == 1 and RUNNING.snapshot()
    events.close()
    assert folders(isolated_results) == []
    assert RUNNING.snapshot() == []
    assert handlers.stop_job(request("tab-closing")) == "Nothing is running."


# -- the API handler ----------------------------------------------------------------------
def test_process_api_returns_the_zip_and_sweeps_old_results(isolated_results, monkeypatch):
    monkeypatch.setattr(handlers, "RESULT_TTL_S", 60)
    old = isolated_results / "job-old"
    old.mkdir(parents=True)
    (old / "x_mosaic.zip").write_bytes(b"old")
    past = time.time() - 120
    import os
    os.utime(old, (past, past))

    path = Path(handlers.process_api(str(SAMPLE)))
    assert path.is_file() and path.parent.parent == isolated_results
    contents = read_zip(path)
    assert contents.frame_indices() == [0, 10, 20, 30]
    assert {image_size(d) for d in contents.images.values()} == {SAMPLE_SIZE}
    assert not old.exists(), "starting a job sweeps results older than RESULT_TTL_S"
    assert RUNNING.snapshot() == []


# -- small pieces -------------------------------------------------------------------------
def test_sweep_old_results_removes_only_expired_folders(isolated_results, monkeypatch):
    import os

    handlers.sweep_old_results()  # no results folder yet: nothing to do, no error
    monkeypatch.setattr(handlers, "RESULT_TTL_S", 100)
    now = time.time()
    ages = {"job-expired": 101, "job-fresh": 99, "job-new": 0}
    for name, age in ages.items():
        (isolated_results / name).mkdir(parents=True)
        (isolated_results / name / "a.zip").write_bytes(b"x")
        os.utime(isolated_results / name, (now - age, now - age))
    handlers.sweep_old_results(now=now)
    assert [p.name for p in folders(isolated_results)] == ["job-fresh", "job-new"]
    handlers.sweep_old_results(now=now + 200)
    assert folders(isolated_results) == []


def test_settings_from_inputs_maps_the_page_values():
    defaults = Settings()
    settings = handlers.settings_from_inputs(5.0, 60.0, False, 0, False, 0, "png", 80.0, "blur", 20.0, 5, 0.3, "")
    assert (settings.interval, settings.scale_pct, settings.jpeg_quality, settings.mosaic_cells) == (5, 60, 80, 20)
    assert all(isinstance(v, int) for v in (settings.interval, settings.scale_pct, settings.jpeg_quality))
    assert settings.max_mb is None and settings.max_images is None, "unticked caps are no caps"
    assert (settings.image_format, settings.style, settings.pad_pct, settings.conf) == ("png", "blur", 5.0, 0.3)
    assert settings.model == "yolo11n.yaml", "an empty model box means $MOSAIC_MODEL"
    assert settings.hold_s == defaults.hold_s

    capped = handlers.settings_from_inputs(10, 100, True, 12.5, True, 7.0, "jpg", 90, "mosaic", 15, 10, 0.2,
                                           "  /weights/best.pt ", 1.5)
    assert (capped.max_mb, capped.max_bytes, capped.max_images) == (12.5, 12_500_000, 7)
    assert capped.model == "/weights/best.pt" and capped.hold_s == 1.5

    for bad in (dict(interval=2.5), dict(interval=0), dict(limit_size=True, max_mb=0), dict(limit_size=True, max_mb=""),
                dict(limit_images=True, max_images=0), dict(limit_images=True, max_images=None)):
        values = dict(interval=10, scale_pct=100, limit_size=False, max_mb=500, limit_images=False, max_images=1000,
                      image_format="jpg", jpeg_quality=90, style="mosaic", mosaic_cells=15, pad_pct=10, conf=0.2,
                      model="")
        values.update(bad)
        with pytest.raises(SettingsError):
            handlers.settings_from_inputs(**values)


def test_pick_source_takes_exactly_one_of_file_and_link(tmp_path):
    assert handlers.pick_source(str(SAMPLE), "") == str(SAMPLE)
    assert handlers.pick_source(SAMPLE, None) == str(SAMPLE)
    assert handlers.pick_source(SimpleNamespace(name=str(SAMPLE)), "  ") == str(SAMPLE)  # a tempfile wrapper
    link = "https://drive.google.com/file/d/abc/view"
    assert handlers.pick_source(None, f"  {link}\n") == link
    with pytest.raises(InputError, match="not both"):
        handlers.pick_source(str(SAMPLE), link)
    for nothing in ((None, ""), (None, None), ("", "   ")):
        with pytest.raises(InputError, match="Upload a video"):
            handlers.pick_source(*nothing)


# -- the status panel ---------------------------------------------------------------------
def _status(**changes) -> DeviceStatus:
    values = dict(gpu_name=None, gpu_mem_used_gb=0.0, gpu_mem_total_gb=0.0, gpu_util_pct=None, cpu_cores=2,
                  cpu_pct=37.4, ram_used_gb=3.31, ram_total_gb=15.5)
    values.update(changes)
    return DeviceStatus(**values)


def test_status_panel_cpu_only_is_red_with_core_count_cpu_and_ram():
    text = status_html(_status(cpu_cores=6), jobs=[])
    assert '<span class="dev-cpu">CPU only (6 cores), no GPU</span>' in text
    assert "CPU 37 %" in text and "RAM 3.3 / 15.5 GB" in text and "idle" in text
    assert "dev-gpu" not in text
    color = re.search(r"\.dev-cpu\s*\{[^}]*color:\s*#([0-9a-fA-F]{6})", STATUS_CSS)
    assert color, "the CPU-only label needs a colour"
    r, g, b = (int(color.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    assert r > 150 and g < 80 and b < 80, "CPU-only is shown in red"


def test_status_panel_gpu_with_memory_and_load_and_running_jobs():
    jobs = [JobRate(fps=24.6, frames_read=120, frames_total=400), JobRate(fps=8.2, frames_read=5, frames_total=0)]
    text = status_html(_status(gpu_name="NVIDIA <T4>", gpu_mem_used_gb=1.26, gpu_mem_total_gb=15.84,
                               gpu_util_pct=63.0), jobs=jobs)
    assert '<span class="dev-gpu">GPU: NVIDIA &lt;T4&gt;</span>' in text, "the GPU name is shown, escaped"
    assert "1.3 / 15.8 GB, 63 % busy" in text
    assert "CPU only" not in text and "dev-cpu" not in text
    assert "2 job(s) running: 25 frames/s (120/400), 8 frames/s (5/?)" in text
    no_util = status_html(_status(gpu_name="NVIDIA T4", gpu_util_pct=None), jobs=[])
    assert "busy" not in no_util


def test_status_panel_reads_this_machine():
    import os

    status = read_status()
    assert status.cpu_cores == os.cpu_count()
    assert 0 < status.ram_used_gb < status.ram_total_gb
    assert 0 <= status.cpu_pct <= 100
    text = status_html()
    if status.gpu_name is None:
        assert f"CPU only ({os.cpu_count()} cores)" in text


def test_the_page_refreshes_the_status_panel_with_a_timer():
    from ui import build_demo

    demo = build_demo()
    timers = [b for b in demo.blocks.values() if isinstance(b, gr.Timer)]
    assert len(timers) == 1 and 0 < timers[0].value <= 5
    ticks = [f for f in demo.fns.values() if (timers[0]._id, "tick") in f.targets]
    assert len(ticks) == 1 and ticks[0].fn is status_html
    assert [o.elem_id for o in ticks[0].outputs] == ["status"]
