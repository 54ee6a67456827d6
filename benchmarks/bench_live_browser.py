"""The frame rate the browser path reaches: the app's Live tab on Chromium's fake webcam.

    python benchmarks/bench_live_browser.py [--seconds 20] [--model yolo11n.yaml]

Starts `python app.py` (tests/app_server.py), opens the Live tab in headless Chromium whose
fake webcam plays vtest.avi's first seconds at 640x480, presses Record, and reads the rates
the tab itself shows (frames shown per second, detections per second) once a second. Prints
their medians over the run, after the first 5 seconds.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from app_server import running_app  # noqa: E402
from live_media import footage  # noqa: E402
from test_live_browser import CHROMIUM, write_y4m  # noqa: E402

WARM_UP_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--model", default="yolo11n.yaml")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_y4m(Path(tmp) / "webcam.y4m", footage(640, 480, REPO.parent / "shared" / "samples" / "vtest.avi")[:100])
        chrome = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"]
        with running_app(Path(tmp) / "app", MOSAIC_MODEL=args.model) as app, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chrome)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(60_000)
            page.goto(app.url)
            page.get_by_role("tab", name="Live").click()
            page.get_by_text("Click to Access Webcam").click()
            page.get_by_role("button", name="capture photo").click()
            page.wait_for_function("() => /fps shown/.test(document.querySelector('#live-stats').innerText)")
            start, samples = time.monotonic(), []
            while time.monotonic() - start < args.seconds:
                time.sleep(1.0)
                found = re.search(r"([\d.]+) fps shown · detection ([\d.]+) Hz", page.locator("#live-stats").inner_text())
                if found and time.monotonic() - start > WARM_UP_S:
                    samples.append((float(found[1]), float(found[2])))
            browser.close()
    print(f"browser path ({args.model}, 640x480 webcam, {len(samples)} samples): "
          f"{statistics.median(s[0] for s in samples):.1f} fps shown, "
          f"detection {statistics.median(s[1] for s in samples):.1f} Hz; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
