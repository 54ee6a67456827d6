"""The review loop on the page's handlers, with a real detector: the face sample (real
faces, CenterFace) is detected only, reviewed (one person left unmasked, one box drawn on
frames 10 and 30), rendered without the model, and the ZIP checked pixel by pixel."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mediakit import decode_frames, padded_box, read_zip  # noqa: E402
from pipeline.identity.cards import person_cards  # noqa: E402
from ui import handlers, sources  # noqa: E402
from ui import review as review_ui  # noqa: E402

SESSION = SimpleNamespace(session_hash="review-tab")
ZIP, SUMMARY = 3, 4
DRAWN = (20.0, 380.0, 120.0, 500.0)  # drawn on frame 10
SHIFTED = (60.0, 380.0, 160.0, 500.0)  # and on frame 30


class Click:
    def __init__(self, x, y):
        self.index = [x, y]


@pytest.fixture(autouse=True)
def isolated_results(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "RESULTS_ROOT", tmp_path / "results")


def run_to_end(events):
    outputs = list(events)
    return outputs[-1]


def test_detect_review_render_without_the_model(tmp_path, monkeypatch):
    upload_dir = tmp_path / "gradio" / "abc123"
    upload_dir.mkdir(parents=True)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    upload = upload_dir / "faces.mp4"  # a user's upload (bytes differ from the sample: re-muxed name)
    shutil.copy(sources.FACES_SAMPLE, upload)
    with open(upload, "ab") as handle:
        handle.write(b"\0" * 16)  # trailing bytes: not the sample's copy, still a playable MP4

    last = run_to_end(handlers.start_job(str(upload), "", interval=10, image_format="png", target="face",
                                         detect_only=True, request=SESSION))
    assert "Detection done" in last[SUMMARY]
    assert not upload.exists(), "the upload leaves Gradio's cache when its job ends"
    state, panel, cards, unmask, slider, image, track, drawn, note = review_ui.open_for_session(SESSION)
    assert panel["visible"] and state is not None and Path(state["video"]).parent == Path(state["csv"]).parent
    review = review_ui.review_for(state)
    tracks = review.tracks()
    assert len(tracks) >= 2 and len(cards) == len(person_cards(tracks, review.person_of))
    assert review.frames == list(range(0, review.frames[-1] + 1, 10))

    kept = max(tracks, key=lambda t: t.last_frame - t.first_frame)  # leave this face visible
    image, state = review_ui.set_unmasked([kept.track_id], 0, state)

    def draw(position, track_choice, box):
        x1, y1, x2, y2 = box
        _, after_first, *_ = review_ui.click(position, track_choice, state, Click(x1, y1))
        return review_ui.click(position, track_choice, after_first, Click(x2, y2))[1]

    state = draw(1, review_ui.NEW_TRACK, DRAWN)  # frame 10
    new_id = state["drawn"][0][2]
    assert new_id not in review.track_ids()
    state = draw(3, f"#{new_id}", SHIFTED)  # frame 30, the same person 40 px to the right
    assert [d[0] for d in state["drawn"]] == [10, 30] and state["drawn"][1][2] == new_id

    import pipeline.models

    def no_model(*a, **k):
        raise AssertionError("Render must not load a model")

    monkeypatch.setattr(pipeline.models, "load_detector", no_model)  # what runner.run imports
    last = run_to_end(handlers.render_job(state, 1, 100, False, 500, False, 1000, "png", 90, "fill", 15, 10, 0.2,
                                          "", 0.5, "face", "box", False, request=SESSION))
    contents = read_zip(Path(last[ZIP]["value"]))
    assert len(contents.image_names) == review.info.frame_count
    for index in (12, 20, 25):  # between the drawn frames 10 and 30: the linear path is covered
        t = (index - 10) / 20
        box = (DRAWN[0] + 40 * t, DRAWN[1], DRAWN[2] + 40 * t, DRAWN[3])
        x1, y1, x2, y2 = padded_box(box, 10.0, 960, 540)
        got = contents.image_for_frame(index)
        assert (got[y1 + 1:y2 - 1, x1 + 1:x2 - 1] == 0).all(), f"drawn box not covered on frame {index}"
    rows = contents.csv_rows()
    assert rows and not any(int(r["track_id"] or 0) == kept.track_id for r in rows), "the unmasked face was covered"
    found = review.by_frame[kept.best_frame]
    x1, y1, x2, y2 = (int(round(v)) for v in found.xyxy[found.track_id.tolist().index(kept.track_id)])
    source = decode_frames(Path(state["video"]), [kept.best_frame])[kept.best_frame]
    inner = (slice(y1 + 2, y2 - 2), slice(x1 + 2, x2 - 2))
    assert np.array_equal(contents.image_for_frame(kept.best_frame)[inner], source[inner]), \
        "the unmasked face must equal the source"
    assert review_ui.edited_file(state) is not None
