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

import html
import re
import shutil
import sys
import threading
import time
import uuid
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
from ui import api, handlers, inputs, sources  # noqa: E402
from ui.status import RUNNING, STATUS_CSS, DeviceStatus, JobRate, read_status, status_html, status_panel  # noqa: E402

# start_job's outputs, in the order the layout lists them
PROGRESS, SIZE, GALLERY, ZIP, SUMMARY, VIDEO, VIDEO_INPUT, START, STOP, KEEP, SAMPLE_BUTTON = range(11)


def value(update):
    """A component value from a handler output: a plain value or the value of a gr.update."""
    return update.get("value") if isinstance(update, dict) else update


def text(summary_html) -> str:
    """The words of an HTML summary, as a reader sees them."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", summary_html or "")).split())


def zip_of(out) -> Path | None:
    path = value(out[ZIP])
    return Path(path) if path else None


def api_result(*args, **kwargs):
    """process_api runs to its last output: (ZIP path, summary)."""
    return list(api.process_api(*args, **kwargs))[-1]


pytestmark = pytest.mark.usefixtures("isolated_results")  # conftest: results in the test's folder, yolo11n.yaml


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
    assert first[SUMMARY] == "" and zip_of(first) is None
    assert all(zip_of(out) is None for out in outputs[:-1]), "the ZIP is offered only when it is complete"
    assert running_seen and running_seen[0][0] == 1 and "1 job running" in running_seen[0][1]
    assert RUNNING.snapshot() == [] and "idle" in status_html()

    summary = text(last[SUMMARY])
    # the untrained network finds nobody: a warning, never a plain "Done"
    assert summary.startswith("Warning: No person was detected: check the output before sharing."), summary
    assert "4 images, 0 people masked" in summary and "Done" not in summary
    assert f"{SAMPLE_SIZE[0]}x{SAMPLE_SIZE[1]}" in summary and f"{SAMPLE_FRAMES} frames read" in summary
    assert "done, with a warning" in last[PROGRESS] and value(last[VIDEO]) is None
    zip_path = zip_of(last)
    assert zip_path.is_file() and zip_path.name == "vtest_clip_mosaic.zip"
    assert [zip_path.parent] == folders(isolated_results), "one result folder per job, in RESULTS_ROOT"
    shown_kb = float(re.search(r"\*\*([\d.]+) kB\*\* \(no cap\)", last[SIZE]).group(1))
    assert abs(shown_kb - zip_path.stat().st_size / 1e3) <= 0.05, "the size in the units of the cap"
    assert last[ZIP]["label"] == f"Download {zip_path.name} ({shown_kb:.1f} kB)", "one size, one unit"
    assert f"{shown_kb:.1f} kB" in summary

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
    assert "8 images, 0 people masked" in text(last[SUMMARY]), last[SUMMARY]
    contents = read_zip(zip_of(last))
    assert contents.frame_indices() == list(range(0, SAMPLE_FRAMES, 5))
    assert all(n.endswith(".png") for n in contents.image_names)
    half = (SAMPLE_SIZE[0] // 2, SAMPLE_SIZE[1] // 2)
    assert {image_size(d) for d in contents.images.values()} == {half}
    video = Path(value(last[VIDEO]))
    assert video.parent == zip_of(last).parent and video.suffix == ".mp4"
    with av.open(str(video)) as container:
        frames = [f for f in container.decode(video=0)]
    assert len(frames) == SAMPLE_FRAMES and (frames[0].width, frames[0].height) == half
    assert f"Video: {SAMPLE_FRAMES} frames" in text(last[SUMMARY])
    assert "every one masked" not in text(last[SUMMARY])


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
                       sources.LINK_ONLY),
    "server path as link": (lambda t: dict(video_file=None, drive_link=str(SAMPLE)), sources.LINK_ONLY),
    "interval 2.5": (lambda t: dict(video_file=str(SAMPLE), interval=2.5), "capture interval must be a whole number"),
    "resolution 10 %": (lambda t: dict(video_file=str(SAMPLE), scale_pct=10), "output resolution must be 50-100 %"),
    "mosaic cells 15.5": (lambda t: dict(video_file=str(SAMPLE), mosaic_cells=15.5), "mosaic cells"),
    "text where a number goes": (lambda t: dict(video_file=str(SAMPLE), pad_pct="wide"), "padding"),
    "text size cap": (lambda t: dict(video_file=str(SAMPLE), limit_size=True, max_mb="big"), "number"),
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
    assert 'class="outcome failed"' in summary and text(summary).startswith("Error: "), summary
    assert expected in text(summary), summary
    assert "Traceback" not in summary and "File \"" not in summary
    assert "<img" not in summary, "user text in the message must be HTML-escaped"
    assert all(zip_of(out) is None and value(out[VIDEO]) is None for out in outputs)
    assert 'class="failed"' in outputs[-1][PROGRESS], "a failure is red, not a full blue bar"
    assert outputs[-1][GALLERY] == [] and outputs[-1][SIZE] == "", "the last result's previews are cleared"
    assert folders(isolated_results) == []

    with pytest.raises(gr.Error) as raised:  # the API says the same, as an error
        api_result(**make_kwargs(text_as_mp4))
    assert expected in raised.value.message and "Traceback" not in raised.value.message
    assert folders(isolated_results) == []


@pytest.mark.parametrize("how", ["MOSAIC_MODEL", "MOSAIC_EXTRA_MODELS"])
def test_an_operator_model_that_will_not_load_is_one_public_line(how, monkeypatch, isolated_results):
    """The operator's weights are missing: the caller is told it is the server's model that
    failed and where its operator looks, never the server path or the library's text."""
    missing = "/nonexistent/secret-folder/model.pt"
    monkeypatch.setenv(how, missing)
    choice = "" if how == "MOSAIC_MODEL" else "model.pt"  # callers see only the file name
    outputs = list(handlers.start_job(str(SAMPLE), "", model=choice))
    summary = text(outputs[-1][SUMMARY])
    assert summary.startswith("Error: The detection model could not be loaded"), summary
    assert "MOSAIC_MODEL" in summary and "weights" in summary, "the operator is told where to look"
    assert "/nonexistent" not in summary and "secret-folder" not in summary and "Traceback" not in summary
    assert all(zip_of(out) is None for out in outputs)
    assert folders(isolated_results) == []
    with pytest.raises(gr.Error) as raised:
        api_result(str(SAMPLE), model=choice)
    assert "secret-folder" not in raised.value.message and "could not be loaded" in raised.value.message
    assert folders(isolated_results) == []


