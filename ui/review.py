"""The Review panel: after a run, one card per tracked person with a "leave unmasked" tick,
a frame slider showing each reviewed frame as it will be rendered, boxes drawn by clicking
two corners, and Render, which replays the edited detections without the model.

State lives in a small dict per browser session (gr.State): which run is reviewed, the
unmasked tracks, the drawn boxes and a pending first corner. The Review objects (frame
cache, crops) are kept here, a few at a time, keyed by the run's detections file.
"""
from __future__ import annotations

import collections
import shutil
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from pipeline.identity.cards import PersonCard, person_cards, track_ids_of
from pipeline.mask.maskers import MaskStyle
from pipeline.review import DrawnBox, Edits, Review

from .i18n import DEFAULT_LANGUAGE, i18n, language, tr

MAX_OPEN_REVIEWS = 4
NEW_TRACK = "new person"  # the track dropdown's value for "a new person"; its label is translated

_reviews: collections.OrderedDict[str, Review] = collections.OrderedDict()
_reviews_lock = threading.Lock()


@dataclass(frozen=True)
class ReviewSource:
    """What a finished run leaves for a review: its video, its detections.csv, and which
    frames were detected (every `step`-th)."""

    video: str
    detections_csv: str
    step: int
    style: MaskStyle | None = None  # the run's mask style: the preview covers as the run did


review_sources: dict[str, ReviewSource] = {}  # per browser session: its last finished job, set by handlers


def review_source(video: Path, zip_path: Path, folder: Path, step: int,
                  style: MaskStyle | None = None) -> ReviewSource | None:
    """The review's inputs from a finished run: its detections.csv taken out of the ZIP."""
    target = Path(folder) / "detections.csv"
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open("detections.csv") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    return ReviewSource(str(video), str(target), int(step), style)


def new_state(source: ReviewSource | None) -> dict | None:
    if source is None:
        return None
    return {"video": source.video, "csv": source.detections_csv, "step": source.step, "style": source.style,
            "unmask": [], "drawn": [], "corner": None}


def review_for(state: dict) -> Review:
    key = state["csv"]
    with _reviews_lock:
        review = _reviews.get(key)
        if review is None:
            review = Review(state["video"], state["csv"], state["step"], style=state.get("style"))
            _reviews[key] = review
            while len(_reviews) > MAX_OPEN_REVIEWS:
                _reviews.popitem(last=False)
        _reviews.move_to_end(key)
        return review


def edits_of(state: dict) -> Edits:
    return Edits(unmask=set(state["unmask"]),
                 drawn=[DrawnBox(int(f), tuple(b), int(t)) for f, b, t in state["drawn"]])


def _frame_at(review: Review, position) -> int:
    position = int(position or 0)
    return review.frames[max(0, min(position, len(review.frames) - 1))]


def _drawn_choices(state: dict, lang: str = DEFAULT_LANGUAGE) -> list[tuple[str, int]]:
    return [(tr("review.drawn_choice", lang, track=t, frame=f, box=", ".join(str(round(v)) for v in b)), i)
            for i, (f, b, t) in enumerate(state["drawn"])]


def _track_choices(review: Review, state: dict, lang: str = DEFAULT_LANGUAGE) -> list:
    ids = sorted(review.track_ids() | {t for _, _, t in state["drawn"]})
    return [(tr("review.new_person", lang), NEW_TRACK), *[f"#{i}" for i in ids]]


def _frame_label(review: Review, frame: int, lang: str = DEFAULT_LANGUAGE) -> str:
    return tr("review.frame_label", lang, frame=frame, time_s=review.time_of(frame), last=review.frames[-1])


def open_for_session(request: gr.Request | None = None):
    """After a job: (review state, *open_panel outputs) for this browser session's last
    finished job, or a hidden panel when it left nothing to review."""
    session = getattr(request, "session_hash", None)
    state = new_state(review_sources.get(session)) if session else None
    try:
        return (state, *open_panel(state, language(request)))
    except Exception:  # noqa: BLE001 - a review that cannot open must not break the finished job
        return (None, gr.update(visible=False)) + (gr.skip(),) * 7


