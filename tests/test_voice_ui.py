"""The video's sound from the page and the API: voice, mute spans and bleep reach the
pipeline through settings_from_inputs, the Start handler and the HTTP API (/process and
/render, the video inside the ZIP), decoded and checked; bad spans and voice without a
video are one clear error, in Korean on a Korean page."""
from __future__ import annotations

import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from app_server import free_port
from audiokit import FPS, RATE, decode_audio, make_clip, rms, tone
from gradio_client import Client, handle_file

from pipeline import Settings
from pipeline.errors import SettingsError
from ui import handlers, inputs, sources
from ui.messages import public_message

VIDEO = 5  # start_job's output with the video (see test_ui_handlers.py)
SUMMARY = 4


pytestmark = pytest.mark.usefixtures("isolated_results")  # conftest: results in the test's folder, yolo11n.yaml


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("ui-voice") / "tone.mp4", tone(2.0), 2.0)


def test_the_form_values_become_settings():
    made = inputs.settings_from_inputs(10, 100, False, 500, False, 1000, "jpg", 90, "mosaic", 15, 10, 0.2, "",
                                       voice="mute", mute_spans=" 1-2 , 0.5-1.5", bleep=True)
    assert (made.voice, made.mute_spans, made.bleep) == ("mute", ((0.5, 2.0),), True)
    plain = inputs.settings_from_inputs(10, 100, False, 500, False, 1000, "jpg", 90, "mosaic", 15, 10, 0.2, "")
    assert (plain.voice, plain.mute_spans, plain.bleep) == (Settings().voice, (), False)


@pytest.mark.parametrize("spans", ["4-2", "abc"])
def test_bad_spans_from_the_page_in_both_languages(spans):
    with pytest.raises(SettingsError) as info:
        inputs.settings_from_inputs(10, 100, False, 500, False, 1000, "jpg", 90, "mosaic", 15, 10, 0.2, "",
                                    mute_spans=spans)
    assert f"mute span '{spans}'" in public_message(info.value, "en")
    korean = public_message(info.value, "ko")
    assert "소리 지울 구간" in korean and spans in korean


def test_start_mutes_the_video_and_refuses_voice_without_one(clip):
    out = list(handlers.start_job(str(clip), "", make_video=True, voice="mute",
                                  request=SimpleNamespace(session_hash="voice-1")))[-1]
    video = out[VIDEO]["value"]
    audio = decode_audio(Path(video))
    assert len(audio) >= 1.9 * RATE and not np.any(audio)
    korean = SimpleNamespace(session_hash="voice-2", headers={"accept-language": "ko-KR"})
    out = list(handlers.start_job(str(clip), "", voice="disguise", request=korean))[-1]
    assert "모자이크한 영상도 만들기" in out[SUMMARY] and out[VIDEO]["value"] is None


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The app served in this process (its results in a temp folder)."""
    from ui import build_demo

    tmp = tmp_path_factory.mktemp("voice-app")
    patch = pytest.MonkeyPatch()
    patch.setattr(sources, "RESULTS_ROOT", tmp / "results")
    patch.setenv("MOSAIC_MODEL", "yolo11n.yaml")
    demo = build_demo()
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            ssr_mode=False)
    try:
        yield Client(url, verbose=False, download_files=str(tmp / "downloads"), analytics_enabled=False)
    finally:
        demo.close()
        patch.undo()


def _video_in(zip_path: str, tmp_path: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".mp4")]
        assert len(names) == 1 and any(n.endswith(".jpg") for n in archive.namelist())
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / names[0]
        path.write_bytes(archive.read(names[0]))
    return path


def test_process_and_render_apply_the_voice_to_the_video_in_the_zip(client, clip, tmp_path):
    zip_path, _ = client.predict(handle_file(str(clip)), make_video=True, voice="mute", api_name="/process")
    audio = decode_audio(_video_in(zip_path, tmp_path / "p"))
    assert len(audio) >= 1.9 * RATE and not np.any(audio)

    csv = tmp_path / "detections.csv"
    csv.write_text("frame,x1,y1,x2,y2\n3,8,8,40,40\n")
    zip_path, _ = client.predict(handle_file(str(clip)), handle_file(str(csv)), interval=FPS, make_video=True,
                                 mute_spans="0.5-1.0", api_name="/render")
    audio, source = decode_audio(_video_in(zip_path, tmp_path / "r")), decode_audio(clip)
    assert np.abs(audio[round(0.52 * RATE):round(0.98 * RATE)]).max() < 1e-3
    outside = slice(round(1.1 * RATE), round(1.9 * RATE))
    assert rms(audio[outside] - source[outside]) < 0.05 * rms(source[outside])


def test_the_api_refuses_voice_without_a_video_and_bad_spans(client, clip):
    with pytest.raises(Exception, match="make_video"):
        client.predict(handle_file(str(clip)), voice="mute", api_name="/process")
    with pytest.raises(Exception, match="ends past the end of the video"):
        client.predict(handle_file(str(clip)), make_video=True, mute_spans="1-9", api_name="/process")