@pytest.mark.parametrize("model", ["/etc/passwd", "/nonexistent/model.pt", "../yolo11n.pt", "~/best.pt",
                                   "yolo11n.pt/../../x.pt", "yolo11n.yaml ", "YOLO11N.PT", 7])
def test_a_model_outside_the_allowlist_is_refused_before_anything_is_loaded(model, monkeypatch, isolated_results):
    import pipeline.models

    loads = []
    monkeypatch.setattr(pipeline.models, "load_detector", lambda settings: loads.append(settings))
    if model == "yolo11n.yaml ":  # an allowed name with stray blanks is that name: it loads
        list(handlers.start_job(str(SAMPLE), "", model=model))
        assert loads and loads[0].model == "yolo11n.yaml"
        return
    outputs = list(handlers.start_job(str(SAMPLE), "", model=model))
    summary = text(outputs[-1][SUMMARY])
    assert "model must be one of the offered names" in summary, summary
    assert str(model) not in summary, "the refusal does not repeat the caller's text"
    with pytest.raises(gr.Error, match="offered names"):
        api_result(str(SAMPLE), model=model)
    assert loads == [], "the loader was never called"
    assert folders(isolated_results) == [], "no job started"


def test_the_model_allowlist(monkeypatch):
    from ui import model_choice

    monkeypatch.setenv("MOSAIC_MODEL", "/srv/weights/street.pt")
    monkeypatch.setenv("MOSAIC_EXTRA_MODELS", " yolo11n.yaml, /opt/models/night.pt ,,")
    allowed = model_choice.allowed_models()
    for size in "nsmlx":
        for kind in ("", "-seg", "-pose"):
            assert allowed[f"yolo11{size}{kind}.pt"] == f"yolo11{size}{kind}.pt"
    assert allowed["centerface"] == "centerface"
    assert allowed["street.pt"] == "/srv/weights/street.pt", "the operator's model, by name only"
    assert allowed["street-seg.pt"] == "/srv/weights/street-seg.pt", "the targets' forms of MOSAIC_MODEL"
    assert allowed["night.pt"] == "/opt/models/night.pt" and allowed["yolo11n.yaml"] == "yolo11n.yaml"
    assert not any("/" in name for name in allowed), "no server path is shown to callers"
    choices = model_choice.dropdown_choices()
    assert choices[0] == ("default (street.pt)", "") and all("/" not in label + value for label, value in choices)
    assert model_choice.resolve_model("") == model_choice.resolve_model(None) == "", "the default, left unnamed"
    from pipeline.settings import Settings

    assert Settings(model=model_choice.resolve_model("")).model == "/srv/weights/street.pt"
    assert model_choice.resolve_model("night.pt") == "/opt/models/night.pt"
    with pytest.raises(SettingsError):  # a path, even to an allowed file, is not a name
        model_choice.resolve_model("/opt/models/night.pt")


