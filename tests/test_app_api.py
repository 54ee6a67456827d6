"""The app started for real (`python app.py`) and called through gradio_client on /process,
the way an API user would: only the video is required, the ZIP comes back with the frames
the settings ask for plus a summary that says when a cap cut the run short, concurrent calls
each get their own result, and bad input or a model off the allowlist comes back as an error
whose message is the clear one (no stack trace). The parameters are documented with their
real meaning and type. (Security cases: test_app_security.py.)

The server runs with MOSAIC_CONCURRENCY=2 so the two concurrent calls really overlap. One
test serves the app in this process instead, to see the Settings a job receives (the CPU
precision) without running an INT8 model."""
from __future__ import annotations

import json
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import SAMPLE, SAMPLE_FRAMES, SAMPLE_SIZE, free_port, running_app  # noqa: E402
from mediakit import CSV_COLUMNS, decode_frames, image_size, read_zip  # noqa: E402
from pipeline import Settings  # noqa: E402
from ui.layout import CELLS_RANGE  # noqa: E402
from ui.sources import LINK_ONLY  # noqa: E402

from gradio_client import Client, handle_file  # noqa: E402


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("api-app"), MOSAIC_CONCURRENCY="2") as server:
        yield server


@pytest.fixture(scope="module")
def sample_frames():
    return decode_frames(SAMPLE)


def check_zip(path, interval: int, size: tuple[int, int], sources=None):
    """The result ZIP: every interval-th frame, decodable, of this size, plus detections.csv."""
    contents = read_zip(Path(path))
    assert contents.frame_indices() == list(range(0, SAMPLE_FRAMES, interval))
    assert {image_size(data) for data in contents.images.values()} == {size}
    assert contents.csv_header()[:len(CSV_COLUMNS)] == CSV_COLUMNS
    if sources is not None:  # the images are those source frames (nobody is found by the untrained net)
        for index in contents.frame_indices():
            image = contents.image_for_frame(index).astype(int)
            diffs = {i: abs(image - s.astype(int)).mean() for i, s in sources.items()}
            assert min(diffs, key=diffs.get) == index
    return contents


def test_process_is_the_only_endpoint_and_only_the_video_is_required(app, client):
    with urllib.request.urlopen(app.url + "gradio_api/info", timeout=10) as response:
        info = json.load(response)
    assert set(info["named_endpoints"]) == {"/process", "/render"}, "Start/Stop/timer handlers must stay private"
    assert not info.get("unnamed_endpoints")
    params = info["named_endpoints"]["/process"]["parameters"]
    assert [p["parameter_name"] for p in params if not p["parameter_has_default"]] == ["video_file"]
    defaults = {p["parameter_name"]: p["parameter_default"] for p in params}
    d = Settings()
    assert defaults["drive_link"] == "" and defaults["model"] == ""
    assert (defaults["interval"], defaults["scale_pct"], defaults["image_format"], defaults["conf"]) == \
        (d.interval, d.scale_pct, d.image_format, d.conf), "the API defaults are the pipeline's"
    assert defaults["limit_size"] is False and defaults["limit_images"] is False
    assert defaults["precision"] == d.precision == "fp32", "INT8 only when asked for"

    types = {p["parameter_name"]: p["type"] for p in params}
    assert types["mosaic_cells"]["type"] == "integer", "15.5 is not a cell count"
    assert (types["mosaic_cells"]["minimum"], types["mosaic_cells"]["maximum"]) == CELLS_RANGE, "the page's range"
    assert types["interval"]["type"] == "integer" and types["max_images"]["type"] == "integer"
    assert types["image_format"]["enum"] == ["jpg", "png"] and "" in types["model"]["enum"]
    assert types["precision"]["enum"] == ["fp32", "int8"]
    assert not any("/" in name for name in types["model"]["enum"]), "no server path in the model list"
    for p in params:  # a real description for every parameter, not Gradio's boilerplate
        description = p["python_type"]["description"]
        assert len(description) > 15 and "numeric value between" not in description, (p["parameter_name"], description)
    returns = info["named_endpoints"]["/process"]["returns"]
    assert [r["component"] for r in returns] == ["File", "Textbox"], "the ZIP first, then the summary"

    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/process", "/render"}


