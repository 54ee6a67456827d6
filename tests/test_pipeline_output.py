"""What a run writes, checked pixel by pixel against the source decoded independently:
counts, names, order, scale, both formats, detections.csv, masking inside the padded boxes
only, and CSV replay. Boxes come from an injected detector or a replayed CSV."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mediakit import (CSV_COLUMNS, IMAGE_NAME, count_frames, decode_frames, image_size, padded_boxes, read_zip,
                      shortest_inner_run, union_mask)
from pipeline import Settings, run, run_to_result
from pipeline.events import Progress, Result

W, H, FPS, FRAMES = 768, 576, 10, 30  # the excerpt
# Exact-box tests turn the temporal hold (masking a person a little before and after each
# sighting) off where the pipeline has it, so every box is exactly one the detector gave.
NO_HOLD = {"hold_s": 0.0} if "hold_s" in Settings.__dataclass_fields__ else {}

# Three people-sized boxes that do not overlap even when padded, one of them small (the
# minimum cell size matters there) and one hanging over the bottom-right edge (clipping).
BOXES = [(100.0, 150.0, 160.0, 300.0), (400.5, 200.25, 470.75, 380.0), (600.0, 100.0, 612.0, 124.0),
         (730.0, 500.0, 800.0, 620.0)]


def moving_boxes(index: int):
    """The same people drifting right 2 px per frame, so each frame has its own boxes."""
    return [(x1 + 2 * index, y1, x2 + 2 * index, y2) for x1, y1, x2, y2 in BOXES]


def test_excerpt_is_what_the_tests_assume(excerpt):
    assert count_frames(excerpt) == FRAMES
    assert image_size(cv2.imencode(".png", decode_frames(excerpt, [0])[0])[1].tobytes()) == (W, H)
    assert excerpt.stat().st_size < 1_000_000


@pytest.mark.parametrize("interval", [1, 4, 7, 30, 45])
def test_interval_gives_every_nth_frame_in_order(excerpt, tmp_path, box_detector, interval, no_stray_threads):
    detector = box_detector([])
    result = run_to_result(excerpt, Settings(interval=interval), output=tmp_path / "out.zip", detector=detector)
    expected = list(range(0, FRAMES, interval))
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == expected  # archive order is frame order
    assert contents.names[-3:] == ["detections.csv", "report.json", "report.html"]  # the report after the CSV
    assert detector.seen_indices == expected  # frames not captured are not even detected
    assert result.images_written == len(expected) == math.ceil(FRAMES / interval)
    assert result.images_expected == len(expected)
    assert result.frames_read == FRAMES
    assert result.stop_reason == "completed" and not result.stopped_early
    assert result.zip_bytes == result.zip_path.stat().st_size
    for name in contents.image_names:
        index, time_s, ext = IMAGE_NAME.match(name).groups()
        assert float(time_s) == pytest.approx(int(index) / FPS, abs=1e-3)
        assert ext == "jpg"
        assert image_size(contents.images[name]) == (W, H)
        assert contents.images[name][:3] == b"\xff\xd8\xff"  # JPEG


def test_default_output_is_next_to_the_input(excerpt, tmp_path, box_detector):
    source = tmp_path / "clip.mp4"
    source.write_bytes(excerpt.read_bytes())
    result = run_to_result(source, Settings(interval=10), detector=box_detector([]))
    assert result.zip_path == tmp_path / "clip_mosaic.zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip_mosaic.report.html",
                                                          "clip_mosaic.report.json", "clip_mosaic.zip"]


def test_progress_events_then_one_result(excerpt, tmp_path, box_detector):
    events = list(run(excerpt, Settings(interval=3), output=tmp_path / "o.zip", detector=box_detector([], delay_s=0.02)))
    assert isinstance(events[-1], Result)
    assert all(isinstance(e, Progress) for e in events[:-1])
    processing = [e for e in events[:-1] if e.stage == "processing"]
    assert processing, "no processing progress was reported"
    assert all(e.frames_total == FRAMES for e in processing)
    assert all(e.images_expected == 10 for e in processing)
    reads = [e.frames_read for e in processing]
    written = [e.images_written for e in processing]
    assert reads == sorted(reads) and written == sorted(written)  # never goes backwards
    assert all(0.0 <= e.fraction <= 1.0 for e in processing)
    assert events[-1].images_written == 10


def _check_masked_frame(out: np.ndarray, src: np.ndarray, regions, min_cell: int, style: str = "mosaic"):
    """Outside `regions` the output equals the source exactly; inside each it is masked."""
    mask = union_mask(regions, out.shape)
    assert np.array_equal(out[~mask], src[~mask]), "pixels outside the boxes changed"
    for x1, y1, x2, y2 in regions:
        got, before = out[y1:y2, x1:x2].astype(int), src[y1:y2, x1:x2].astype(int)
        changed = np.any(got != before, axis=-1).mean()
        if style == "fill":
            assert (got == 0).all(), "fill must paint the whole padded box"
            continue
        assert changed > 0.5, f"box {x1, y1, x2, y2}: only {changed:.0%} of its pixels changed"
        # the average colour survives: it is a mosaic/blur of that region, not paint
        assert np.abs(got.mean(axis=(0, 1)) - before.mean(axis=(0, 1))).max() < 20
        if style == "mosaic":
            cell = shortest_inner_run(out[y1:y2, x1:x2])
            assert cell >= min_cell, f"box {x1, y1, x2, y2}: {cell}-px cells, minimum is {min_cell}"
            assert len(np.unique(got.reshape(-1, 3), axis=0)) > 1, "a mosaic has more than one colour"


@pytest.mark.parametrize("min_cell", [4, 9])
def test_png_pixels_masked_inside_padded_boxes_and_identical_outside(excerpt, tmp_path, box_detector, min_cell):
    settings = Settings(interval=7, image_format="png", pad_pct=10.0, mosaic_cells=15, min_cell_px=min_cell, **NO_HOLD)
    result = run_to_result(excerpt, settings, output=tmp_path / "out.zip", detector=box_detector(moving_boxes))
    contents = read_zip(result.zip_path)
    captured = [0, 7, 14, 21, 28]
    assert contents.frame_indices() == captured
    sources = decode_frames(excerpt, captured)
    for index in captured:
        out = contents.image_for_frame(index)
        assert out.shape == (H, W, 3)
        regions = padded_boxes(moving_boxes(index), 10.0, W, H)
        _check_masked_frame(out, sources[index], regions, min_cell)
    assert result.people_found == len(BOXES) * len(captured)


@pytest.mark.parametrize("style", ["mosaic", "blur", "fill"])
def test_every_style_covers_the_box_and_nothing_else(excerpt, tmp_path, box_detector, style):
    settings = Settings(interval=15, image_format="png", style=style, pad_pct=25.0, **NO_HOLD)
    result = run_to_result(excerpt, settings, output=tmp_path / "out.zip", detector=box_detector(BOXES))
    contents = read_zip(result.zip_path)
    sources = decode_frames(excerpt, [0, 15])
    for index in (0, 15):
        regions = padded_boxes(BOXES, 25.0, W, H)
        _check_masked_frame(contents.image_for_frame(index), sources[index], regions, 4, style)


def test_scale_resizes_output_and_masks_the_scaled_boxes(excerpt, tmp_path, box_detector):
    settings = Settings(interval=10, scale_pct=50, image_format="png", min_cell_px=4, **NO_HOLD)
    result = run_to_result(excerpt, settings, output=tmp_path / "out.zip", detector=box_detector(BOXES))
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == [0, 10, 20]
    sources = decode_frames(excerpt, [0, 10, 20])
    for index in (0, 10, 20):
        out = contents.image_for_frame(index)
        assert out.shape == (H // 2, W // 2, 3)
        small = cv2.resize(sources[index], (W // 2, H // 2), interpolation=cv2.INTER_AREA).astype(int)
        regions = padded_boxes([[v / 2 for v in b] for b in BOXES], 10.0, W // 2, H // 2)
        mask = union_mask(regions, out.shape)
        # outside the boxes: the downscaled source picture
        assert np.abs(out[~mask].astype(int) - small[~mask]).mean() < 1.0
        for x1, y1, x2, y2 in regions:
            assert shortest_inner_run(out[y1:y2, x1:x2]) >= 4
            assert np.any(out[y1:y2, x1:x2] != small[y1:y2, x1:x2])
    # detections.csv keeps source-pixel coordinates whatever the output scale
    assert np.allclose(sorted(contents.boxes_by_frame()[0]), sorted(BOXES), atol=0.051)


@pytest.mark.parametrize("scale", [50, 75, 99, 100])
def test_output_size_follows_scale(excerpt, tmp_path, box_detector, scale):
    result = run_to_result(excerpt, Settings(interval=15, scale_pct=scale), output=tmp_path / "o.zip",
                           detector=box_detector([]))
    contents = read_zip(result.zip_path)
    assert [image_size(contents.images[n]) for n in contents.image_names] == \
        [(round(W * scale / 100), round(H * scale / 100))] * 2


def test_jpeg_is_close_to_source_and_quality_changes_size(excerpt, tmp_path, box_detector):
    sizes = {}
    for quality in (40, 95):
        result = run_to_result(excerpt, Settings(interval=10, jpeg_quality=quality),
                               output=tmp_path / f"q{quality}.zip", detector=box_detector([]))
        contents = read_zip(result.zip_path)
        sizes[quality] = sum(len(d) for d in contents.images.values())
        src = decode_frames(excerpt, [10])[10]
        psnr = cv2.PSNR(contents.image_for_frame(10), src)
        assert psnr > (28 if quality == 40 else 35)
    assert sizes[40] < sizes[95] * 0.7


def test_png_without_detections_is_the_source_frame_exactly(excerpt, tmp_path, box_detector):
    result = run_to_result(excerpt, Settings(interval=6, image_format="png"), output=tmp_path / "o.zip",
                           detector=box_detector([]))
    contents = read_zip(result.zip_path)
    assert all(n.endswith(".png") for n in contents.image_names)
    assert all(contents.images[n][:8] == b"\x89PNG\r\n\x1a\n" for n in contents.image_names)
    sources = decode_frames(excerpt)
    for index in contents.frame_indices():
        assert np.array_equal(contents.image_for_frame(index), sources[index]), f"frame {index} is not frame {index}"
    assert contents.csv_rows() == []
    assert result.people_found == 0


def test_detections_csv_lists_every_box_in_source_pixels(excerpt, tmp_path, box_detector):
    result = run_to_result(excerpt, Settings(interval=5, scale_pct=80, **NO_HOLD), output=tmp_path / "o.zip",
                           detector=box_detector(moving_boxes, score=0.4321))
    contents = read_zip(result.zip_path)
    assert contents.csv_header()[:8] == CSV_COLUMNS
    rows = contents.csv_rows()
    assert [int(r["frame"]) for r in rows] == sorted(int(r["frame"]) for r in rows)  # frame order
    expected = {i: sorted(moving_boxes(i)) for i in range(0, FRAMES, 5)}
    got: dict[int, list] = {}
    for row in rows:
        frame = int(row["frame"])
        assert float(row["time_s"]) == pytest.approx(frame / FPS, abs=1e-3)
        assert row["score"] == "0.432" and row["class"] == "0"
        got.setdefault(frame, []).append(tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
    assert sorted(got) == sorted(expected)
    for frame, boxes in expected.items():
        assert np.allclose(sorted(got[frame]), boxes, atol=0.051), f"frame {frame}: {got[frame]} != {boxes}"
    assert result.people_found == len(rows) == len(BOXES) * 6


def test_replaying_a_runs_csv_reproduces_its_images(excerpt, tmp_path, box_detector):
    # like a real detector, never a box wholly outside the frame (a replay refuses those rows)
    inside = lambda i: [b for b in moving_boxes(i) if b[0] < W]  # noqa: E731
    first = run_to_result(excerpt, Settings(interval=4, image_format="png"), output=tmp_path / "a.zip",
                          detector=box_detector(inside))
    csv_path = tmp_path / "detections.csv"
    csv_path.write_text(read_zip(first.zip_path).csv_text, encoding="utf-8")
    second = run_to_result(excerpt, Settings(interval=4, image_format="png", detections_csv=csv_path),
                           output=tmp_path / "b.zip")
    a, b = read_zip(first.zip_path), read_zip(second.zip_path)
    assert a.image_names == b.image_names
    for name in a.image_names:
        assert np.array_equal(a.decoded(name), b.decoded(name)), name
    assert a.csv_text == b.csv_text
    assert second.people_found == first.people_found >= len(BOXES) * 8


def test_images_are_masked_exactly_where_detections_csv_says(excerpt, tmp_path, box_detector):
    """Default settings (temporal hold included, where the pipeline has it): each image is
    masked in the padded boxes detections.csv lists for its frame and nowhere else, and the
    CSV has every box the detector gave."""
    boxes = lambda i: BOXES[:2] if i % 6 else BOXES[:3]  # noqa: E731 - the small one comes and goes
    result = run_to_result(excerpt, Settings(interval=3, image_format="png"), output=tmp_path / "o.zip",
                           detector=box_detector(boxes))
    contents = read_zip(result.zip_path)
    listed = contents.boxes_by_frame()
    sources = decode_frames(excerpt)
    for index in contents.frame_indices():
        for box in boxes(index):
            assert any(np.allclose(box, row, atol=0.051) for row in listed[index]), \
                f"frame {index}: detected box {box} is missing from the CSV"
        regions = padded_boxes(listed[index], 10.0, W, H)
        _check_masked_frame(contents.image_for_frame(index), sources[index], regions, 4)
    assert result.people_found == len(contents.csv_rows())


def test_hand_written_csv_masks_only_its_frames(excerpt, tmp_path):
    """A user adds a missed person by hand: only frame,x1,y1,x2,y2 columns, one frame."""
    csv_path = tmp_path / "fix.csv"
    csv_path.write_text("frame,x1,y1,x2,y2\n10,200,150,260,330\n10,500,50,540,130\n", encoding="utf-8")
    settings = Settings(interval=5, image_format="png", detections_csv=csv_path, pad_pct=0, **NO_HOLD)
    result = run_to_result(excerpt, settings, output=tmp_path / "o.zip")
    contents = read_zip(result.zip_path)
    sources = decode_frames(excerpt)
    for index in contents.frame_indices():
        out = contents.image_for_frame(index)
        if index == 10:
            _check_masked_frame(out, sources[index], [(200, 150, 260, 330), (500, 50, 540, 130)], 4)
        else:
            assert np.array_equal(out, sources[index]), f"frame {index} has no boxes but changed"
    assert result.people_found == 2


def test_fractional_frame_rate_with_audio_megamind(samples_dir, tmp_path, box_detector):
    """Megamind.avi: 23.976 fps and an AC-3 audio track; 270 frames at interval 30 give 9
    images whose names carry index / 23.976 s, and the audio does not disturb the count."""
    source = samples_dir / "Megamind.avi"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    result = run_to_result(source, Settings(interval=30), output=tmp_path / "o.zip", detector=box_detector([]))
    assert result.video.has_audio and result.video.fps == pytest.approx(24000 / 1001, rel=1e-3)
    assert (result.video.width, result.video.height) == (720, 528)
    assert result.frames_read == 270 and result.images_written == 9
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == list(range(0, 270, 30))
    for name in contents.image_names:
        index, time_s, _ = IMAGE_NAME.match(name).groups()
        assert float(time_s) == pytest.approx(int(index) * 1001 / 24000, abs=2e-3)
        assert image_size(contents.images[name]) == (720, 528)
