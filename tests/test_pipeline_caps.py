"""Size and image-count caps: the ZIP never exceeds max_mb * 10^6 bytes, the Result says
which cap stopped the run and where, and a cap the output fits exactly is not a stop."""
from __future__ import annotations

import math
import zipfile

import pytest

from mediakit import BoxDetector, read_zip
from pipeline import Settings, run_to_result

FRAMES, FPS = 30, 10
BOX = [(100.0, 150.0, 160.0, 300.0)]


@pytest.fixture(scope="module")
def uncapped(excerpt, tmp_path_factory):
    """Entry sizes of an uncapped run, per format, to reason about where a cap must stop."""
    out = {}
    for fmt in ("jpg", "png"):
        path = tmp_path_factory.mktemp("uncapped") / f"all.{fmt}.zip"
        result = run_to_result(excerpt, Settings(interval=1, image_format=fmt), output=path, detector=BoxDetector(BOX))
        with zipfile.ZipFile(path) as archive:
            out[fmt] = (result, [(i.filename, i.compress_size) for i in archive.infolist()])
    return out


@pytest.mark.parametrize("fmt,max_mb", [("jpg", 0.3), ("jpg", 1.0), ("png", 2.5), ("png", 6.0)])
def test_size_cap_is_never_exceeded_and_stops_at_the_first_image_that_does_not_fit(
        excerpt, tmp_path, box_detector, uncapped, fmt, max_mb, no_stray_threads):
    full, entries = uncapped[fmt]
    assert full.zip_bytes > max_mb * 1e6, "the cap must bite for this test to mean anything"
    settings = Settings(interval=1, image_format=fmt, max_mb=max_mb)
    result = run_to_result(excerpt, settings, output=tmp_path / "capped.zip", detector=box_detector(BOX))
    size = result.zip_path.stat().st_size
    assert size <= max_mb * 1_000_000
    assert result.zip_bytes == size
    assert result.stop_reason == "size_cap" and result.stopped_early
    written = result.images_written
    assert 0 < written < FRAMES
    contents = read_zip(result.zip_path)  # a capped ZIP is still a whole, valid archive
    assert contents.frame_indices() == list(range(written))
    assert {int(r["frame"]) for r in contents.csv_rows()} == set(range(written))
    # where it stopped: the first frame whose image was not written
    assert result.stopped_at_frame == written
    assert result.stopped_at_s == pytest.approx(written / FPS)
    # and it did not stop early for nothing: the next image would not have fitted
    next_image = entries[written][1]
    assert size + next_image + 200 > max_mb * 1_000_000
    assert "size cap" in result.message and f"frame {written}" in result.message


def test_size_cap_too_small_for_any_image_gives_an_empty_but_valid_zip(excerpt, tmp_path, box_detector):
    result = run_to_result(excerpt, Settings(interval=1, max_mb=0.001), output=tmp_path / "o.zip",
                           detector=box_detector(BOX))
    assert result.zip_path.stat().st_size <= 1000
    assert result.images_written == 0 and result.stop_reason == "size_cap" and result.stopped_at_frame == 0
    assert read_zip(result.zip_path).names == ["detections.csv"]


def test_size_cap_larger_than_the_output_completes(excerpt, tmp_path, box_detector, uncapped):
    full, _ = uncapped["jpg"]
    result = run_to_result(excerpt, Settings(interval=1, max_mb=(full.zip_bytes + 2000) / 1e6),
                           output=tmp_path / "o.zip", detector=box_detector(BOX))
    assert result.stop_reason == "completed" and not result.stopped_early
    assert result.images_written == FRAMES and result.stopped_at_frame is None
    with zipfile.ZipFile(result.zip_path) as archive:  # the same entries (the report's own text differs)
        entries = [(i.filename, i.compress_size) for i in archive.infolist() if not i.filename.startswith("report.")]
    assert entries == [e for e in uncapped["jpg"][1] if not e[0].startswith("report.")]
    assert result.zip_bytes == result.zip_path.stat().st_size


@pytest.mark.parametrize("interval,max_images", [(1, 1), (2, 4), (3, 9)])
def test_image_cap_stops_after_n_images(excerpt, tmp_path, box_detector, interval, max_images, no_stray_threads):
    result = run_to_result(excerpt, Settings(interval=interval, max_images=max_images),
                           output=tmp_path / "o.zip", detector=box_detector(BOX))
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == list(range(0, max_images * interval, interval))
    assert result.images_written == max_images
    assert result.stop_reason == "image_cap" and result.stopped_early
    assert result.stopped_at_frame == max_images * interval
    assert result.stopped_at_s == pytest.approx(max_images * interval / FPS)
    assert "image count cap" in result.message


def test_image_cap_result_reports_how_many_planned_images_were_cut(excerpt, tmp_path, box_detector):
    """Progress.images_expected is documented as 'what the interval would give, before any
    cap'; after an image-cap stop the message must not claim nothing was cut."""
    result = run_to_result(excerpt, Settings(interval=2, max_images=4), output=tmp_path / "o.zip",
                           detector=box_detector(BOX))
    planned = math.ceil(FRAMES / 2)
    assert result.images_expected == planned
    assert f"{planned - 4} of {planned} planned images were not written" in result.message


@pytest.mark.parametrize("interval,max_images", [(10, 3), (1, 30), (7, 5)])
def test_image_cap_that_fits_exactly_is_completed(excerpt, tmp_path, box_detector, interval, max_images):
    assert math.ceil(FRAMES / interval) == max_images
    result = run_to_result(excerpt, Settings(interval=interval, max_images=max_images),
                           output=tmp_path / "o.zip", detector=box_detector(BOX))
    assert result.images_written == max_images
    assert result.stop_reason == "completed" and not result.stopped_early
    assert result.stopped_at_frame is None and result.message.startswith("Done:")


def test_image_cap_above_the_frame_count_completes(excerpt, tmp_path, box_detector):
    result = run_to_result(excerpt, Settings(interval=10, max_images=1000), output=tmp_path / "o.zip",
                           detector=box_detector(BOX))
    assert result.images_written == 3 and result.stop_reason == "completed"


def test_whichever_cap_comes_first_stops_the_run(excerpt, tmp_path, box_detector, uncapped):
    _, entries = uncapped["jpg"]
    room_for_about_6 = sum(size for _, size in entries[:6]) / 1e6 + 0.002
    by_images = run_to_result(excerpt, Settings(interval=1, max_images=3, max_mb=room_for_about_6),
                              output=tmp_path / "a.zip", detector=box_detector(BOX))
    assert by_images.stop_reason == "image_cap" and by_images.images_written == 3
    by_size = run_to_result(excerpt, Settings(interval=1, max_images=20, max_mb=room_for_about_6),
                            output=tmp_path / "b.zip", detector=box_detector(BOX))
    assert by_size.stop_reason == "size_cap" and 3 < by_size.images_written < 20
