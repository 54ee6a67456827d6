"""The silhouette and head targets: the yaml networks (untrained: they find no one) run end
to end on both CPU backends; the parts that need people found are tested with injected
outputs: a detector that returns known outlines (the renderer), synthetic network outputs
behind a fake engine (mask and keypoint post-processing, letterbox undone), and the head
geometry called directly. A model that does not fit its target fails before any frame."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from mediakit import decode_frames, padded_box, read_zip

from pipeline import ModelError, Settings, run, run_to_result
from pipeline.detect.detector import Detections
from pipeline.events import Progress
from pipeline.models import load_detector
from pipeline.models.letterbox import Geometry
from pipeline.models.network import ModelInfo, ModelKey, Network
from pipeline.models.pose import head_boxes
from pipeline.models.yolo import YoloDetector

YAML_MODELS = {"person": "yolo11n.yaml", "silhouette": "yolo11n-seg.yaml", "head": "yolo11n-pose.yaml"}
SOURCE_HW = (400, 768)  # letterboxed into 352x640 at imgsz 640: 9 grey rows above, the picture 640x333
GAIN_X, GAIN_Y, TOP = 640 / 768, 333 / 400, 9  # network pixels per source pixel (each side rounds)


# -- the yaml networks, end to end -----------------------------------------------------------
@pytest.mark.parametrize("backend", ["torch", "openvino"])
@pytest.mark.parametrize("target", ["silhouette", "head"])
def test_yaml_network_runs_end_to_end(target, backend, excerpt, tmp_path, monkeypatch):
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11n.yaml")  # the target's default becomes its yaml network
    settings = Settings(target=target, device="cpu", backend=backend, interval=10, image_format="png")
    assert settings.model == YAML_MODELS[target]
    detector = load_detector(settings)
    assert detector.backend == backend and detector.network.info.task == {"silhouette": "segment",
                                                                            "head": "pose"}[target]
    assert load_detector(settings.replace(conf=0.5)).network is detector.network  # one network, two views

    result = run_to_result(excerpt, settings, output=tmp_path / "o.zip", work_dir=tmp_path)
    assert result.stop_reason == "completed" and result.frames_read == 30 and result.images_written == 3
    assert result.people_found == 0  # untrained network at conf 0.2
    contents = read_zip(result.zip_path)
    sources = decode_frames(excerpt, [0, 10, 20])
    for index in (0, 10, 20):
        assert np.array_equal(contents.image_for_frame(index), sources[index])


@pytest.mark.parametrize("target", ["silhouette", "head"])
def test_openvino_gives_the_torch_outputs_and_detections(target, excerpt):
    """Every output (a segmentation model's prototypes too) comes through the OpenVINO
    engine as torch gives it; at a near-zero threshold even the untrained network returns
    people, and both backends decode them alike (masks: empty, so boxes; heads: boxes)."""
    frames = list(decode_frames(excerpt, [0, 5]).values())
    settings = Settings(target=target, model=YAML_MODELS[target], device="cpu", conf=1e-4)
    on = {b: load_detector(settings.replace(backend=b)) for b in ("torch", "openvino")}
    geometry = on["torch"].geometry(frames[0].shape[:2])
    with on["torch"].network.lock, on["openvino"].network.lock:
        raw = {b: d.network.infer(frames, geometry) for b, d in on.items()}
    assert len(raw["torch"]) == len(raw["openvino"]) == (2 if target == "silhouette" else 1)
    for a, b in zip(raw["torch"], raw["openvino"]):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-4 * float(a.abs().max()))
    found = {b: d.detect(frames, [0, 5]) for b, d in on.items()}
    for a, b in zip(found["torch"], found["openvino"]):
        assert len(a) == len(b) > 0 and np.allclose(a.xyxy, b.xyxy, atol=0.1)
        assert [o is None for o in a.outlines] == [o is None for o in b.outlines]
        assert (a.xyxy[:, 2] >= a.xyxy[:, 0]).all() and (a.xyxy[:, 3] >= a.xyxy[:, 1]).all()


def test_views_share_the_network_but_not_their_options(yolo_settings):
    first = load_detector(yolo_settings)
    second = load_detector(yolo_settings.replace(conf=0.6, classes=(0, 2)))
    assert first.network is second.network and first._yolo is second._yolo
    assert (first.conf, first.classes) == (yolo_settings.conf, [0])
    assert (second.conf, second.classes) == (0.6, [0, 2])
    third = first.with_options([1], 0.3)
    assert third.network is first.network and (first.conf, first.classes) == (yolo_settings.conf, [0])


# -- a model that does not fit the target --------------------------------------------------
@pytest.mark.parametrize("target, model, needs", [
    ("silhouette", "yolo11n.yaml", "segment"),
    ("head", "yolo11n-seg.yaml", "pose"),
    ("person", "yolo11n-pose.yaml", "detect"),
])
def test_a_model_that_does_not_fit_the_target_fails_before_any_frame(target, model, needs, excerpt, tmp_path):
    settings = Settings(target=target, model=model, device="cpu", backend="torch")
    with pytest.raises(ModelError, match=f"needs a {needs} model") as caught:
        load_detector(settings)
    assert model in str(caught.value) and "\n" not in str(caught.value)
    events = []
    with pytest.raises(ModelError, match=f"needs a {needs} model"):
        for event in run(excerpt, settings, output=tmp_path / "o.zip", work_dir=tmp_path):
            events.append(event)
    assert "processing" not in [e.stage for e in events if isinstance(e, Progress)]
    assert list(tmp_path.iterdir()) == []


def test_the_check_comes_before_the_openvino_export(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.models.network.openvino_export",
                        lambda *a: pytest.fail("exported a model that does not fit the target"))
    settings = Settings(target="head", model="yolo11n.yaml", device="cpu", backend="openvino", imgsz=320)
    with pytest.raises(ModelError, match="needs a pose model"):
        load_detector(settings)


def test_a_pose_model_without_the_coco_keypoints_is_refused(tmp_path):
    from ultralytics.utils.checks import check_yaml

    text = open(check_yaml("yolo11-pose.yaml")).read()
    assert "kpt_shape: [17, 3]" in text
    custom = tmp_path / "yolo11n-pose.yaml"
    custom.write_text(text.replace("kpt_shape: [17, 3]", "kpt_shape: [4, 3]"))
    with pytest.raises(ModelError, match=r"17 COCO person keypoints"):
        load_detector(Settings(target="head", model=str(custom), device="cpu", backend="torch"))
    for shape in [(17, 2), None, (4, 3)]:  # no confidences; no keypoints at all; another layout
        with pytest.raises(ModelError, match="keypoints"):
            ModelInfo("pose", 1, shape).check_fits("head", "x")
    with pytest.raises(ModelError, match="needs a segment model"):
        ModelInfo("classify", 1000).check_fits("silhouette", "x")
    ModelInfo("pose", 1, (17, 3)).check_fits("head", "x")  # the real yolo11n-pose.pt


# -- outlines rendered: the shape grown by the padding, nothing else ----------------------
U_SHAPE = np.array([(200, 150), (240, 150), (240, 230), (280, 230), (280, 150), (320, 150), (320, 270),
                    (200, 270)], np.float32)  # a 120x120 box with a 40-px notch from the top
PLAIN_BOX = (500, 300, 560, 420)  # a detection without a usable outline: its padded box


class OutlineDetector:
    def detect(self, frames, indices):
        return [Detections(xyxy=np.array([[200, 150, 320, 270], PLAIN_BOX], np.float32),
                           outlines=((U_SHAPE,), None)) for _ in frames]


def expected_cover(shape, pad_pct: float) -> np.ndarray:
    """Where the U, grown by pad % of its box (12 px), and the padded plain box are. The
    U's own edge pixels at x=320 / y=270 grow to 332 / 282 inclusive: one past the padded
    box's exclusive end, which the renderer keeps."""
    mask = np.zeros(shape, np.uint8)
    polygon = U_SHAPE.astype(np.int32)
    cv2.fillPoly(mask, [polygon], 1)
    cv2.polylines(mask, [polygon], True, 1)
    r = math.ceil(120 * pad_pct / 100)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool)
    x1, y1, x2, y2 = padded_box((200, 150, 320, 270), pad_pct, shape[1], shape[0])
    inside = np.zeros(shape, bool)
    inside[y1:y2 + 1, x1:x2 + 1] = True
    mask &= inside
    x1, y1, x2, y2 = padded_box(PLAIN_BOX, pad_pct, shape[1], shape[0])
    mask[y1:y2, x1:x2] = True
    return mask