def build_panel(d) -> dict:
    """The Review panel's components (hidden until a job finished), by name."""
    c = {}
    with gr.Group(visible=False, elem_id="review") as c["panel"]:
        gr.Markdown(i18n("review.title"), elem_id="review-title")
        c["note"] = gr.Markdown("", elem_id="review-note")
        c["cards"] = gr.Gallery(label=i18n("review.cards"), columns=6, height=170,
                                allow_preview=False, elem_id="review-cards")
        c["unmask"] = gr.CheckboxGroup([], label=i18n("review.unmask"),
                                       elem_id="review-unmask")
        c["reason"] = gr.Textbox(label=i18n("review.reason"), value="", max_length=500, elem_id="review-reason")
        c["slider"] = gr.Slider(0, 1, value=0, step=1, label=i18n("review.frame"), elem_id="review-frame")
        c["image"] = gr.Image(label=i18n("review.image"),
                              interactive=False, type="numpy", elem_id="review-image")
        with gr.Row():
            c["track"] = gr.Dropdown([(i18n("review.new_person"), NEW_TRACK)], value=NEW_TRACK,
                                     label=i18n("review.track"), elem_id="review-track")
            c["drawn"] = gr.Dropdown([], value=None, label=i18n("review.drawn"), elem_id="review-drawn")
            c["delete"] = gr.Button(i18n("review.delete"), elem_id="review-delete", size="sm")
        c["render"] = gr.Button(i18n("review.render"), variant="primary", elem_id="render-button")
        c["csv"] = gr.File(label=i18n("review.csv"), interactive=False, elem_id="review-csv")
    c["state"] = gr.State(None)
    return c


def wire_panel(c: dict, private: dict) -> None:
    """The panel's own events (all quick, unqueued)."""
    c["slider"].change(show_frame, [c["slider"], c["state"]], [c["image"], c["slider"]], queue=False, **private)
    c["unmask"].change(set_unmasked, [c["unmask"], c["slider"], c["state"]], [c["image"], c["state"]],
                       queue=False, **private)
    c["image"].select(click, [c["slider"], c["track"], c["state"]],
                      [c["image"], c["state"], c["track"], c["drawn"], c["note"]], queue=False, **private)
    c["delete"].click(delete_drawn, [c["drawn"], c["slider"], c["state"]],
                      [c["image"], c["state"], c["drawn"], c["note"]], queue=False, **private)


def panel_outputs(c: dict) -> list:
    """What open_for_session fills, in its order."""
    return [c["state"], c["panel"], c["cards"], c["unmask"], c["slider"], c["image"], c["track"], c["drawn"], c["note"]]


def edited_file(state: dict | None):
    """The edited detections.csv offered on its own (written when Render starts)."""
    if not state:
        return None
    path = Path(state["csv"]).parent / "detections_edited.csv"
    return str(path) if path.exists() else None


def open_panel(state: dict | None, lang: str = DEFAULT_LANGUAGE):
    """(panel, cards, unmask, slider, image, track, drawn, note) for a newly finished run."""
    if state is None:
        return (gr.update(visible=False),) + (gr.skip(),) * 7
    review = review_for(state)
    tracks = review.tracks()
    people = person_cards(tracks, review.person_of)  # one card per person, however many tracks
    labels = [_card_label(card, lang) for card in people]
    cards = [(review.crop(card.best_track), label) for card, label in zip(people, labels)]
    unmask_choices = [(label, card.value) for card, label in zip(people, labels)]
    first = review.frames[0]
    note = tr("review.note", lang, tracks=len(people), frames=len(review.frames))
    if not tracks:
        note = tr("review.note_nobody", lang)
    return (
        gr.update(visible=True),
        cards,
        gr.update(choices=unmask_choices, value=[]),
        gr.update(minimum=0, maximum=max(len(review.frames) - 1, 0), value=0, step=1,
                  label=_frame_label(review, first, lang)),
        review.preview(first, edits_of(state)),
        gr.update(choices=_track_choices(review, state, lang), value=NEW_TRACK),
        gr.update(choices=[], value=None),
        note,
    )