def test_render_honours_an_edited_csv_without_the_model(app, client, tmp_path, sample_frames):
    """/render: the video and an edited detections.csv in, the ZIP out: a drawn (manual)
    track covered on every frame between its two boxes, a detected track left uncovered by
    unmask_tracks, and the rest of every frame untouched."""
    edited = tmp_path / "detections.csv"
    rows = ["frame,x1,y1,x2,y2,track_id,kind"]
    rows += [f"{f},100,100,200,300,1,detected" for f in range(0, SAMPLE_FRAMES, 5)]  # left visible
    rows += ["10,400,200,480,360,2,manual", "30,480,200,560,360,2,manual"]  # drawn on frames 10 and 30
    edited.write_text("\n".join(rows) + "\n")
    result, summary = client.predict(handle_file(str(SAMPLE)), handle_file(str(edited)), unmask_tracks="1",
                                     interval=5, image_format="png", style="fill", audit="off", api_name="/render")
    assert summary.startswith("Done"), summary  # (the audit would rightly flag the people this CSV leaves)
    contents = read_zip(Path(result))
    assert contents.frame_indices() == list(range(0, SAMPLE_FRAMES, 5))
    for index in (10, 20, 30):
        image, source = contents.image_for_frame(index), sample_frames[index]
        x = 400 + (index - 10) * 4  # the manual track moves 80 px over 20 frames
        assert (image[210:350, x + 10:x + 70] == 0).all(), f"the drawn person is not covered on frame {index}"
        assert np.array_equal(image[100:300, 100:200], source[100:300, 100:200]), "track 1 must stay visible"
        assert np.array_equal(image[:, :90], source[:, :90]), "nothing else changes"
    assert not any(r["track_id"] == "1" for r in contents.csv_rows())

    bad = tmp_path / "bad.csv"
    bad.write_text("frame,x1,y1\n0,1,2\n")
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(SAMPLE)), handle_file(str(bad)), api_name="/render")
    assert "missing the column" in str(caught.value) and "x2" in str(caught.value)


def test_process_with_only_a_video_returns_a_zip_of_the_frames(app, client, sample_frames):
    before = app.job_dirs()
    result, summary = client.predict(handle_file(str(SAMPLE)), api_name="/process")
    assert Path(result).name == "vtest_clip_mosaic.zip"
    assert summary.startswith("Warning: No person was detected"), "the untrained network finds nobody: say so"
    check_zip(result, Settings().interval, SAMPLE_SIZE, sample_frames)
    new = app.job_dirs() - before
    assert len(new) == 1, "each job has its own result folder under MOSAIC_RESULTS_DIR"
    kept = app.results_dir / new.pop() / "vtest_clip_mosaic.zip"
    assert kept.read_bytes() == Path(result).read_bytes()