def test_warm_model_reports_a_missing_model_instead_of_raising(monkeypatch):
    monkeypatch.setenv("MOSAIC_MODEL", "/nonexistent/model.pt")
    from ui import zerogpu  # app.py's start-up warm-up, off ZeroGPU as on it

    error = zerogpu.warm_model()
    assert error is not None and "MOSAIC_MODEL" in error
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11n.yaml")
    assert zerogpu.warm_model() is None


# -- caps ---------------------------------------------------------------------------------
@pytest.mark.parametrize("caps, images, cap_name", [
    (dict(limit_images=True, max_images=2), 2, "image count cap"),
    (dict(limit_size=True, max_mb=0.25), None, "size cap"),
])
def test_a_cap_stops_early_and_says_so(caps, images, cap_name, isolated_results):
    outputs = list(handlers.start_job(str(SAMPLE), "", **caps))
    last = outputs[-1]
    summary = text(last[SUMMARY])
    assert "Stopped early by the " + cap_name + " at frame" in summary, summary
    assert "stopped early by the " + cap_name in last[PROGRESS]
    zip_path = zip_of(last)
    contents = read_zip(zip_path)
    assert 1 <= len(contents.image_names) < SAMPLE_FRAMES // 10
    if images is not None:
        assert len(contents.image_names) == images
    else:
        assert zip_path.stat().st_size <= 0.25e6
        assert "(cap 250.0 kB)" in last[SIZE], last[SIZE]  # the cap is shown, in the same units
    assert "Stopped early by the " + cap_name in api_result(str(SAMPLE), **caps)[1], "the API says so too"


def test_a_size_cap_smaller_than_one_image_says_so_instead_of_an_empty_zip(isolated_results):
    last = list(handlers.start_job(str(SAMPLE), "", limit_size=True, max_mb=0.05))[-1]
    summary = text(last[SUMMARY])
    assert "size cap (50.0 kB) is smaller than one image" in summary, summary
    assert 'class="outcome failed"' in last[SUMMARY] and zip_of(last) is None and last[GALLERY] == []
    assert folders(isolated_results) == [], "the empty ZIP is not kept either"
    with pytest.raises(gr.Error, match="smaller than one image"):
        api_result(str(SAMPLE), limit_size=True, max_mb=0.05)
    assert folders(isolated_results) == []


@pytest.mark.parametrize("caps", [dict(limit_size=False, max_mb=0, limit_images=False, max_images=1),
                                  dict(limit_size=False, max_mb=-5, limit_images=False, max_images=-5),
                                  dict(limit_size=False, max_mb=None, limit_images=False, max_images="x")])
def test_unticked_caps_are_ignored_whatever_their_number(caps, isolated_results):
    last = list(handlers.start_job(str(SAMPLE), "", **caps))[-1]
    assert "4 images" in text(last[SUMMARY]) and "Stopped early" not in text(last[SUMMARY]), last[SUMMARY]


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
    assert handlers.stop_job(request("tab-A")) == handlers.STOPPED_MESSAGE
    assert len(folders(isolated_results)) == 1, "only the other job's folder is left"
    stopped.join(15)
    assert not stopped.is_alive(), "the stopped job did not end"
    other.join(60)
    assert not other.is_alive()

    assert stopped_out[-1][SUMMARY] == handlers.STOPPED_MESSAGE, stopped_out[-1][SUMMARY]
    assert stopped_out[-1][GALLERY] == [] and stopped_out[-1][SIZE] == "", "what is gone is cleared"
    assert all(zip_of(out) is None for out in stopped_out)
    finished = other_out[-1]
    assert f"{SAMPLE_FRAMES // 2} images" in text(finished[SUMMARY]), finished[SUMMARY]
    assert read_zip(zip_of(finished)).frame_indices() == list(range(0, SAMPLE_FRAMES, 2))
    assert folders(isolated_results) == [zip_of(finished).parent], "the stopped job's folder is removed"
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
    monkeypatch.setattr(sources, "RESULT_TTL_S", 60)
    old = isolated_results / "job-old"
    old.mkdir(parents=True)
    (old / "x_mosaic.zip").write_bytes(b"old")
    past = time.time() - 120
    import os
    os.utime(old, (past, past))

    path, summary = api_result(str(SAMPLE))
    path = Path(path)
    assert summary.startswith("Warning: No person was detected"), summary
    assert path.is_file() and path.parent.parent == isolated_results
    contents = read_zip(path)
    assert contents.frame_indices() == [0, 10, 20, 30]
    assert {image_size(d) for d in contents.images.values()} == {SAMPLE_SIZE}
    assert not old.exists(), "starting a job sweeps results older than RESULT_TTL_S"
    assert RUNNING.snapshot() == []


