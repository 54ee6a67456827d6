"""The Live tab in a real browser: Chromium's fake webcam plays a clip of real footage
(tests/data/vtest_3s.mp4 as 640x480 y4m), the app (started for real) replays a known box
for every frame ($MOSAIC_LIVE_DETECTIONS), and the masked pictures the page shows are
fetched and checked pixel by pixel: the box is covered, the rest is the moving street."""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import running_app  # noqa: E402
from live_media import footage  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
BOX = (100, 100, 300, 300)  # replayed on every frame, in the 640x480 webcam frame
SHOTS = 3


def write_y4m(path: Path, pictures: list[np.ndarray], fps: int = 10) -> Path:
    """An uncompressed 4:2:0 y4m clip: what Chromium's fake capture device plays (looped)."""
    height, width = pictures[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for picture in pictures:
            out.write(b"FRAME\n" + cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-app")
    csv = folder / "box.csv"
    csv.write_text("frame,x1,y1,x2,y2\n" + "".join(f"{i},{','.join(map(str, BOX))}\n" for i in range(20_000)))
    with running_app(folder, MOSAIC_LIVE_DETECTIONS=str(csv)) as server:
        yield server


def test_the_live_tab_shows_the_webcam_masked(live_app, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tests/setup_system.sh", pytrace=False)
    from playwright.sync_api import sync_playwright

    clip = write_y4m(tmp_path / "webcam.y4m", footage(640, 480))
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US").new_page()
            page.set_default_timeout(30_000)
            page.goto(live_app.url)
            page.get_by_role("tab", name="Live").click()
            page.locator("#live-style").get_by_text("fill").click()
            page.get_by_text("Click to Access Webcam").click()
            page.get_by_role("button", name="capture photo").click()  # "Record": streaming starts
            shots = _masked_pictures(page, SHOTS)
            stats = page.locator("#live-stats").inner_text()
        finally:
            browser.close()
    x1, y1, x2, y2 = BOX
    for shot in shots:
        assert shot.shape == (480, 640, 3)
        assert shot[y1 + 4:y2 - 4, x1 + 4:x2 - 4].max() < 40, "the replayed box is covered (fill: black)"
        assert shot[360:470, 380:630].mean() > 40, "outside the box the street is shown"
    # people walk across the plaza: between two pictures of the stream some pixels change a lot
    # (the bottom-right quarter alone is mostly grass, and stayed the same between some shots)
    frames = [s.astype(int) for s in shots]
    moved = [(np.abs(a - b).max(axis=2) > 25).mean() for a, b in zip(frames, frames[1:])]
    assert max(moved) > 0.002, f"the pictures move: a stream ({moved})"
    assert re.search(r"\d+\.\d fps shown · detection \d+\.\d Hz", stats), stats
    assert "test mode" in stats


def _masked_pictures(page, count: int, timeout_s: float = 60.0) -> list[np.ndarray]:
    """`count` different masked pictures as the page shows them, decoded from their files."""
    seen, pictures = set(), []
    deadline = time.monotonic() + timeout_s
    while len(pictures) < count:
        assert time.monotonic() < deadline, f"only {len(pictures)} masked pictures within {timeout_s:.0f} s"
        image = page.locator("#live-output img")
        src = image.first.get_attribute("src") if image.count() else None
        if src and src not in seen:
            response = page.request.get(src)
            body = response.body() if response.ok else b""
            # Gradio names a picture by the hash of its bytes and writes it again in place when
            # the same picture comes back (the fake webcam loops): a read during that write gets
            # an empty or cut file, so such a read is tried again instead of counted
            decoded = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) if body else None
            if decoded is not None:
                seen.add(src)
                pictures.append(decoded)
        time.sleep(0.3)
    return pictures
