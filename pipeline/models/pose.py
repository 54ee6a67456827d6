"""Heads from a pose model's keypoints (COCO order: 0 nose, 1-2 eyes, 3-4 ears,
5-6 shoulders), as pure numpy geometry so tests can call it directly.

Per person:

* Face keypoints seen (confidence >= `conf`; from behind, the ears often are): a head
  box centred on them. Its width is half the shoulder distance when both shoulders are
  seen (an adult head is ~0.4 of the shoulder-joint distance; half is generous, for
  turned shoulders), else half the person box width; never narrower than 1.2x the spread
  of the seen face keypoints (ear to ear is about a head's width), and no wider than the
  person box unless those keypoints are. Its height is 1.25x its width, 55 % of it above
  the keypoints' centre (eyes and ears sit a little below the middle of a head). The
  seen keypoints are always inside it.
* No face keypoint seen (a person from behind, far away, or too small for keypoints):
  the top of the person box, full width, as tall as the box is wide but at least the top
  third (a standing person's head is in its top seventh; a squat box is an upper body or
  a close-up, where the head fills more of it).

So every person gets a head box; the renderer pads it like any box.
"""
from __future__ import annotations

import numpy as np

KPT_CONF = 0.5  # a keypoint counts as seen from this confidence (ultralytics' drawing threshold)
FACE = slice(0, 5)  # nose, eyes, ears
SHOULDERS = (5, 6)
HEAD_PER_SHOULDER = 0.5
HEAD_PER_BOX = 0.5
HEAD_PER_FACE_SPREAD = 1.2
HEAD_ASPECT = 1.25  # height / width
ABOVE = 0.55  # share of the head height above the face keypoints' centre
TOP_SHARE = 1 / 3  # the fallback covers at least this much of the person box, from its top


def head_boxes(person_xyxy: np.ndarray, keypoints: np.ndarray, conf: float = KPT_CONF) -> np.ndarray:
    """(N, 4) float32 head boxes for N people: boxes (N, 4) xyxy and keypoints (N, 17, 3)
    (x, y, confidence), all in the same pixels."""
    boxes = np.asarray(person_xyxy, np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, 4), np.float32)
    kpts = np.asarray(keypoints, np.float64).reshape(len(boxes), -1, 3)
    bx1, by1, bx2, by2 = boxes.T
    bw, bh = np.maximum(bx2 - bx1, 0), np.maximum(by2 - by1, 0)

    face = kpts[:, FACE]
    seen = face[..., 2] >= conf
    has_face = seen.any(1)
    fx, fy = face[..., 0], face[..., 1]
    fx1, fx2 = np.where(seen, fx, np.inf).min(1), np.where(seen, fx, -np.inf).max(1)
    fy1, fy2 = np.where(seen, fy, np.inf).min(1), np.where(seen, fy, -np.inf).max(1)
    fx1, fx2, fy1, fy2 = (np.where(has_face, v, 0.0) for v in (fx1, fx2, fy1, fy2))
    spread = np.maximum(fx2 - fx1, fy2 - fy1)

    left, right = kpts[:, SHOULDERS[0]], kpts[:, SHOULDERS[1]]
    shoulders = (left[:, 2] >= conf) & (right[:, 2] >= conf)
    shoulder_w = np.hypot(left[:, 0] - right[:, 0], left[:, 1] - right[:, 1])
    width = np.where(shoulders, HEAD_PER_SHOULDER * shoulder_w, HEAD_PER_BOX * bw)
    width = np.minimum(np.maximum(width, HEAD_PER_FACE_SPREAD * spread), np.maximum(bw, spread))
    height = HEAD_ASPECT * width
    cx, cy = (fx1 + fx2) / 2, (fy1 + fy2) / 2
    from_keypoints = np.stack([
        np.minimum(cx - width / 2, fx1), np.minimum(cy - ABOVE * height, fy1),
        np.maximum(cx + width / 2, fx2), np.maximum(cy + (1 - ABOVE) * height, fy2),
    ], axis=1)

    top = np.minimum(bh, np.maximum(bh * TOP_SHARE, bw))
    from_box = np.stack([bx1, by1, bx2, by1 + top], axis=1)
    return np.where(has_face[:, None], from_keypoints, from_box).astype(np.float32)
