"""Issue 17, tried as an outside caller would: the real app (`python app.py`) called through
gradio_client and raw HTTP on /process. The public API must never reach the server's own
files: a server path, file://, a relative path or ~ in the link input is refused with one
line that is the same whether the file exists or not; an upload path forged into the video
input is refused by Gradio; a model off the allowlist is refused (an upload's server path
named as the model included: loading a .pt unpickles it); error texts name no server path;
and an uploaded original is deleted from disk when its job ends (done, failed, stopped).

That the loader is never called for a refused model is proven in-process, with the loader
patched (tests/test_ui_handlers.py); here the refusal comes back before any job folder
exists."""
from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import REPO, SAMPLE, long_clip, running_app  # noqa: E402
from mediakit import read_zip  # noqa: E402
from ui.messages import MODEL_FAILED  # noqa: E402
from ui.sources import LINK_ONLY  # noqa: E402

from gradio_client import Client, handle_file  # noqa: E402

EXCERPT = REPO / "tests" / "data" / "vtest_3s.mp4"  # an upload that is not the sample (the sample's copy is kept)
SECRET_WEIGHTS = "/nonexistent/secret-weights/custom.pt"  # an operator model whose file is missing


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("security-app"), MOSAIC_EXTRA_MODELS=SECRET_WEIGHTS) as server:
        yield server


def gradio_cache(app) -> Path:
    return app.results_dir.parent / "gradio-tmp"  # the server's GRADIO_TEMP_DIR (app_server.py)


def server_paths(app) -> list[str]:
    """Text that would give the server's disk away if an error showed it."""
    return [str(REPO), str(app.results_dir), str(gradio_cache(app)), "/tmp/", "mosaic-job-", "/nonexistent",
            "secret-weights"]


def refused(client, app, **kwargs) -> str:
    """Calls /process expecting a refusal; returns its message after the common checks."""
    before = app.job_dirs()
    log_before = len(app.log_tail(10**9))
    with pytest.raises(Exception) as raised:
        client.predict(api_name="/process", **kwargs)
    message = str(raised.value)
    for leak in server_paths(app):
        assert leak not in message, f"the error shows {leak!r}: {message}"
    assert "Traceback" not in message
    assert app.job_dirs() == before, "no job started: no ZIP, no result folder"
    assert "Traceback" not in app.log_tail(10**9)[log_before:]
    return message


@pytest.mark.parametrize("link", [
    str(SAMPLE),  # a server path that exists
    "/nonexistent/clip.mp4",  # one that does not: the answer must be the same
    f"file://{SAMPLE}",
    "file:///etc/passwd",
    "ui/assets/vtest_clip.mp4",  # relative to the server's working folder, where it exists
    "../main/ui/assets/vtest_clip.mp4",
    "~/x",
    "/etc/passwd",
    "ftp://drive.google.com/file/d/abc/view",
    "https://example.com/v.mp4",
])
def test_the_link_input_refuses_everything_but_drive_links(link, app, client):
    message = refused(client, app, video_file=None, drive_link=link)
    assert LINK_ONLY in message, message
    assert link not in message, "the refusal does not repeat (or confirm) the path"


def test_a_forged_upload_path_is_refused(app):
    """The video input takes only files that were uploaded: a FileData naming a server file
    is refused by Gradio before the handler runs."""
    before = app.job_dirs()
    forged = {"path": str(SAMPLE), "meta": {"_type": "gradio.FileData"}, "orig_name": "x.mp4"}
    request = urllib.request.Request(app.url + "gradio_api/call/process", method="POST",
                                     data=json.dumps({"data": [forged]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{app.url}gradio_api/call/process/{event_id}", timeout=60) as response:
        stream = response.read().decode()
    assert "event: error" in stream and "event: complete" not in stream, stream
    assert "_mosaic.zip" not in stream
    assert app.job_dirs() == before


def upload(app, path: Path) -> str:
    """Uploads a file the way the page does and returns the server path Gradio answers."""
    boundary = "----mosaic-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(app.url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)[0]


@pytest.mark.parametrize("model", ["/etc/passwd", "../../ui/assets/vtest_clip.mp4", "yolo11n.pt.bak",
                                   SECRET_WEIGHTS, "uploaded .pt"])
def test_a_model_off_the_allowlist_is_refused(model, app, client, tmp_path):
    if model == "uploaded .pt":  # the attack: put a file on the server, then name it as the model
        payload = tmp_path / "evil.pt"
        payload.write_bytes(b"not really a pickle")
        model = upload(app, payload)
        assert Path(model).is_file() and str(gradio_cache(app)) in model
    message = refused(client, app, video_file=handle_file(str(SAMPLE)), model=model)
    assert "model must be one of the offered names" in message, message
    assert "custom.pt" in message, "the operator's extra model is offered by its name"


def test_an_allowed_model_that_fails_to_load_names_no_server_path(app, client):
    message = refused(client, app, video_file=handle_file(str(SAMPLE)), model="custom.pt")
    assert MODEL_FAILED in message, message
    assert "secret-weights/custom.pt" in app.log_tail(10**9), "the operator finds the details in the log"


def uploads_named(app, name: str) -> list[Path]:
    return list(gradio_cache(app).rglob(name))


def test_an_uploaded_original_is_gone_when_its_job_is_done(app, client):
    result, _ = client.predict(handle_file(str(EXCERPT)), api_name="/process")
    assert len(read_zip(Path(result)).image_names) == 3
    assert uploads_named(app, EXCERPT.name) == [], "the unmasked original is still on the server"


def test_an_uploaded_original_is_gone_when_its_job_failed(app, client, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("just some notes, not a video\n")
    message = refused(client, app, video_file=handle_file(str(notes)))
    assert "Not a readable video: notes.mp4" in message
    assert uploads_named(app, "notes.mp4") == []


def test_an_uploaded_original_is_gone_when_its_job_is_stopped(app, tmp_path):
    long = long_clip(tmp_path / "long_clip.mp4", 6)  # 240 frames at interval 1: still running when cancelled
    client = Client(app.url, verbose=False, download_files=str(tmp_path / "dl"), analytics_enabled=False)
    before = app.job_dirs()
    job = client.submit(handle_file(str(long)), interval=1, api_name="/process")
    deadline = time.monotonic() + 60
    while not (app.job_dirs() - before and uploads_named(app, long.name)):
        assert time.monotonic() < deadline and not job.done(), "the job never started"
        time.sleep(0.2)
    time.sleep(1.5)  # processing frames now
    job.cancel()
    deadline = time.monotonic() + 20
    while (uploads_named(app, long.name) or app.job_dirs() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert uploads_named(app, long.name) == [], "the stopped job's original is still on the server"
    assert app.job_dirs() == before, "the stopped job's partial output is removed"
    assert app.process.poll() is None