def test_outlines_are_covered_grown_by_the_padding_and_nothing_else_changes(excerpt, tmp_path):
    settings = Settings(target="silhouette", style="fill", image_format="png", interval=10, pad_pct=10)
    result = run_to_result(excerpt, settings, output=tmp_path / "o.zip", detector=OutlineDetector())
    contents = read_zip(result.zip_path)
    sources = decode_frames(excerpt, [0, 10, 20])
    for index, source in sources.items():
        image = contents.image_for_frame(index)
        covered = expected_cover(source.shape[:2], 10)
        assert (image[covered] == 0).all()
        assert np.array_equal(image[~covered], source[~covered])
        # and geometrically, without OpenCV's digital disc: 12 px around the U, give or take a pixel
        outside = np.ones(source.shape[:2], np.uint8)
        cv2.fillPoly(outside, [U_SHAPE.astype(np.int32)], 0)
        distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
        near_u = np.zeros_like(covered)
        near_u[:, :450] = True  # the U's side of the frame; the plain box is right of x=494
        assert (image[near_u & (distance <= 11)] == 0).all()
        assert np.array_equal(image[near_u & (distance > 13)], source[near_u & (distance > 13)])
        assert np.array_equal(image[175:215, 255:265], source[175:215, 255:265])  # the notch's middle
        assert (image[300:420, 500:560] == 0).all()  # the plain box: never less than the person target


