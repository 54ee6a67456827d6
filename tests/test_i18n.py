"""The page's two languages (ui/i18n.py), without a browser: the table is complete in every
language, every key the code uses is in it (and nothing in it is unused), a translation
has the same {placeholders} as the English, the page's Gradio translations cover every key
the page is built with, the language follows the browser's own, and the server's texts
(errors, outcome, progress, status panel) come out in Korean for a Korean page and in the
pipeline's own English words for everyone else. The browser half is in test_browser.py."""
from __future__ import annotations

import ast
import json
import re
import string
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import Progress, Result, Settings  # noqa: E402
from pipeline.errors import DownloadError, InputError, Message, MosaicError, SettingsError  # noqa: E402
from pipeline.events import NO_PERSON_WARNING, SIZE_CAP, hdr_note  # noqa: E402
from pipeline.io.video import VideoInfo  # noqa: E402
from ui import handlers, i18n, inputs, report, sources  # noqa: E402
from ui.i18n import EN, TEXTS, language, say, tr  # noqa: E402
from ui.messages import public_message, without_paths  # noqa: E402

# A key: one of the table's namespaces, a dot, then lower-case words joined by dots.
KEY = re.compile(r"(?:page|review|live|run|progress|end|out|warn|err|set|status)\.[a-z0-9_]+(?:\.[a-z0-9_]+)*")
CODE = sorted([*REPO.joinpath("ui").glob("*.py"), *REPO.joinpath("pipeline").rglob("*.py"), REPO / "app.py"])
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def keys_in_code() -> dict[str, list[str]]:
    """Every string constant in the app's code that is written like a key, with where."""
    found: dict[str, list[str]] = {}
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY.fullmatch(node.value):
                found.setdefault(node.value, []).append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def korean(request_language: str = "ko-KR,ko;q=0.9,en-US;q=0.8") -> SimpleNamespace:
    """What Gradio hands a handler as gr.Request, as far as the handlers use it."""
    return SimpleNamespace(session_hash="i18n-test", headers={"accept-language": request_language})


# -- the table --------------------------------------------------------------------------
def test_every_language_has_every_key_and_nothing_else():
    assert set(TEXTS) >= {"en", "ko"} and TEXTS["en"] is EN
    for lang, table in TEXTS.items():
        assert sorted(set(EN) - set(table)) == [], f"{lang} lacks these keys"
        assert sorted(set(table) - set(EN)) == [], f"{lang} has keys English lacks"
        assert all(text.strip() for text in table.values()), f"an empty text in {lang}"


def test_a_key_used_by_the_code_is_in_every_language_and_every_text_is_used():
    used = keys_in_code()
    for lang, table in TEXTS.items():
        missing = {key: where for key, where in used.items() if key not in table}
        assert not missing, f"keys the code uses but {lang} lacks: {missing}"
    assert sorted(set(EN) - set(used)) == [], "texts no code uses: remove them or use them"


def test_translations_have_the_english_placeholders():
    for lang, table in TEXTS.items():
        for key, text in table.items():
            assert placeholders(text) == placeholders(EN[key]), (lang, key, text)


def test_the_korean_is_korean():
    """Every Korean text has Hangul in it: a text left in English by mistake shows up here."""
    assert [key for key, text in TEXTS["ko"].items() if not HANGUL.search(text)] == []


# -- what the browser is given ----------------------------------------------------------------
def test_the_page_is_built_from_keys_the_browser_can_translate():
    """Every translatable text in the page's config is a key (no English left in the
    layout), and Gradio's translations have it, filled in, in every language."""
    from ui import build_demo, page_translations

    demo = build_demo()
    config = json.dumps(demo.get_config_file(), default=str)
    keys = set(re.findall(r'__i18n__\{\\?"__type__\\?": \\?"translation_metadata\\?", \\?"key\\?": \\?"([^"\\]+)', config))
    assert {"page.start", "page.sample", "page.target", "page.target.face", "page.drive_placeholder",
            "page.intro", "review.render", "live.intro", "page.live_tab"} <= keys, sorted(keys)
    translations = page_translations().translations
    assert set(translations) == set(TEXTS)
    for lang, table in translations.items():
        for key in keys:
            assert key in table, (lang, key)
            assert "{" not in table[key] and "}" not in table[key], (lang, key, table[key])
    assert f"{sources.MAX_INPUT_MB:g} MB" in translations["ko"]["page.input_help"]
    # what a visitor reads without translation: labels a component shows as given
    for component in demo.blocks.values():
        for prop in ("label", "placeholder", "info"):
            text = getattr(component, prop, None)
            if isinstance(text, str) and text and getattr(component, "visible", True) is True:
                assert text.startswith("__i18n__"), (type(component).__name__, prop, text)


