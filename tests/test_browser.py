"""End to end in a real browser: the app started for real, driven by Playwright on Debian's
headless Chromium (tests/setup_system.sh installs it; when it is missing these tests FAIL,
they do not skip). A user uploads the sample, presses Start, gets the ZIP from the result
component and sees Done; "Try the sample" runs the sample; Stop ends a running job, says so
and leaves nothing behind; bad input and a missing model are messages on the page; the
status panel shows the device and, refreshed by its timer, the running job.

A screenshot of the finished page is saved to tests/artifacts/finished_page.png."""
from __future__ import annotations

import os
import re
import time
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import SAMPLE, SAMPLE_FRAMES, SAMPLE_SIZE, long_clip, running_app  # noqa: E402
from mediakit import CSV_COLUMNS, image_size, read_zip  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
JOB_TIMEOUT_MS = 90_000
RESULT_LINK = "#result-zip a[download]"  # the result's link; the uploaded input has its own


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("browser-app")) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tests/setup_system.sh (apt-get install chromium) "
                    "before the browser tests", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(app, browser):
    """A fresh browser context (its own Gradio session) on the app's page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app.url)
    page.wait_for_selector("#start-button")
    page.wait_for_selector("#status-panel")
    yield page
    context.close()


def upload(page, path: Path) -> None:
    clear = page.locator("#video-input button[aria-label=Clear]")
    if clear.count():  # a file is already there: the drop zone comes back once it is cleared
        clear.click()
    page.locator("#video-input input[type=file]").set_input_files(str(path))
    page.locator("#video-input a[download]").filter(has_text=re.compile(r"\d")).wait_for()  # uploaded
    assert path.stem in page.locator("#video-input").inner_text()


def wait_for_text(page, selector: str, pattern: str, timeout_ms: int = JOB_TIMEOUT_MS) -> str:
    """Waits until the element's text matches the regex; returns the text."""
    try:
        page.wait_for_function(
            "([sel, pat]) => { const e = document.querySelector(sel); return !!e && new RegExp(pat).test(e.innerText); }",
            arg=[selector, pattern], timeout=timeout_ms)
    except Exception as err:
        shown = page.locator(selector).inner_text() if page.locator(selector).count() else "(absent)"
        raise AssertionError(f"{selector} never matched /{pattern}/ within {timeout_ms} ms; it shows {shown!r}; "
                             f"#summary shows {page.locator('#summary').inner_text()!r}") from err
    return page.locator(selector).inner_text()


def download_result(page, dest: Path) -> Path:
    link = page.locator(RESULT_LINK)
    link.wait_for(timeout=JOB_TIMEOUT_MS)
    with page.expect_download() as info:
        link.click()
    info.value.save_as(str(dest))
    return dest


def check_sample_zip(path: Path, interval: int = 10) -> None:
    contents = read_zip(path)
    assert contents.frame_indices() == list(range(0, SAMPLE_FRAMES, interval))
    for name in contents.image_names:
        assert image_size(contents.images[name]) == SAMPLE_SIZE
        contents.decoded(name)
    assert contents.csv_header()[:len(CSV_COLUMNS)] == CSV_COLUMNS


def no_stack_trace(page) -> None:
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and 'File "' not in text, "a stack trace is shown on the page"


def test_upload_start_download_and_screenshot(page, tmp_path):
    panel = page.locator("#status-panel")
    assert "CPU" in panel.inner_text()
    cpu_only = page.locator("#status-panel .dev-cpu")
    if cpu_only.count():  # no GPU here: the device label is red and gives the core count
        assert re.search(rf"CPU only \({os.cpu_count()} cores\)", cpu_only.inner_text())
        red, green, blue = map(int, re.findall(r"\d+", cpu_only.evaluate("e => getComputedStyle(e).color"))[:3])
        assert red > 150 and green < 80 and blue < 80, "CPU-only is shown in red (the page CSS is applied)"
    assert re.search(r"CPU \d+ % · RAM [\d.]+ / [\d.]+ GB", panel.inner_text())

    upload(page, SAMPLE)
    assert page.locator(RESULT_LINK).count() == 0
    page.click("#start-button")
    zip_path = download_result(page, tmp_path / "result.zip")
    check_sample_zip(zip_path)
    summary = wait_for_text(page, "#summary", r"Done: 4 images")
    assert f"{SAMPLE_FRAMES} frames read" in summary
    assert page.locator("#gallery img").count() >= 1, "the gallery shows mosaicked frames"
    no_stack_trace(page)
    wait_for_text(page, "#status-panel", r"idle", 15_000)  # the timer notices the job has ended
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "finished_page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_sample_button_runs_the_sample(page, tmp_path):
    page.click("#sample-button")
    zip_path = download_result(page, tmp_path / "sample.zip")
    check_sample_zip(zip_path)
    wait_for_text(page, "#summary", r"Done: 4 images")
    assert SAMPLE.stem in page.locator("#video-input").inner_text(), "the sample is shown as the input"


