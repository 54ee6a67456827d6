"""The Live tab's WebRTC path in a real browser (ui/webrtc.py, ui/webrtc_page.py,
pipeline/jobs/webrtc_track.py).

Chromium's fake webcam plays the faces sample (ui/assets/faces_clip.mp4, real faces) as a
640x480 30 fps y4m; the app runs for real with the face target (CenterFace, defaults).
The masked <video> must play, and frames grabbed from it (canvas -> PNG) must show no face
CenterFace finds at score >= 0.6, while the same detector finds faces in the webcam's own
frames. The frame rate over 10 s is printed; on this shared 2-core machine only a sanity
bound is asserted (the 25 fps target lives in benchmarks/bench_webrtc.py). Two tabs
stream at once, a third over the cap is told the server is busy, and closing a tab ends
its session within seconds. On a Korean browser the tab's texts, Gradio's webcam
included, are Korean.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import running_app  # noqa: E402
from test_live_browser import write_y4m  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CLIP = REPO / "ui" / "assets" / "faces_clip.mp4"
MIN_FPS = 1.5  # "it plays": on this shared CPU (load ~8 on 2 cores) 3.7-13 fps were seen; 25 fps is the benchmark target
FACE_SCORE = 0.6
PLAY_TIMEOUT_MS = 120_000

GRAB = """() => { const v = document.querySelector('#webrtc-output');
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0); return c.toDataURL('image/png'); }"""
PLAYING = """() => { const v = document.querySelector('#webrtc-output');
  return v && v.videoWidth > 0 && v.currentTime > 0.5 && v.getVideoPlaybackQuality().totalVideoFrames > 10; }"""
FRAMES = "() => document.querySelector('#webrtc-output').getVideoPlaybackQuality().totalVideoFrames"


@pytest.fixture(scope="module")
def webcam_clip(tmp_path_factory) -> Path:
    with av.open(str(CLIP)) as container:
        frames = [cv2.resize(f.to_ndarray(format="bgr24"), (640, 480), interpolation=cv2.INTER_AREA)
                  for f in container.decode(video=0)]
    return write_y4m(tmp_path_factory.mktemp("webcam") / "faces.y4m", frames, fps=30)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("webrtc-app"), MOSAIC_WEBRTC_SESSIONS="2") as server:
        yield server


@pytest.fixture(scope="module")
def faces():
    from pipeline.models.face import load_face_detector
    from pipeline.settings import Settings

    detector = load_face_detector(Settings(target="face", conf=FACE_SCORE))
    def found(image):
        d = detector.detect([image])[0]
        return [(float(s), [int(v) for v in b]) for s, b in zip(d.score, d.xyxy) if s >= FACE_SCORE]

    return found


def launch(playwright, webcam_clip: Path, *extra: str):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tests/setup_system.sh", pytrace=False)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={webcam_clip}",
            "--autoplay-policy=no-user-gesture-required", *extra]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright, webcam_clip):
    browser = launch(playwright, webcam_clip)
    try:
        yield browser
    finally:
        browser.close()


def open_live_tab(browser, url: str, locale: str = "en-US"):
    page = browser.new_context(viewport={"width": 1400, "height": 1100}, locale=locale).new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    from ui.i18n import TEXTS

    page.get_by_role("tab", name=TEXTS[locale[:2]]["page.live_tab"]).click()
    page.locator("#webrtc-start").wait_for()
    return page


def start_faces(page) -> None:
    page.locator("#live-target").get_by_text("Faces").click()
    page.locator("#webrtc-start").click()


def grab(page) -> np.ndarray:
    data = page.evaluate(GRAB).split(",", 1)[1]
    return cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)


def stats(url: str, session: str) -> dict:
    with urllib.request.urlopen(f"{url}webrtc/stats?session={session}", timeout=10) as response:
        return json.loads(response.read())


GRABS: list[np.ndarray] = []  # frames grabbed from the masked <video> by the first test


def test_the_masked_stream_plays(app, browser, webcam_clip):
    page = open_live_tab(browser, app.url)
    start_faces(page)
    page.wait_for_function(PLAYING, timeout=PLAY_TIMEOUT_MS)
    first, t0 = page.evaluate(FRAMES), time.monotonic()
    shots = []
    while time.monotonic() - t0 < 10:
        shots.append(grab(page))
        time.sleep(0.5)
    fps = (page.evaluate(FRAMES) - first) / (time.monotonic() - t0)
    session = page.evaluate("() => window.__mosaicWebrtc.session()")
    server = stats(app.url, session)
    print(f"\nWebRTC in headless Chromium: {fps:.1f} fps played over 10 s; server {server}")
    page.locator("#webrtc-stop").click()
    page.locator("#webrtc-status").filter(has_text="Stopped").wait_for()
    page.context.close()
    assert fps >= MIN_FPS, f"the masked stream plays at {fps:.1f} fps"
    assert len(shots) >= 10
    for shot in shots:
        assert shot.shape == (480, 640, 3) and shot.mean() > 30, "a picture of the scene, not a blank"
    assert any(np.abs(a.astype(int) - b).mean() > 2 for a, b in zip(shots, shots[1:])), "the pictures move"
    GRABS.extend(shots)


def test_the_tabs_settings_apply_to_the_running_stream(app, browser):
    page = open_live_tab(browser, app.url)
    start_faces(page)
    page.wait_for_function(PLAYING, timeout=PLAY_TIMEOUT_MS)

    def black_share(count=8):  # pixels a solid fill makes black, over a few grabs
        shares = []
        for _ in range(count):
            shares.append(float((grab(page).max(axis=2) < 12).mean()))
            time.sleep(0.3)
        return float(np.mean(shares))

    before = black_share()
    page.locator("#live-style").get_by_text("fill").click()  # posted to the session as it changes
    time.sleep(3)
    after = black_share()
    page.context.close()
    assert after > before + 0.01, f"the faces are not filled after switching to fill: {before:.3f} -> {after:.3f}"


def test_grabbed_frames_show_no_face(faces):
    if not GRABS:
        pytest.skip("the stream did not play (see test_the_masked_stream_plays)")
    with av.open(str(CLIP)) as container:
        source = [f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i % 15 == 0]
    assert sum(len(faces(cv2.resize(s, (640, 480)))) for s in source) >= len(source), "the webcam shows faces"
    leaks = []
    for i, shot in enumerate(GRABS):
        found = faces(shot)
        if found:
            cv2.imwrite(str(Path(os.environ.get("WEBRTC_FAIL_DIR", "/tmp")) / f"webrtc_face_{i}.png"), shot)
            leaks.append((i, found))
    assert not leaks, f"CenterFace finds faces (grab, [(score, box)]) in the masked stream: {leaks}"


def test_two_tabs_stream_a_third_is_busy_and_a_closed_tab_frees_its_session(app, browser):
    tabs = [open_live_tab(browser, app.url) for _ in range(2)]
    for tab in tabs:
        start_faces(tab)
    for tab in tabs:
        tab.wait_for_function(PLAYING, timeout=PLAY_TIMEOUT_MS)
    sessions = [tab.evaluate("() => window.__mosaicWebrtc.session()") for tab in tabs]
    assert len(set(sessions)) == 2 and stats(app.url, sessions[1])["sessions"] == 2
    third = open_live_tab(browser, app.url)
    start_faces(third)
    status = third.locator("#webrtc-status")
    status.filter(has_text="busy").wait_for(timeout=15_000)
    assert "2 WebRTC streams" in status.inner_text()
    tabs[0].context.close()  # the tab goes away without pressing Stop
    deadline = time.monotonic() + 10
    while stats(app.url, sessions[0]).get("ended") is not True:
        assert time.monotonic() < deadline, "the closed tab's session still runs after 10 s"
        time.sleep(0.5)
    assert stats(app.url, sessions[1])["sessions"] == 1
    third.locator("#webrtc-start").click()  # its slot is free again
    third.wait_for_function(PLAYING, timeout=PLAY_TIMEOUT_MS)
    for page in (tabs[1], third):
        page.context.close()


def _no_candidates(sdp: str) -> str:
    return "".join(line for line in sdp.splitlines(keepends=True)
                   if not line.startswith(("a=candidate", "a=end-of-candidates")))


def test_a_connection_that_cannot_be_made_is_named_within_seconds(app, browser):
    """Neither side learns an address of the other (every ICE candidate is cut out of the
    offer and the answer, as when a firewall blocks the path): ICE cannot connect, and the
    page says so within its timeout instead of spinning; its session on the server ends."""
    page = open_live_tab(browser, app.url)
    sessions = []

    def cut_candidates(route):
        offer = json.loads(route.request.post_data)
        response = route.fetch(post_data=json.dumps({**offer, "sdp": _no_candidates(offer["sdp"])}))
        answer = response.json()
        sessions.append(answer.get("session"))
        route.fulfill(response=response, json={**answer, "sdp": _no_candidates(answer.get("sdp", ""))})

    page.route("**/webrtc/offer", cut_candidates)
    start_faces(page)
    started = time.monotonic()
    status = page.locator("#webrtc-status")
    page.locator("#webrtc-status.failed").wait_for(timeout=30_000)
    waited = time.monotonic() - started
    text = status.inner_text()
    page.context.close()
    assert "ICE failed" in text or "ICE timed out" in text, text
    assert "MOSAIC_TURN_URL" in text and "JPEG" in text, "it says what to do"
    assert waited < 15, f"the page took {waited:.0f} s to say it"
    deadline = time.monotonic() + 10
    while stats(app.url, sessions[0]).get("ended") is not True:
        assert time.monotonic() < deadline, "the failed connection's session still runs"
        time.sleep(0.5)


def test_the_live_tab_speaks_korean(app, browser):
    page = open_live_tab(browser, app.url, locale="ko-KR")
    assert page.locator("#webrtc-start").inner_text() == "WebRTC 시작"
    page.get_by_text("클릭해서 웹캠 켜기").wait_for(timeout=10_000)
    assert page.get_by_text("Click to Access Webcam").count() == 0
    footer = page.evaluate("[...document.querySelectorAll('footer')].map(f => f.textContent).join(' ')")
    assert "Stop Recording" not in footer and "녹화 중지" in footer  # Gradio's hidden recorder button
    page.context.close()