@pytest.mark.parametrize("header, lang", [
    ("ko-KR", "ko"), ("ko", "ko"), ("KO-kr,ko;q=0.9", "ko"), ("en-US,en;q=0.9", "en"),
    ("fr-FR,ko;q=0.8", "en"),  # the page follows the first language only: English for French
    ("", "en"), ("*", "en"), (None, "en"),
])
def test_the_language_is_the_browsers_own(header, lang):
    assert language(SimpleNamespace(headers={"accept-language": header} if header is not None else {})) == lang
    assert language(None) == "en" and language(SimpleNamespace(session_hash="x")) == "en"


# -- what the server writes ------------------------------------------------------------------
def errors_a_page_user_meets(tmp_path) -> list[MosaicError]:
    """Real errors, raised by the code that raises them."""
    from pipeline.io.source import drive_file_id
    from pipeline.io.video import probe_video
    from ui.model_choice import resolve_model

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    raised = []
    for attempt in (
        lambda: sources.pick_source(None, ""),
        lambda: sources.pick_source(str(notes), "https://drive.google.com/file/d/x/view"),
        lambda: sources.pick_source(None, "https://example.com/v.mp4"),
        lambda: probe_video(empty),
        lambda: probe_video(notes),
        lambda: drive_file_id("https://drive.google.com/drive/my-drive"),
        lambda: Settings(interval=0, scale_pct=10, image_format="gif"),
        lambda: inputs.settings_from_inputs(10, 100, True, "-5", False, 1, "jpg", 90, "mosaic", 15, 10, 0.2, ""),
        lambda: resolve_model("/etc/passwd"),
    ):
        with pytest.raises(MosaicError) as info:
            attempt()
        raised.append(info.value)
    return raised


def test_errors_carry_a_key_and_say_in_english_what_their_text_says(tmp_path):
    for err in errors_a_page_user_meets(tmp_path):
        assert err.key in EN, (err, err.key)
        assert tr(err.key, "en", **err.values) == str(err), "the table's English and the error's agree"
        assert public_message(err, "en") == without_paths(" ".join(str(err).split()))


def test_errors_in_korean(tmp_path):
    for err in errors_a_page_user_meets(tmp_path):
        shown = public_message(err, "ko")
        assert HANGUL.search(shown) and shown != public_message(err, "en"), shown
        assert str(tmp_path) not in shown
    settings = errors_a_page_user_meets(tmp_path)[6]
    assert isinstance(settings, SettingsError)
    assert public_message(settings, "ko") == ("설정이 올바르지 않습니다: 저장 간격은 1 이상의 정수여야 합니다 (입력값: 0); "
                                              "출력 해상도는 50-100 %여야 합니다 (입력값: 10); 이미지 형식은 jpg, png 중 "
                                              "하나여야 합니다 (입력값: 'gif').")


def test_an_error_without_a_key_stays_in_its_english_words():
    err = InputError("Cannot read /srv/app/x/secret.csv: bad")
    assert public_message(err, "ko") == "Cannot read secret.csv: bad"
    assert public_message(DownloadError("Download from Google Drive failed (ConnectionError: timed out)"), "ko") \
        == tr("err.drive.unreachable", "ko")
    assert public_message(MosaicError("The renderer stage failed: ValueError"), "ko") == tr("err.processing_failed", "ko")


def test_a_message_is_a_plain_str_that_keeps_its_key():
    import pickle

    message = Message("Reading video", "progress.probing")
    assert message == "Reading video" and isinstance(message, str) and "; ".join([message, "x"]) == "Reading video; x"
    again = pickle.loads(pickle.dumps(message))
    assert again.key == "progress.probing" and say(again, "ko") == "영상 읽는 중"
    assert say("plain words", "ko") == "plain words"
    err = pickle.loads(pickle.dumps(InputError("x", key="err.no_input")))
    assert err.key == "err.no_input" and str(err) == "x"


def result(**changes) -> Result:
    info = VideoInfo(width=768, height=576, fps=10.0, frame_count=40, duration_s=4.0, rotation=0, codec="h264",
                     has_audio=False, time_base=Fraction(1, 10))
    fields = dict(zip_path=Path("/tmp/x/clip_mosaic.zip"), video=info, images_written=4, images_expected=4,
                  frames_read=40, people_found=3, zip_bytes=123_400, stop_reason="completed", stopped_at_frame=None,
                  stopped_at_s=None, elapsed_s=2.5, stage_seconds={})
    return Result(**{**fields, **changes})