def test_stop_ends_the_running_job_says_so_and_leaves_nothing(page, app, tmp_path):
    long = long_clip(tmp_path / "long_clip.mp4", 4)  # 160 frames: still running when Stop is pressed
    upload(page, long)
    page.get_by_label("Capture every N frames").fill("1")
    before = app.job_dirs()
    page.click("#start-button")
    wait_for_text(page, "#progress", r"processing")
    # the status panel, refreshed by its timer alone, shows the job's throughput
    wait_for_text(page, "#status-panel", r"1 job\(s\) running: \d+ frames/s \(\d+/160\)", 15_000)
    new = app.job_dirs() - before
    assert len(new) == 1, "the job has its result folder while it runs"
    page.click("#stop-button")
    summary = wait_for_text(page, "#summary", r"Stopped", 20_000)
    assert summary.startswith("⏹️ Stopped") and "removed" in summary
    assert not (app.job_dirs() - before), "when the page says Stopped, the job's folder is gone"
    wait_for_text(page, "#progress", r"^stopped$", 5_000)  # no stale "processing" bar beside it
    wait_for_text(page, "#status-panel", r"idle", 15_000)
    assert page.locator(RESULT_LINK).count() == 0
    no_stack_trace(page)


def test_closing_the_tab_stops_its_job_and_removes_its_output(app, browser, tmp_path):
    """Nobody presses Stop: the browser tab is simply closed mid-run."""
    long = long_clip(tmp_path / "long_clip.mp4", 4)
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.goto(app.url)
    page.wait_for_selector("#start-button")
    upload(page, long)
    page.get_by_label("Capture every N frames").fill("1")
    before = app.job_dirs()
    page.click("#start-button")
    wait_for_text(page, "#progress", r"processing")
    assert len(app.job_dirs() - before) == 1
    context.close()  # the tab goes away with its connection

    watcher = browser.new_context()
    other = watcher.new_page()
    other.goto(app.url)
    try:
        # The server notices the lost connection, closes the job and removes its folder;
        # the job (160 frames at interval 1) would otherwise still be running here.
        wait_for_text(other, "#status-panel", r"idle", 30_000)
        deadline = time.monotonic() + 10
        while app.job_dirs() - before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not (app.job_dirs() - before), "the closed tab's job left its folder behind"
    finally:
        watcher.close()


def test_bad_input_and_missing_model_are_messages_on_the_page(page, app, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("just some notes, not a video\n")
    before = app.job_dirs()
    upload(page, notes)
    page.click("#start-button")
    summary = wait_for_text(page, "#summary", r"❌")
    assert "Not a readable video: notes.mp4" in summary
    assert page.locator(RESULT_LINK).count() == 0
    no_stack_trace(page)

    upload(page, SAMPLE)
    page.get_by_text("Advanced").click()
    model_box = page.get_by_label("Model")
    model_box.wait_for(state="visible")  # the accordion's content is mounted as it opens
    model_box.fill("/nonexistent/model.pt")
    model_box.press("Tab")  # blur: Gradio commits the value to the component
    expect(model_box).to_have_value("/nonexistent/model.pt")
    page.click("#start-button")
    summary = wait_for_text(page, "#summary", r"❌.*model", 30_000)
    assert "MOSAIC_MODEL" in summary and "/nonexistent/model.pt" in summary, summary
    assert page.locator(RESULT_LINK).count() == 0
    no_stack_trace(page)
    assert app.job_dirs() == before
