"""The page's default job and the API's /process, offline: the app started with no
$MOSAIC_MODEL, no YOLO weights beside it and every download sent to a dead proxy (see
test_persons.py). The person target then runs the bundled model, the page and the API say
so, and the ZIP shows real masks: every person the bundled model finds on the whole frame
(score >= 0.5) of a captured frame is covered by a mosaic: the middle half of its box is
no longer the source's pixels but a few flat cells (read from PNG images, which keep them
exact; the format changes nothing else in the job)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import SAMPLE, SAMPLE_FRAMES, running_app  # noqa: E402
from mediakit import decode_frames, read_zip  # noqa: E402
from pipeline import Settings  # noqa: E402
from pipeline.settings import BUNDLED_PERSON_MODEL  # noqa: E402
from test_browser import CHROMIUM, CHROMIUM_ARGS, download_result, open_page, upload, wait_for_text  # noqa: E402
from test_persons import DEAD_PROXY  # noqa: E402


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    proxies = {name: DEAD_PROXY for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    with running_app(tmp_path_factory.mktemp("offline-app"), MOSAIC_MODEL="", NO_PROXY="127.0.0.1,localhost",
                     no_proxy="127.0.0.1,localhost", **proxies) as server:
        yield server


@pytest.fixture(scope="module")
def people():
    """Captured frame (every 10th) -> the people the bundled model finds on the whole frame."""
    from pipeline.models import load_detector

    bundled = load_detector(Settings(model=BUNDLED_PERSON_MODEL, conf=0.5))
    frames = decode_frames(SAMPLE, range(0, SAMPLE_FRAMES, 10))
    found = {i: bundled.detect([frame])[0].xyxy for i, frame in frames.items()}
    assert sum(len(b) for b in found.values()) >= 8, "the sample shows people the model finds"
    return found, frames


def check_masked(zip_path: Path, people) -> None:
    found, source = people
    contents = read_zip(zip_path)
    assert contents.frame_indices() == sorted(found)
    colours = lambda region: len(np.unique(region.reshape(-1, 3), axis=0))  # noqa: E731
    for index, boxes in found.items():
        image = contents.image_for_frame(index)
        for x1, y1, x2, y2 in boxes.round().astype(int):
            quarter = (x2 - x1) // 4
            out, src = (im[max(y1, 0):y2, max(x1 + quarter, 0):x2 - quarter] for im in (image, source[index]))
            changed = np.abs(out.astype(int) - src).max(axis=2) > 24
            assert changed.mean() > 0.2 and colours(out) * 3 < colours(src), \
                f"frame {index}: the person at {(x1, y1, x2, y2)} is not covered by a mosaic"


def test_the_pages_default_job_offline_runs_the_bundled_model_says_so_and_masks_real_people(app, people,
                                                                                            tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context, page = open_page(app, browser)
            upload(page, SAMPLE)
            page.get_by_text("Advanced").click()  # PNG, so the mosaic's flat cells can be counted
            page.locator("label").filter(has_text=re.compile(r"^\s*png\s*$")).first.click()
            page.click("#start-button")
            zip_path = download_result(page, tmp_path)
            summary = wait_for_text(page, "#summary", BUNDLED_PERSON_MODEL)
            assert summary.startswith("Warning: People were found by the bundled model ssdlite-person"), summary
            assert "yolo11n.pt could not be loaded" in summary and "Done" not in summary
            assert summary.count(BUNDLED_PERSON_MODEL) == 1, "said once"
            assert page.locator("#gallery img").count() >= 1
            context.close()
        finally:
            browser.close()
    check_masked(zip_path, people)
    rows = read_zip(zip_path).csv_rows()
    assert rows and {r["target"] for r in rows} == {"person"}


def test_the_api_process_offline_names_the_bundled_model_and_masks_real_people(app, people, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app.url, verbose=False, download_files=str(tmp_path), analytics_enabled=False)
    zip_path, summary = client.predict(handle_file(str(SAMPLE)), image_format="png", api_name="/process")
    assert f"People were found by the bundled model {BUNDLED_PERSON_MODEL}" in summary, summary
    assert "yolo11n.pt could not be loaded" in summary
    check_masked(Path(zip_path), people)