# -- masks -> outlines, behind a fake engine -------------------------------------------------
class FakeEngine:
    """Returns fixed network outputs for every frame (as the real engines do: float tensors,
    batch first)."""

    rect, stride, end2end, static_hw = True, 32, False, None

    def __init__(self, *outputs: torch.Tensor):
        self.outputs = outputs

    def __call__(self, batch):
        return tuple(o.expand(len(batch), *o.shape[1:]).clone() for o in self.outputs)


def fake_detector(task: str, nc: int, kpt_shape, *outputs, target: str) -> YoloDetector:
    network = Network(ModelKey(f"fake-{task}", "cpu", "torch", 640), FakeEngine(*outputs),
                      ModelInfo(task, nc, kpt_shape))
    return YoloDetector(network, (0,), 0.25, target)


def anchor(xyxy, scores, extra) -> torch.Tensor:
    """One prediction column: xywh, class scores, extras (mask coefficients or keypoints)."""
    x1, y1, x2, y2 = xyxy
    return torch.tensor([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, *scores, *extra], dtype=torch.float32)


def test_letterbox_the_tests_assume():
    geometry = Geometry.fit(SOURCE_HW, 640, 32, rect=True)
    assert geometry.net_hw == (352, 640) and (geometry.top, geometry.left) == (9, 0)
    assert geometry.new_wh == (640, 333) and (640 / 768, 333 / 400) == (GAIN_X, GAIN_Y)


