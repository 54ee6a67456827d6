"""The Review panel: after a run, one card per tracked person with a "leave unmasked" tick,
a frame slider showing each reviewed frame as it will be rendered, boxes drawn by clicking
two corners, and Render, which replays the edited detections without the model.

State lives in a small dict per browser session (gr.State): which run is reviewed, the
unmasked tracks, the drawn boxes and a pending first corner. The Review objects (frame
cache, crops) are kept here, a few at a time, keyed by the run's detections file.
"""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from pipeline.review import DrawnBox, Edits, Review

MAX_OPEN_REVIEWS = 4
NEW_TRACK = "new person"

_reviews: collections.OrderedDict[str, Review] = collections.OrderedDict()
_reviews_lock = threading.Lock()


@dataclass(frozen=True)
class ReviewSource:
    """What a finished run leaves for a review: its video, its detections.csv, and which
    frames were detected (every `step`-th)."""

    video: str
    detections_csv: str
    step: int


def new_state(source: ReviewSource | None) -> dict | None:
    if source is None:
        return None
    return {"video": source.video, "csv": source.detections_csv, "step": source.step,
            "unmask": [], "drawn": [], "corner": None}


def review_for(state: dict) -> Review:
    key = state["csv"]
    with _reviews_lock:
        review = _reviews.get(key)
        if review is None:
            review = Review(state["video"], state["csv"], state["step"])
            _reviews[key] = review
            while len(_reviews) > MAX_OPEN_REVIEWS:
                _reviews.popitem(last=False)
        _reviews.move_to_end(key)
        return review


def forget(csv_path: str) -> None:
    with _reviews_lock:
        _reviews.pop(csv_path, None)


def edits_of(state: dict) -> Edits:
    return Edits(unmask=set(state["unmask"]),
                 drawn=[DrawnBox(int(f), tuple(b), int(t)) for f, b, t in state["drawn"]])


def _frame_at(review: Review, position) -> int:
    position = int(position or 0)
    return review.frames[max(0, min(position, len(review.frames) - 1))]


def _drawn_choices(state: dict) -> list[tuple[str, int]]:
    return [(f"#{t} on frame {f}: {', '.join(str(round(v)) for v in b)}", i)
            for i, (f, b, t) in enumerate(state["drawn"])]


def _track_choices(review: Review, state: dict) -> list:
    ids = sorted(review.track_ids() | {t for _, _, t in state["drawn"]})
    return [NEW_TRACK, *[f"#{i}" for i in ids]]


def _frame_label(review: Review, frame: int) -> str:
    return f"Frame {frame} (t={review.time_of(frame):.2f} s) of {review.frames[-1]}"


def open_panel(state: dict | None):
    """(panel, cards, unmask, slider, image, track, drawn, note) for a newly finished run."""
    if state is None:
        return (gr.update(visible=False),) + (gr.skip(),) * 7
    review = review_for(state)
    tracks = review.tracks()
    cards = [(review.crop(t.track_id), f"#{t.track_id} · {t.first_s:.1f}-{t.last_s:.1f} s") for t in tracks]
    unmask_choices = [(f"#{t.track_id} ({t.first_s:.1f}-{t.last_s:.1f} s)", t.track_id) for t in tracks]
    first = review.frames[0]
    note = (f"{len(tracks)} people tracked over {len(review.frames)} reviewed frames. Tick anyone who "
            "must stay visible; click two corners on the frame to cover someone the detector missed.")
    if not tracks:
        note = "Nobody was detected. Check the frames below and draw a box over anyone who must be hidden."
    return (
        gr.update(visible=True),
        cards,
        gr.update(choices=unmask_choices, value=[]),
        gr.update(minimum=0, maximum=max(len(review.frames) - 1, 0), value=0, step=1, label=_frame_label(review, first)),
        review.preview(first, edits_of(state)),
        gr.update(choices=_track_choices(review, state), value=NEW_TRACK),
        gr.update(choices=[], value=None),
        note,
    )


def show_frame(position, state: dict | None):
    """(image, slider label) for the slider position."""
    if state is None:
        return gr.skip(), gr.skip()
    review = review_for(state)
    frame = _frame_at(review, position)
    return review.preview(frame, edits_of(state)), gr.update(label=_frame_label(review, frame))


def set_unmasked(chosen, position, state: dict | None):
    if state is None:
        return gr.skip(), state
    state = dict(state, unmask=sorted(int(c) for c in (chosen or [])))
    review = review_for(state)
    return review.preview(_frame_at(review, position), edits_of(state)), state


def click(position, track_choice, state: dict | None, evt: gr.SelectData):
    """A click on the frame: the first sets a corner, the second draws the box.
    Returns (image, state, track dropdown, drawn dropdown, note)."""
    if state is None:
        return gr.skip(), state, gr.skip(), gr.skip(), gr.skip()
    review = review_for(state)
    frame = _frame_at(review, position)
    x, y = (float(v) for v in evt.index[:2])
    corner = state.get("corner")
    if corner is None or corner[0] != frame:
        state = dict(state, corner=[frame, x, y])
        return gr.skip(), state, gr.skip(), gr.skip(), f"First corner at ({x:.0f}, {y:.0f}) on frame {frame}: click the opposite corner."
    _, cx, cy = corner
    box = (min(cx, x), min(cy, y), max(cx, x), max(cy, y))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return gr.skip(), dict(state, corner=None), gr.skip(), gr.skip(), "That box is too small; click two corners further apart."
    if track_choice and track_choice != NEW_TRACK:
        track = int(str(track_choice).lstrip("#"))
    else:
        track = review.next_track_id(edits_of(state))
    state = dict(state, corner=None, drawn=[*state["drawn"], [frame, list(box), track]])
    note = f"Drew a box for #{track} on frame {frame}."
    same = [f for f, _, t in state["drawn"] if t == track and f != frame]
    if same:
        note += f" It is interpolated from frame {min(same + [frame])} to {max(same + [frame])}."
    return (review.preview(frame, edits_of(state)), state,
            gr.update(choices=_track_choices(review, state), value=f"#{track}"),
            gr.update(choices=_drawn_choices(state), value=None), note)


def delete_drawn(choice, position, state: dict | None):
    """(image, state, drawn dropdown, note) after deleting the chosen drawn box."""
    if state is None or choice is None:
        return gr.skip(), state, gr.skip(), "Choose a drawn box to delete."
    drawn = [d for i, d in enumerate(state["drawn"]) if i != int(choice)]
    state = dict(state, drawn=drawn)
    review = review_for(state)
    return (review.preview(_frame_at(review, position), edits_of(state)), state,
            gr.update(choices=_drawn_choices(state), value=None), "Deleted the drawn box.")


def edited_csv(state: dict, folder: Path) -> tuple[Path, tuple[int, ...]]:
    """Write the edited detections.csv into `folder`; returns it and the unmasked ids."""
    review = review_for(state)
    path = review.write_csv(edits_of(state), Path(folder) / "detections_edited.csv")
    return path, tuple(sorted(state["unmask"]))