def show_frame(position, state: dict | None, request: gr.Request | None = None):
    """(image, slider label) for the slider position."""
    if state is None:
        return gr.skip(), gr.skip()
    review = review_for(state)
    frame = _frame_at(review, position)
    return review.preview(frame, edits_of(state)), gr.update(label=_frame_label(review, frame, language(request)))


def _card_label(card: PersonCard, lang: str) -> str:
    """'Person 3 · seen 2× · 0.0-1.5 s, 3.1-4.2 s', or '#7 · 0.0-1.5 s' for a track alone."""
    if not card.person:
        return f"#{card.track_ids[0]} · {card.spans_text()}"
    return tr("review.person", lang, person=card.person, count=len(card.spans), spans=card.spans_text())


def set_unmasked(chosen, position, state: dict | None):
    if state is None:
        return gr.skip(), state
    state = dict(state, unmask=track_ids_of(chosen))  # a card's value is all its track ids
    review = review_for(state)
    return review.preview(_frame_at(review, position), edits_of(state)), state


def click(position, track_choice, state: dict | None, evt: gr.SelectData, request: gr.Request | None = None):
    """A click on the frame: the first sets a corner, the second draws the box.
    Returns (image, state, track dropdown, drawn dropdown, note)."""
    lang = language(request)
    if state is None:
        return gr.skip(), state, gr.skip(), gr.skip(), gr.skip()
    review = review_for(state)
    frame = _frame_at(review, position)
    x, y = (float(v) for v in evt.index[:2])
    corner = state.get("corner")
    if corner is None or corner[0] != frame:
        state = dict(state, corner=[frame, x, y])
        return gr.skip(), state, gr.skip(), gr.skip(), tr("review.first_corner", lang, x=x, y=y, frame=frame)
    _, cx, cy = corner
    box = (min(cx, x), min(cy, y), max(cx, x), max(cy, y))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return gr.skip(), dict(state, corner=None), gr.skip(), gr.skip(), tr("review.too_small", lang)
    if track_choice and track_choice != NEW_TRACK:
        track = int(str(track_choice).lstrip("#"))
    else:
        track = review.next_track_id(edits_of(state))
    state = dict(state, corner=None, drawn=[*state["drawn"], [frame, list(box), track]])
    note = tr("review.drew", lang, track=track, frame=frame)
    same = [f for f, _, t in state["drawn"] if t == track and f != frame]
    if same:
        note += " " + tr("review.interpolated", lang, first=min(same + [frame]), last=max(same + [frame]))
    return (review.preview(frame, edits_of(state)), state,
            gr.update(choices=_track_choices(review, state, lang), value=f"#{track}"),
            gr.update(choices=_drawn_choices(state, lang), value=None), note)


def delete_drawn(choice, position, state: dict | None, request: gr.Request | None = None):
    """(image, state, drawn dropdown, note) after deleting the chosen drawn box."""
    lang = language(request)
    if state is None or choice is None:
        return gr.skip(), state, gr.skip(), tr("review.choose_to_delete", lang)
    drawn = [d for i, d in enumerate(state["drawn"]) if i != int(choice)]
    state = dict(state, drawn=drawn)
    review = review_for(state)
    return (review.preview(_frame_at(review, position), edits_of(state)), state,
            gr.update(choices=_drawn_choices(state, lang), value=None), tr("review.deleted", lang))


def edited_csv(state: dict, folder: Path) -> tuple[Path, tuple[int, ...]]:
    """Write the edited detections.csv into `folder`; returns it and the unmasked ids."""
    review = review_for(state)
    path = review.write_csv(edits_of(state), Path(folder) / "detections_edited.csv")
    return path, tuple(sorted(state["unmask"]))
