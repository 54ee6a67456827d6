"""The review backend (pipeline/review.py): track cards, frames as they will be rendered,
and the edited detections.csv it writes back, checked against the real excerpt."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from mediakit import decode_frames, padded_box
from pipeline import Settings, run_to_result
from pipeline.review import DrawnBox, Edits, Review, manual_boxes_at

WALKER = lambda i: [100 + 5 * i, 100, 200 + 5 * i, 300]  # noqa: E731  moves right 5 px a frame
STILL = [500, 200, 560, 330]


@pytest.fixture(scope="module")
def reviewed(excerpt, tmp_path_factory):
    from mediakit import BoxDetector

    tmp = tmp_path_factory.mktemp("review")
    detector = BoxDetector(lambda i: [WALKER(i), STILL])
    result = run_to_result(excerpt, Settings(interval=1, image_format="png", hold_s=0), output=tmp / "a.zip",
                           detector=detector)
    with zipfile.ZipFile(result.zip_path) as archive:
        archive.extract("detections.csv", tmp)
    return Review(excerpt, tmp / "detections.csv", step=1), tmp


def test_tracks_are_summarized_with_their_largest_box(reviewed):
    review, _ = reviewed
    tracks = {t.track_id: t for t in review.tracks()}
    assert len(tracks) == 2
    walker = next(t for t in tracks.values() if t.best_box[0] != STILL[0])
    assert (walker.first_frame, walker.last_frame, walker.boxes) == (0, 29, 30)
    assert walker.last_s == pytest.approx(2.9, abs=0.01)
    crop = review.crop(walker.track_id)
    assert crop.shape[2] == 3 and max(crop.shape[:2]) == 96


def test_preview_covers_all_but_unmasked_tracks(reviewed, excerpt):
    review, _ = reviewed
    still = next(t.track_id for t in review.tracks() if t.best_box[0] == STILL[0])
    source = decode_frames(excerpt, [12])[12][:, :, ::-1]  # RGB
    shown = review.preview(12, Edits(unmask={still}))
    height, width = source.shape[:2]
    x1, y1, x2, y2 = STILL
    inner = (slice(y1 + 2, y2 - 2), slice(x1 + 2, x2 - 2))  # inside its thin outline
    assert np.array_equal(shown[inner], source[inner]), "an unmasked track must stay as the source"
    wx1, wy1, wx2, wy2 = padded_box(WALKER(12), 10.0, width, height)
    walker = (slice(wy1 + 4, wy2 - 4), slice(wx1 + 4, wx2 - 4))
    assert not np.array_equal(shown[walker], source[walker]), "a masked track must be covered"
    far = (slice(450, 570), slice(0, 90))  # nobody there
    assert np.array_equal(shown[far], source[far])


def test_drawn_boxes_interpolate_between_their_frames():
    drawn = [DrawnBox(10, (0, 0, 10, 10), 7), DrawnBox(30, (100, 0, 110, 10), 7)]
    at_20 = manual_boxes_at(drawn, 20)
    assert at_20.xyxy.tolist() == [[50, 0, 60, 10]] and at_20.kind.tolist() == ["manual"]
    assert len(manual_boxes_at(drawn, 31)) == 0 and len(manual_boxes_at(drawn, 9)) == 0


def test_edited_csv_replays_with_drawn_boxes_and_track_ids(reviewed, excerpt):
    review, tmp = reviewed
    new_id = review.next_track_id(Edits())
    assert new_id == max(review.track_ids()) + 1
    edits = Edits(drawn=[DrawnBox(5, (10, 400, 60, 470), new_id)])
    edited = review.write_csv(edits, tmp / "edited.csv")
    again = Review(excerpt, edited, step=1)
    assert again.track_ids() == review.track_ids() | {new_id}
    assert again.detections_at(5).kind.tolist().count("manual") == 1


def test_detect_only_writes_boxes_and_no_images(excerpt, tmp_path):
    from mediakit import BoxDetector, read_zip

    detector = BoxDetector([STILL])
    result = run_to_result(excerpt, Settings(interval=5), output=tmp_path / "d.zip", detector=detector,
                           detect_only=True)
    contents = read_zip(result.zip_path)
    assert contents.image_names == [] and result.images_written == 0
    assert sorted(contents.boxes_by_frame()) == [0, 5, 10, 15, 20, 25]
    assert detector.seen_indices == [0, 5, 10, 15, 20, 25]
    assert result.people_found == 6 and not result.warnings


def test_a_face_runs_review_preview_covers_what_its_render_covers(tmp_path):
    """The page's review of a face run previews with the run's own mask style (faces grow
    into the head before the padding): every pixel the render covered is covered in the
    preview too, not only the face box padded by --pad (the default style's)."""
    from pathlib import Path

    from mediakit import read_zip
    from ui.jobs import keep_for_review
    from ui.review import new_state, review_for

    clip = Path(__file__).resolve().parents[1] / "ui" / "assets" / "faces_clip.mp4"
    settings = Settings(target="face", device="cpu", interval=20, image_format="png", hold_s=0)
    result = run_to_result(clip, settings, output=tmp_path / "o.zip")
    review = review_for(new_state(keep_for_review(str(clip), result, settings, make_video=False)))
    contents = read_zip(result.zip_path)
    checked = 0
    for index in contents.frame_indices():
        source = review.frame(index)
        rendered = contents.image_for_frame(index)
        preview = review.preview(index)[:, :, ::-1]  # RGB -> BGR
        covered = np.abs(rendered.astype(int) - source).max(axis=2) > 0
        shown = np.abs(preview.astype(int) - source).max(axis=2) > 0
        if covered.sum() < 500:
            continue
        checked += 1
        missed = covered & ~shown
        assert missed.sum() <= 0.01 * covered.sum(), f"frame {index}: {missed.sum()} of {covered.sum()} covered px"
    assert checked >= 3