# -- small pieces -------------------------------------------------------------------------
def test_sweep_old_results_removes_only_expired_folders(isolated_results, monkeypatch):
    import os

    sources.sweep_old_results()  # no results folder yet: nothing to do, no error
    monkeypatch.setattr(sources, "RESULT_TTL_S", 100)
    now = time.time()
    ages = {"job-expired": 101, "job-fresh": 99, "job-new": 0}
    for name, age in ages.items():
        (isolated_results / name).mkdir(parents=True)
        (isolated_results / name / "a.zip").write_bytes(b"x")
        os.utime(isolated_results / name, (now - age, now - age))
    sources.sweep_old_results(now=now)
    assert [p.name for p in folders(isolated_results)] == ["job-fresh", "job-new"]
    sources.sweep_old_results(now=now + 200)
    assert folders(isolated_results) == []


def test_settings_from_inputs_maps_the_page_values():
    defaults = Settings()
    settings = inputs.settings_from_inputs(5.0, 60.0, False, 0, False, 0, "png", 80.0, "blur", 20.0, 5, 0.3, "")
    assert (settings.interval, settings.scale_pct, settings.jpeg_quality, settings.mosaic_cells) == (5, 60, 80, 20)
    assert all(isinstance(v, int) for v in (settings.interval, settings.scale_pct, settings.jpeg_quality))
    assert settings.max_mb is None and settings.max_images is None, "unticked caps are no caps"
    assert (settings.image_format, settings.style, settings.pad_pct, settings.conf) == ("png", "blur", 5.0, 0.3)
    assert settings.model == "yolo11n.yaml", "an empty model box means $MOSAIC_MODEL"
    assert settings.hold_s == defaults.hold_s

    capped = inputs.settings_from_inputs(10, 100, True, 12.5, True, 7.0, "jpg", 90, "mosaic", 15, 10, 0.2,
                                           "  yolo11s.pt ", 1.5)
    assert (capped.max_mb, capped.max_bytes, capped.max_images) == (12.5, 12_500_000, 7)
    assert capped.model == "yolo11s.pt" and capped.hold_s == 1.5
    as_text = inputs.settings_from_inputs("5", "60", False, "", False, "", "png", "80", "blur", "20", "5", "0.3", "")
    assert (as_text.interval, as_text.scale_pct, as_text.mosaic_cells, as_text.conf) == (5, 60, 20, 0.3)

    for bad in (dict(interval=2.5), dict(interval=0), dict(interval=None), dict(scale_pct=10), dict(mosaic_cells=15.5),
                dict(limit_size=True, max_mb=0), dict(limit_size=True, max_mb=""), dict(limit_size=True, max_mb=-5),
                dict(limit_images=True, max_images=0), dict(limit_images=True, max_images=None),
                dict(limit_images=True, max_images=2.5), dict(model="/etc/passwd"), dict(image_format="bmp")):
        values = dict(interval=10, scale_pct=100, limit_size=False, max_mb=500, limit_images=False, max_images=1000,
                      image_format="jpg", jpeg_quality=90, style="mosaic", mosaic_cells=15, pad_pct=10, conf=0.2,
                      model="")
        values.update(bad)
        with pytest.raises(SettingsError):
            inputs.settings_from_inputs(**values)