def test_a_mask_becomes_its_outline_in_source_pixels():
    # prototypes at 1/4 of the 352x640 input: channel 0 is an L, channel 1 is empty (all < 0),
    # channel 2 two separate blobs; coefficients pick one channel per person
    proto = -torch.ones(1, 32, 88, 160)
    proto[0, 0, 20:60, 30:45] = 1  # the L's upright
    proto[0, 0, 48:60, 45:70] = 1  # the L's foot
    proto[0, 2, 20:30, 100:110] = 1
    proto[0, 2, 45:60, 100:115] = 1
    columns = [
        anchor((116, 76, 284, 244), [0.9] + [0] * 79, np.eye(32)[0]),  # net px: the L's box (x4)
        anchor((396, 76, 464, 244), [0.8] + [0] * 79, np.eye(32)[2]),  # two pieces
        anchor((500, 100, 600, 300), [0.7] + [0] * 79, np.eye(32)[1]),  # no mask at all
        anchor((20, 20, 60, 60), [0, 0, 0.9] + [0] * 77, np.eye(32)[0]),  # a car: not a class asked for
    ]
    preds = torch.stack(columns, 1)[None]  # (1, 116, 4)
    detector = fake_detector("segment", 80, None, preds, proto, target="silhouette")
    frame = np.zeros((*SOURCE_HW, 3), np.uint8)
    found = detector.detect([frame, frame])
    assert len(found) == 2
    detections = found[0]
    assert len(detections) == 3 and detections.class_id.tolist() == [0, 0, 0]
    # boxes: the letterbox undone
    assert np.allclose(detections.xyxy[0], [116 / GAIN_X, (76 - TOP) / GAIN_Y, 284 / GAIN_X, (244 - TOP) / GAIN_Y],
                       atol=1e-3)
    assert detections.outlines[2] is None  # no usable mask: its box is covered instead

    def expected(channel: int) -> np.ndarray:
        """The source pixels whose centre falls in the prototype's positive area."""
        ys, xs = np.mgrid[0:SOURCE_HW[0], 0:SOURCE_HW[1]]
        net_x, net_y = (xs + 0.5) * GAIN_X, (ys + 0.5) * GAIN_Y + TOP
        px = np.clip((net_x // 4).astype(int), 0, 159)
        py = np.clip((net_y // 4).astype(int), 0, 87)
        return proto[0, channel].numpy()[py, px] > 0

    for outline, channel, pieces in [(detections.outlines[0], 0, 1), (detections.outlines[1], 2, 2)]:
        assert outline is not None and len(outline) == pieces
        assert all(p.dtype == np.float32 and p.shape[1] == 2 for p in outline)
        drawn = np.zeros(SOURCE_HW, np.uint8)
        cv2.fillPoly(drawn, [np.round(p).astype(np.int32) for p in outline], 1)
        want = expected(channel)
        kernel = np.ones((5, 5), np.uint8)  # 2 px: a network pixel is 1.2 source px, plus bilinear edges
        assert not (drawn.astype(bool) & ~cv2.dilate(want.astype(np.uint8), kernel).astype(bool)).any()
        assert not (cv2.erode(want.astype(np.uint8), kernel).astype(bool) & ~drawn.astype(bool)).any()
        iou = (drawn.astype(bool) & want).sum() / (drawn.astype(bool) | want).sum()
        assert iou > 0.9, iou


def test_a_tiny_mask_is_not_trusted():
    proto = -torch.ones(1, 32, 88, 160)
    proto[0, 0, 30:32, 40:42] = 1  # 2x2 prototype pixels in a 40x40 box: a broken mask
    preds = anchor((120, 100, 280, 260), [0.9] + [0] * 79, np.eye(32)[0])[None, :, None]
    detections = fake_detector("segment", 80, None, preds, proto, target="silhouette").detect(
        [np.zeros((*SOURCE_HW, 3), np.uint8)])[0]
    assert len(detections) == 1 and detections.outlines == (None,)


# -- keypoints -> head boxes ---------------------------------------------------------------------
def person_keypoints(face_conf=0.9, shoulder_conf=0.9):
    """A person facing the camera in the box (100, 50, 200, 400): COCO keypoints (x, y, conf)."""
    kpts = np.zeros((17, 3), np.float32)
    kpts[0:5, :2] = [(150, 90), (143, 83), (157, 83), (132, 87), (168, 87)]  # nose, eyes, ears
    kpts[0:5, 2] = face_conf
    kpts[5:7] = [(120, 130, shoulder_conf), (180, 130, shoulder_conf)]
    kpts[7:, :2], kpts[7:, 2] = (150, 300), 0.9  # the rest of the body
    return kpts


PERSON = np.array([[100, 50, 200, 400]], np.float32)


def test_head_box_is_where_the_face_keypoints_are():
    head = head_boxes(PERSON, person_keypoints()[None])[0]
    x1, y1, x2, y2 = head
    face = person_keypoints()[0:5, :2]
    assert ((face >= (x1, y1)) & (face <= (x2, y2))).all()  # every seen face keypoint is inside
    assert (x1 + x2) / 2 == pytest.approx(150)  # centred on the face
    # ear to ear is 36 px: the head is 1.2x that wide (more than half the 60-px shoulders), 1.25x as tall
    assert x2 - x1 == pytest.approx(43.2, abs=1e-3) and y2 - y1 == pytest.approx(54, abs=1e-3)
    assert y2 < 130 and y1 >= 50  # above the shoulders, inside the person box
    assert np.allclose(head, [128.4, 56.8, 171.6, 110.8], atol=1e-3)


def test_head_width_follows_the_shoulders_or_else_the_box():
    kpts = person_keypoints()
    kpts[3:5, 2] = 0.1  # ears unseen: the face keypoints span only 14 px
    kpts[5:7, 0] = [100, 200]  # 100-px shoulders
    x1, _, x2, _ = head_boxes(PERSON, kpts[None])[0]
    assert x2 - x1 == pytest.approx(50, abs=1e-3)  # half the shoulder distance
    kpts[5:7, 2] = 0.2  # shoulders weak too: half the person box width
    wide = np.array([[60, 50, 240, 400]], np.float32)
    x1, _, x2, _ = head_boxes(wide, kpts[None])[0]
    assert x2 - x1 == pytest.approx(90, abs=1e-3)


def test_weak_face_keypoints_cover_the_top_of_the_person_box():
    standing = head_boxes(PERSON, person_keypoints(face_conf=0.3)[None])[0]
    assert np.allclose(standing, [100, 50, 200, 50 + 350 / 3], atol=1e-3)  # the top third, full width
    squat = np.array([[0, 0, 300, 360]], np.float32)  # an upper body: the top 300 px (as tall as wide)
    assert np.allclose(head_boxes(squat, person_keypoints(face_conf=0.0)[None])[0], [0, 0, 300, 300])
    threshold = head_boxes(PERSON, person_keypoints(face_conf=0.3)[None], conf=0.25)[0]
    assert threshold[3] < 115  # a lower threshold trusts the same keypoints
    both = head_boxes(np.concatenate([PERSON, squat]),
                      np.stack([person_keypoints(), person_keypoints(face_conf=0.1)]))
    assert both.shape == (2, 4) and both.dtype == np.float32 and both[1, 3] == 300
    assert head_boxes(np.zeros((0, 4)), np.zeros((0, 17, 3))).shape == (0, 4)


def test_pose_outputs_become_head_boxes_in_source_pixels():
    def to_net(points):
        return [(x * GAIN_X, y * GAIN_Y + TOP) for x, y in points]

    facing, from_behind = person_keypoints(), person_keypoints(face_conf=0.05)
    columns = []
    for box, kpts in [((100, 50, 200, 300), facing), ((400, 60, 500, 310), from_behind)]:
        x1, y1 = to_net([box[:2]])[0]
        x2, y2 = to_net([box[2:]])[0]
        shift = np.array([box[0] - 100, 0], np.float32)
        net_kpts = np.array([(*to_net([xy + shift])[0], c) for *xy, c in kpts], np.float32)
        columns.append(anchor((x1, y1, x2, y2), [0.9], net_kpts.reshape(-1)))
    preds = torch.stack(columns, 1)[None]  # (1, 4 + 1 + 51, 2): one class, like yolo11n-pose.pt
    detector = fake_detector("pose", 1, (17, 3), preds, target="head")
    detections = detector.detect([np.zeros((*SOURCE_HW, 3), np.uint8)])[0]
    assert len(detections) == 2 and detections.class_id.tolist() == [0, 0]
    order = np.argsort(detections.xyxy[:, 0])
    facing_head, behind_head = detections.xyxy[order]
    want = head_boxes(np.array([[100, 50, 200, 300]], np.float32), facing[None])[0]
    assert np.allclose(facing_head, want, atol=0.05)
    assert np.allclose(behind_head, [400, 60, 500, 160], atol=0.05)  # as tall as wide: > 1/3