def test_the_outcome_in_both_languages():
    settings = Settings()
    done = report.outcome(result(), settings, "ko")
    assert done.state == "done" and done.headline == "완료: 이미지 4장, 3명 가림, 123.4 kB, 2.5초 걸림."
    assert done.details[0] == "원본: 768x576, 10.000 fps, 40 프레임 읽음."
    english = report.outcome(result(), settings)
    assert english.headline == "Done: 4 images, 3 people masked, 123.4 kB, in 2.5 s."
    assert english.details[0] == "Source: 768x576, 10.000 fps, 40 frames read."

    nobody = report.outcome(result(people_found=0, warnings=(NO_PERSON_WARNING, hdr_note("PQ"))), settings, "ko")
    assert nobody.state == "warning" and nobody.headline.startswith("경고: 아무도 검출되지 않았습니다")
    assert "HDR(PQ)" in nobody.headline and not nobody.headline.count("Done")
    capped = report.outcome(result(stop_reason=SIZE_CAP, stopped_at_frame=20, stopped_at_s=2.0, images_expected=4,
                                     images_written=2), settings.replace(max_mb=0.2), "ko")
    assert capped.headline.startswith("프레임 20 (t=2.0초)에서 용량 제한에 걸려 일찍 멈췄습니다")
    assert "계획한 이미지 4장 가운데 2장은 저장하지 못했습니다." in capped.details
    empty = report.outcome(result(images_written=0), settings.replace(max_mb=0.01), "ko")
    assert empty.state == "failed" and "10.0 kB" in empty.headline and HANGUL.search(empty.headline)


def test_progress_and_status_in_korean():
    running = Progress(stage="processing", frames_read=12, frames_total=40, images_written=2, people_found=1,
                       fps=3.5, eta_s=8)
    assert "처리 중 · 12 / 40 프레임 · 초당 3.5 프레임 · 약 8초 남음 · 이미지 2장, 1명 가림" in report._progress_html(running, "ko")
    loading = Progress(stage="loading model", message=Message("Loading /srv/models/best.pt", "progress.loading",
                                                              model="best.pt"))
    assert "모델 불러오는 중 · best.pt 불러오는 중" in report._progress_html(loading, "ko")
    assert "/srv" not in report._progress_html(loading, "en")
    from ui.status import DeviceStatus, JobRate, status_html, status_panel

    device = DeviceStatus(None, 0, 0, None, 6, 50.0, 4.0, 16.0, 10.0, 0.5)
    text = status_html(device, [JobRate(4.0, 10, 40)], "ko")
    assert "CPU만 사용 (코어 6개), GPU 없음" in text and "작업 1개 실행 중: 초당 4 프레임 (10/40)" in text
    assert "서버 전체: CPU 50 %" in text
    assert "CPU only" in status_panel(None) or "GPU:" in status_panel(None)
    assert "GPU 없음" in status_panel(korean()) or "GPU:" in status_panel(korean())


def test_the_page_handlers_answer_in_the_requests_language():
    bar = handlers.begin(korean())[0]
    assert "시작하는 중" in bar or "대기 중" in bar
    out = list(handlers.start_job(None, "https://example.com/v.mp4", request=korean()))[-1]
    assert "오류: 링크 칸에는 구글 드라이브 공유 링크" in out[4] and "failed" in out[0] and "실패" in out[0]
    out = list(handlers.start_job(None, "https://example.com/v.mp4", request=korean("en-US")))[-1]
    assert "Error: " + sources.LINK_ONLY.replace("'", "&#x27;") in out[4]
    choices = handlers.model_choices("head", korean())["choices"]
    assert choices[0][0].startswith("기본값 (") and choices[0][1] == ""


def test_every_choice_the_pipeline_offers_has_a_label():
    from pipeline.settings import FACE_SHAPES, STYLES, TARGETS

    assert set(i18n.TARGET_LABELS) == set(TARGETS) and set(i18n.STYLE_LABELS) == set(STYLES)
    assert set(i18n.FACE_SHAPE_LABELS) == set(FACE_SHAPES)
    assert set(report.STAGES) == {"downloading", "probing", "loading model", "processing", "finishing",
                                  "auditing"}


def test_int8_without_nncf_is_named_on_the_page(monkeypatch, tmp_path):
    """A server without NNCF cannot make an INT8 model: the page says so, and how to get
    on (FP32), in the user's language, not the generic 'model could not be loaded'."""
    from pipeline import ModelError
    from pipeline.models.quantize import _quantize

    monkeypatch.setitem(sys.modules, "nncf", None)  # `import nncf` raises ImportError
    with pytest.raises(ModelError) as caught:
        _quantize(tmp_path / "model.xml", None, 1.0, "mixed", None)
    english, korean = public_message(caught.value, "en"), public_message(caught.value, "ko")
    assert "INT8" in english and "FP32" in english and "could not be loaded" not in english
    assert HANGUL.search(korean) and "FP32" in korean