def test_cpu_precision_from_the_page_and_the_api_reaches_the_job(monkeypatch):
    """The Advanced settings' "CPU precision": FP32 unless INT8 is picked, and what is picked
    is what the job's Settings carry, from Start, Detect only and /process alike; a value
    that is neither is Settings' own one-line error, and no job starts."""
    page = (10, 100, False, 500, False, 1000, "jpg", 90, "mosaic", 15, 10, 0.2, "")
    assert inputs.settings_from_inputs(*page).precision == "fp32"
    assert inputs.settings_from_inputs(*page, precision="int8").precision == "int8"
    for bad in ("int4", "INT8", "", None):
        with pytest.raises(SettingsError, match="precision must be one of fp32, int8"):
            inputs.settings_from_inputs(*page, precision=bad)

    seen = []

    def job_events(source, settings, *args, **kwargs):  # where the pipeline would run
        seen.append(settings.precision)
        raise InputError("stopped before the model: the settings were seen")
        yield

    monkeypatch.setattr(handlers, "_job_events", job_events)
    monkeypatch.setattr(api, "_job_events", job_events)
    for run in (lambda **p: list(handlers.start_job(str(SAMPLE), "", **p)),
                lambda **p: list(handlers.start_job(str(SAMPLE), "", detect_only=True, **p))):
        run()
        run(precision="int8")
        refused = text(run(precision="int4")[-1][SUMMARY])
        assert refused.startswith("Error: Invalid settings: precision must be one of fp32, int8 (got 'int4')")
    for args in ({}, {"precision": "int8"}):
        with pytest.raises(gr.Error, match="the settings were seen"):
            api_result(str(SAMPLE), **args)
    with pytest.raises(gr.Error, match="precision must be one of fp32, int8"):
        api_result(str(SAMPLE), precision="fp16")
    assert seen == ["fp32", "int8", "fp32", "int8", "fp32", "int8"]


def test_the_page_sends_its_cpu_precision_control_to_start_and_detect():
    """The control is in Advanced, FP32 by default, and wired into the precision argument of
    every model run (Start, Detect only, the sample); Render replays boxes and takes none."""
    import inspect

    from ui import build_demo

    demo = build_demo()
    (control,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "precision"]
    assert isinstance(control, gr.Radio) and control.value == "fp32"
    assert [v for _, v in control.choices] == ["fp32", "int8"]
    parent = control.parent
    while parent is not None and not isinstance(parent, gr.Accordion):
        parent = parent.parent
    assert parent is not None and "page.advanced" in str(parent.label), "the control is in Advanced"
    at = list(inspect.signature(handlers.start_job).parameters).index("precision")
    runs = [f for f in demo.fns.values() if f.fn is handlers.start_job]
    assert len(runs) == 3, "Start, Detect only, Try the sample"
    assert all(f.inputs[at] is control for f in runs)
    renders = [f for f in demo.fns.values() if f.fn is handlers.render_job]
    assert renders and all(control not in f.inputs for f in renders)


def test_pick_source_takes_exactly_one_of_file_and_link(tmp_path):
    assert sources.pick_source(str(SAMPLE), "") == str(SAMPLE)
    assert sources.pick_source(SAMPLE, None) == str(SAMPLE)
    assert sources.pick_source(SimpleNamespace(name=str(SAMPLE)), "  ") == str(SAMPLE)  # a tempfile wrapper
    link = "https://drive.google.com/file/d/abc/view"
    assert sources.pick_source(None, f"  {link}\n") == link
    with pytest.raises(InputError, match="not both"):
        sources.pick_source(str(SAMPLE), link)
    for nothing in ((None, ""), (None, None), ("", "   ")):
        with pytest.raises(InputError, match="Upload a video"):
            sources.pick_source(*nothing)


REFUSED_LINKS = [
    str(SAMPLE),  # a server path that exists
    "/etc/passwd", "/nonexistent/clip.mp4", "file:///etc/passwd", f"file://{SAMPLE}", "FILE:///etc/hosts",
    "ui/assets/vtest_clip.mp4", "./ui/assets/vtest_clip.mp4", "../x.mp4", "~/x", "~root/.bashrc", "hello",
    "C:\\Windows\\win.ini", "\\\\server\\share\\x.mp4",
    "ftp://drive.google.com/file/d/abc/view", "javascript:alert(1)", "data:video/mp4;base64,AAAA",
    "https://example.com/v.mp4", "https://drive.google.com.evil.example/file/d/abc/view",
    "https://user:pw@drive.google.com/file/d/abc/view", "https://drive.google.com:8443/file/d/abc/view",
    "https://drive.google.com/file/d/abc/view\n/etc/passwd", "http://127.0.0.1/x", "drive.google.com.evil/x",
]