def test_process_hands_over_its_report_inside_the_zip(app, client):
    """audit=all over the API: the summary says what was checked; the ZIP holds the report,
    whose input hash is the uploaded file's and which names no server folder."""
    import hashlib
    import zipfile

    result, summary = client.predict(handle_file(str(SAMPLE)), interval=20, audit="all", api_name="/process")
    with zipfile.ZipFile(result) as archive:
        text = archive.read("report.json").decode("utf-8")
        assert "report.html" in archive.namelist()
    report = json.loads(text)
    assert report["input"]["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert report["audit"]["mode"] == "all" and report["audit"]["checked"] == [0, 20]
    assert report["settings"]["interval"] == 20 and report["outputs"][0]["sha256"] is None
    assert str(app.results_dir) not in text and "/tmp/" not in text
    assert "Audit: 2 frames checked" in summary


def test_process_applies_interval_and_scale(client):
    result, _ = client.predict(handle_file(str(SAMPLE)), interval=5, scale_pct=50, api_name="/process")
    check_zip(result, 5, (SAMPLE_SIZE[0] // 2, SAMPLE_SIZE[1] // 2))


def test_a_capped_run_says_so_in_the_summary(client):
    result, summary = client.predict(handle_file(str(SAMPLE)), limit_images=True, max_images=2, api_name="/process")
    assert len(read_zip(Path(result)).image_names) == 2
    assert "Stopped early by the image count cap at frame 20" in summary, summary
    assert "2 of 4 planned images were not written" in summary


def test_unticked_caps_are_ignored_whatever_their_number(client):
    result, summary = client.predict(handle_file(str(SAMPLE)), limit_size=False, max_mb=-5, limit_images=False,
                                     max_images=-5, api_name="/process")
    check_zip(result, Settings().interval, SAMPLE_SIZE)
    assert "Stopped early" not in summary


def test_concurrent_calls_get_their_own_results(app, tmp_path):
    calls = {"every 4th": dict(interval=4, scale_pct=100), "every 8th at half size": dict(interval=8, scale_pct=50)}
    results: dict[str, object] = {}

    def call(name, settings):
        own = Client(app.url, verbose=False, download_files=str(tmp_path / name.replace(" ", "_")),
                     analytics_enabled=False)
        try:
            results[name] = own.predict(handle_file(str(SAMPLE)), api_name="/process", **settings)[0]
        except Exception as err:  # reported below, in the test's thread
            results[name] = err

    before = app.job_dirs()
    threads = [threading.Thread(target=call, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a call did not return"
    for name, value in results.items():
        assert isinstance(value, str), f"{name}: {value!r}"
    assert results["every 4th"] != results["every 8th at half size"]
    check_zip(results["every 4th"], 4, SAMPLE_SIZE)
    check_zip(results["every 8th at half size"], 8, (SAMPLE_SIZE[0] // 2, SAMPLE_SIZE[1] // 2))
    assert len(app.job_dirs() - before) == 2


@pytest.fixture
def text_as_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("just some notes, not a video\n")
    return path


@pytest.mark.parametrize("case, expected", [
    ("text file named .mp4", "Not a readable video: notes.mp4"),
    ("non-Drive link", LINK_ONLY),
    ("model off the allowlist", "model must be one of the offered names"),
    ("size cap of 0", "size cap must be more than 0 MB"),
    ("interval 2.5", "capture interval must be a whole number >= 1 (got 2.5)"),
    ("mosaic cells 15.5", "mosaic cells must be 2-200 (got 15.5)"),
    ("format bmp", "format must be one of jpg, png (got 'bmp')"),
    ("precision int4", "precision must be one of fp32, int8 (got 'int4')"),
])
def test_bad_input_raises_the_clear_message(case, expected, app, client, text_as_mp4):
    args = {
        "text file named .mp4": dict(video_file=handle_file(str(text_as_mp4))),
        "non-Drive link": dict(video_file=None, drive_link="https://example.com/clip.mp4"),
        "model off the allowlist": dict(video_file=handle_file(str(SAMPLE)), model="/nonexistent/model.pt"),
        "size cap of 0": dict(video_file=handle_file(str(SAMPLE)), limit_size=True, max_mb=0),
        "interval 2.5": dict(video_file=handle_file(str(SAMPLE)), interval=2.5),
        "mosaic cells 15.5": dict(video_file=handle_file(str(SAMPLE)), mosaic_cells=15.5),
        "format bmp": dict(video_file=handle_file(str(SAMPLE)), image_format="bmp"),
        "precision int4": dict(video_file=handle_file(str(SAMPLE)), precision="int4"),
    }[case]
    before = app.job_dirs()
    log_before = len(app.log_tail(10**9))
    with pytest.raises(Exception) as raised:
        client.predict(api_name="/process", **args)
    message = str(raised.value)
    assert expected in message, message
    assert "Traceback" not in message
    assert app.job_dirs() == before, "a failed job leaves no result folder"
    assert "Traceback" not in app.log_tail(10**9)[log_before:], "our errors are handled, not crashes"
    assert app.process.poll() is None


@pytest.fixture
def settings_seen(monkeypatch, tmp_path):
    """The app built and served in this process, the pipeline's run replaced by one that
    records the Settings each job hands it and stops there (an INT8 run would quantize the
    model first: ~35 s of CPU). Yields (a client, the Settings seen)."""
    from pipeline.errors import InputError
    from ui import build_demo, jobs, sources

    seen = []

    def run(source, settings, **kwargs):
        seen.append(settings)
        raise InputError("stopped before the model: the settings were seen")
        yield

    monkeypatch.setattr(jobs, "run", run)
    monkeypatch.setattr(sources, "RESULTS_ROOT", tmp_path / "results")
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11n.yaml")
    demo = build_demo()
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            ssr_mode=False)
    try:
        yield Client(url, verbose=False, download_files=str(tmp_path / "downloads"), analytics_enabled=False), seen
    finally:
        demo.close()


def test_process_passes_the_cpu_precision_to_the_job(settings_seen):
    """`precision` over HTTP reaches the pipeline's Settings: int8 when asked for, by name or
    as the last positional input; fp32 when left out (callers from before it existed)."""
    client, seen = settings_seen
    video = handle_file(str(SAMPLE))
    calls = [dict(precision="int8"), {}, dict(precision="fp32")]
    for kwargs in calls:
        with pytest.raises(Exception, match="the settings were seen"):
            client.predict(video, api_name="/process", **kwargs)
    d = Settings()
    positional = ["", d.interval, d.scale_pct, False, 500, False, 1000, d.image_format, d.jpeg_quality, d.style,
                  d.mosaic_cells, d.pad_pct, d.conf, "", d.hold_s, d.target, d.face_shape, "int8"]
    with pytest.raises(Exception, match="the settings were seen"):
        client.predict(video, *positional, api_name="/process")
    assert [s.precision for s in seen] == ["int8", "fp32", "fp32", "int8"]
    assert all(s.device == "auto" and s.model == "yolo11n.yaml" for s in seen)


def test_process_passes_the_follow_cam_to_the_job(settings_seen):
    """`follow` over HTTP reaches Settings: an aspect when asked for, off ("" or left out)."""
    client, seen = settings_seen
    seen.clear()
    for kwargs in (dict(follow="9:16"), {}, dict(follow="")):
        with pytest.raises(Exception, match="the settings were seen"):
            client.predict(handle_file(str(SAMPLE)), api_name="/process", **kwargs)
    assert [s.follow for s in seen] == ["9:16", None, None]


def test_process_writes_the_video_as_encode_asks(client, tmp_path):
    """encode over the API reaches x264 (its preset's subme in the stream's SEI); a value
    outside the choice is one clear error."""
    import zipfile

    from pipeline.settings import ENCODES
    from test_video_output import X264_SUBME, _x264_options

    result, summary = client.predict(handle_file(str(SAMPLE)), interval=20, make_video=True, encode="small",
                                     audit="off", api_name="/process")
    with zipfile.ZipFile(result) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".mp4"))
        video = tmp_path / "v.mp4"
        video.write_bytes(archive.read(name))
    assert _x264_options(video)["subme"] == str(X264_SUBME[ENCODES["small"]])
    assert len(decode_frames(video)) == SAMPLE_FRAMES
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(SAMPLE)), make_video=True, encode="huge", api_name="/process")
    assert "video encoding must be one of" in str(caught.value)