@pytest.mark.parametrize("link", REFUSED_LINKS)
def test_the_link_box_takes_only_google_drive_links(link):
    with pytest.raises(InputError) as raised:
        sources.pick_source(None, link)
    assert str(raised.value) == sources.LINK_ONLY, "one line, the same whatever exists on the server"


@pytest.mark.parametrize("link, passed_on", [
    ("https://drive.google.com/file/d/abc/view", "https://drive.google.com/file/d/abc/view"),
    ("HTTPS://drive.google.com/open?id=abc", "HTTPS://drive.google.com/open?id=abc"),
    ("http://docs.google.com/uc?id=abc", "http://docs.google.com/uc?id=abc"),
    ("drive.google.com/file/d/abc/view", "https://drive.google.com/file/d/abc/view"),
])
def test_drive_links_are_passed_on_as_links(link, passed_on):
    from pipeline.io.source import looks_like_link

    assert sources.pick_source(None, link) == passed_on
    assert looks_like_link(passed_on), "the pipeline never reads it as a path"


def test_a_refused_link_starts_nothing_and_the_page_says_it_once(isolated_results):
    out = list(handlers.start_job(None, "https://example.com/v.mp4?a=1&b='2'"))[-1]
    assert text(out[SUMMARY]) == "Error: " + sources.LINK_ONLY
    assert "&amp;#" not in out[SUMMARY] and "example.com" not in out[SUMMARY], "escaped once, not repeated"
    assert folders(isolated_results) == []


# -- errors shown to callers --------------------------------------------------------------
def test_public_messages_name_no_server_path_and_quote_no_library():
    from pipeline.errors import Cancelled, DownloadError, ModelError, MosaicError, OutputError
    from ui import messages

    cases = {
        InputError("Input file not found: /tmp/gradio/ab12/clip.mp4"): messages.UPLOAD_GONE,
        InputError("Not a readable video: notes.mp4 (Invalid data found when processing input)"):
            "Not a readable video: notes.mp4 (Invalid data found when processing input)",
        InputError("Cannot read /srv/app/x/secret.csv: bad"): "Cannot read secret.csv: bad",
        ModelError("Could not load model '/srv/w/best.pt': _pickle.UnpicklingError: invalid load key"):
            messages.MODEL_FAILED,
        OutputError("Not enough disk space in /tmp/mosaic-results/job-x1: this job may need about 900 MB"):
            messages.NO_DISK_SPACE,
        OutputError("Cannot write /tmp/mosaic-results/job-x1/a.zip: Permission denied"): messages.WRITE_FAILED,
        DownloadError("Download from Google Drive failed (ConnectionError: HTTPSConnectionPool(host='drive"
                      ".google.com', port=443): Max retries exceeded with url: /uc?id=x (Caused by NameResolu"):
            messages.DRIVE_UNREACHABLE,
        DownloadError("Download from Google Drive failed (KeyError: 'content-disposition')"): messages.DRIVE_FAILED,
        DownloadError("The Drive file is larger than the 2000 MB download limit"):
            "The Drive file is larger than the 2000 MB download limit",
        MosaicError("The renderer stage failed: ValueError: operands could not be broadcast"):
            messages.PROCESSING_FAILED,
        Cancelled("Cancelled; partial output removed"): messages.STOPPED,
        SettingsError("Invalid settings: capture interval must be a whole number >= 1 (got 0)."):
            "Invalid settings: capture interval must be a whole number >= 1 (got 0).",
    }
    for err, expected in cases.items():
        shown = messages.public_message(err)
        assert shown == expected, (err, shown)
        assert "/tmp" not in shown and "/srv" not in shown and "job-x1" not in shown and "Traceback" not in shown
    assert messages.without_paths("see https://drive.google.com/file/d/x/view and /a/b/c.txt") == \
        "see https://drive.google.com/file/d/x/view and c.txt"


def test_a_drive_download_without_network_says_what_to_do(tmp_path):
    """What the download library raises offline, through the pipeline's own wrapping."""
    import requests

    from pipeline.io import source
    from ui import messages

    def offline(file_id, dest_dir, progress, cancel):
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='drive.google.com', port=443): Max retries exceeded with url: "
            f"/uc?id={file_id} (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at "
            "0x7f>: Failed to resolve 'drive.google.com'\"))")

    state = source.DownloadState()
    source.download_drive_video("https://drive.google.com/file/d/abc/view", tmp_path, state, threading.Event(),
                                fetch=offline)
    assert messages.public_message(state.error) == "Cannot reach Google Drive: check the connection or upload the file."


# -- uploaded originals -------------------------------------------------------------------
@pytest.fixture
def upload_cache(tmp_path, monkeypatch) -> Path:
    """Gradio's upload cache for this test (GRADIO_TEMP_DIR); uploads go in <cache>/<hash>/<name>."""
    cache = tmp_path / "gradio-cache"
    cache.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    return cache


def uploaded(cache: Path, source: Path, name: str | None = None) -> Path:
    folder = cache / uuid.uuid4().hex
    folder.mkdir()
    dest = folder / (name or source.name)
    shutil.copyfile(source, dest)
    return dest


@pytest.mark.parametrize("how", ["done", "failed", "stopped", "tab closed", "kept"])
def test_an_uploaded_original_is_deleted_when_its_job_ends(how, upload_cache, long_video, excerpt, text_as_mp4,
                                                          isolated_results, no_stray_threads):
    if how == "failed":
        upload = uploaded(upload_cache, text_as_mp4, "notes.mp4")
    else:
        upload = uploaded(upload_cache, long_video if how in ("stopped", "tab closed", "kept") else excerpt)
    session = request(f"tab-{how}")
    if how in ("done", "failed"):
        outputs = list(handlers.start_job(str(upload), "", request=session))
    else:
        outputs = []
        events = handlers.start_job(str(upload), "", interval=1, request=session)
        for out in events:
            outputs.append(out)
            if "processing" in str(out[PROGRESS]):
                break
        assert upload.is_file(), "the original stays while its job runs"
        if how == "tab closed":  # what Gradio does when the tab goes away
            events.close()
        elif how == "kept":
            handlers.keep_button(session)
            outputs.extend(events)
        else:  # Stop waits for the job to end, so it runs beside the job's own loop
            stopper = threading.Thread(target=handlers.stop_job, args=(session,), daemon=True)
            stopper.start()
            outputs.extend(events)
            stopper.join(15)
    assert not upload.exists() and not upload.parent.exists(), f"{how}: the upload is still on disk"
    if outputs and how != "tab closed":
        assert value(outputs[-1][VIDEO_INPUT]) is None, "the page's video box is cleared: the file is gone"
    if how == "kept":
        assert zip_of(outputs[-1]).name.endswith("_partial.zip")


def test_uploads_that_are_not_deleted(upload_cache, excerpt, isolated_results):
    # refused before any job starts (a settings typo): kept, so the user can fix it and press Start again
    upload = uploaded(upload_cache, excerpt)
    list(handlers.start_job(str(upload), "", interval=0))
    assert upload.is_file()
    # the sample's cached copy: public footage every tab shares
    sample_copy = uploaded(upload_cache, SAMPLE)
    list(handlers.start_job(str(sample_copy), "", interval=20))
    assert sample_copy.is_file() and SAMPLE.is_file()
    # anything outside the cache's <hash>/<name> layout
    outside = Path(shutil.copyfile(excerpt, upload_cache.parent / "outside.mp4"))
    list(handlers.start_job(str(outside), "", interval=20))
    assert outside.is_file()


def test_an_upload_shared_by_two_jobs_goes_when_the_last_one_ends(upload_cache, excerpt):
    upload = uploaded(upload_cache, excerpt)
    with sources._using_upload(str(upload)):
        with sources._using_upload(str(upload)):
            pass
        assert upload.is_file(), "identical uploads share one file: the other job still reads it"
    assert not upload.exists()


# -- the buttons --------------------------------------------------------------------------
def interactive(update) -> bool | None:
    return update.get("interactive") if isinstance(update, dict) else None


def test_stop_and_keep_gives_a_valid_partial_zip(long_video, isolated_results, no_stray_threads):
    outputs: list = []
    thread = _run_in_thread(outputs, video_file=str(long_video), interval=1, request=request("tab-keep"))
    wait_for(lambda: any(interactive(o[KEEP]) for o in outputs), 60, "Stop and keep to be offered")
    assert interactive(outputs[0][START]) is False and interactive(outputs[0][STOP]) is True
    progress, keep = handlers.keep_button(request("tab-keep"))
    assert interactive(keep) is False and "writing what is done" in progress
    thread.join(60)
    last = outputs[-1]
    summary = text(last[SUMMARY])
    assert "Stopped by you at frame" in summary and "marked partial" in summary, summary
    assert "stopped, what was done is kept" in last[PROGRESS]
    zip_path = zip_of(last)
    assert zip_path.name == "long_clip_mosaic_partial.zip"
    contents = read_zip(zip_path)
    assert 1 <= len(contents.image_names) < 160
    for name in contents.image_names:
        assert contents.decoded(name).shape[:2] == (SAMPLE_SIZE[1], SAMPLE_SIZE[0])
    assert f"{len(contents.image_names)} images" in summary, "the summary counts what the ZIP holds"
    stopped_at = re.search(r"Stopped by you at frame (\d+)", summary).group(1)
    assert f"{stopped_at} frames read" in summary, "the stop frame and the frame count agree"
    assert (interactive(last[START]), interactive(last[STOP]), interactive(last[KEEP])) == (True, False, False)


def test_stop_with_nothing_running_leaves_the_finished_summary(isolated_results):
    out = handlers.stop_button(request("tab-idle"))
    changed = [i for i in (PROGRESS, SIZE, GALLERY, ZIP, SUMMARY, VIDEO, VIDEO_INPUT)
               if not (isinstance(out[i], dict) and out[i].get("__type__") == "update" and len(out[i]) == 1)]
    assert changed == [], "only the buttons change"
    assert (interactive(out[START]), interactive(out[STOP]), interactive(out[KEEP])) == (True, False, False)


def test_start_says_when_the_job_must_wait_for_another():
    assert "starting" in handlers.begin(request("tab-first"))[PROGRESS]
    handlers._waiting.discard("tab-first")
    RUNNING.update("someone-else", 5.0, 10, 100)
    try:
        waiting = handlers.begin(request("tab-second"))
    finally:
        RUNNING.finish("someone-else")
    assert "Waiting: another job is running on this server" in waiting[PROGRESS]
    assert "queue" not in waiting[PROGRESS]
    # Stop while waiting: it says so, and the buttons come back
    stopped = handlers.stop_button(request("tab-second"))
    assert handlers.STOPPED_WAITING in stopped[PROGRESS] and interactive(stopped[START]) is True


# -- the status panel ---------------------------------------------------------------------
def _status(**changes) -> DeviceStatus:
    values = dict(gpu_name=None, gpu_mem_used_gb=0.0, gpu_mem_total_gb=0.0, gpu_util_pct=None, cpu_cores=2,
                  cpu_pct=37.4, ram_used_gb=3.31, ram_total_gb=15.5, app_cpu_pct=4.2, app_ram_gb=0.61)
    values.update(changes)
    return DeviceStatus(**values)


def test_status_panel_cpu_only_is_red_with_core_count_cpu_and_ram():
    text = status_html(_status(cpu_cores=6), jobs=[])
    assert '<span class="dev-cpu">CPU only (6 cores), no GPU</span>' in text
    assert "whole machine: CPU 37 %, RAM 3.3/15.5 GB" in text and "idle" in text
    assert "this app: CPU 4 %, RAM 0.6 GB" in text, "the app's own load, labelled apart from the machine's"
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
    assert "2 jobs running: 25 frames/s (120/400), 8 frames/s (5/?)" in text
    no_util = status_html(_status(gpu_name="NVIDIA T4", gpu_util_pct=None), jobs=[])
    assert "busy" not in no_util


def test_status_panel_reads_this_machine():
    import os

    status = read_status()
    assert status.cpu_cores == os.cpu_count()
    assert 0 < status.ram_used_gb < status.ram_total_gb
    assert 0 <= status.cpu_pct <= 100
    assert 0 < status.app_ram_gb < status.ram_total_gb and 0 <= status.app_cpu_pct <= 100
    text = status_html()
    if status.gpu_name is None:
        assert f"CPU only ({os.cpu_count()} cores)" in text


def test_the_page_refreshes_the_status_panel_with_a_timer():
    from ui import build_demo

    demo = build_demo()
    timers = [b for b in demo.blocks.values() if isinstance(b, gr.Timer)]
    assert len(timers) == 1 and 0 < timers[0].value <= 5
    ticks = [f for f in demo.fns.values() if (timers[0]._id, "tick") in f.targets]
    assert len(ticks) == 1 and ticks[0].fn is status_panel
    assert [o.elem_id for o in ticks[0].outputs] == ["status"]
