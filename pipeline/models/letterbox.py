"""The letterbox: how a source frame maps into the network input, and the reused uint8
batch the engines read (rect: 768x576 becomes 640x480, not 640x640)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

PAD_VALUE = 114  # ultralytics' letterbox grey


@dataclass(frozen=True)
class Geometry:
    """How one source size maps into the network input, exactly as ultralytics' LetterBox
    does it (so boxes match `predict`): scale to fit, round, pad centred with grey."""

    src_hw: tuple[int, int]
    net_hw: tuple[int, int]
    new_wh: tuple[int, int]  # the resized picture inside the padding
    top: int
    left: int

    @classmethod
    def fit(cls, src_hw: tuple[int, int], imgsz: int, stride: int, rect: bool) -> "Geometry":
        h, w = src_hw
        r = min(imgsz / h, imgsz / w)
        new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
        pad_w, pad_h = imgsz - new_w, imgsz - new_h
        if rect:  # the smallest stride multiple that holds the picture
            pad_w, pad_h = pad_w % stride, pad_h % stride
        top, left = round(pad_h / 2 - 0.1), round(pad_w / 2 - 0.1)
        return cls((h, w), (new_h + pad_h, new_w + pad_w), (new_w, new_h), top, left)

    def place(self, out: np.ndarray, image: np.ndarray) -> None:
        """Resize `image` into its slot of `out` (H, W, 3); the padding is already grey."""
        import cv2

        new_w, new_h = self.new_wh
        if image.shape[1] != new_w or image.shape[0] != new_h:
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        out[self.top:self.top + new_h, self.left:self.left + new_w] = image

    def to_source(self, xyxy: np.ndarray) -> np.ndarray:
        """Network-input boxes to source pixels, clipped to the frame."""
        h, w = self.src_hw
        gain_x, gain_y = self.new_wh[0] / w, self.new_wh[1] / h
        out = np.empty_like(xyxy)
        out[:, [0, 2]] = (xyxy[:, [0, 2]] - self.left) / gain_x
        out[:, [1, 3]] = (xyxy[:, [1, 3]] - self.top) / gain_y
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out

    def points_to_source(self, xy: np.ndarray, pixel_centres: bool = False) -> np.ndarray:
        """Network-input points (..., 2) to source pixels, clipped to the frame. With
        `pixel_centres`, the points are pixel indices (a mask's contour): the centre of
        network pixel i maps to the source pixel whose centre lies there."""
        h, w = self.src_hw
        gain = np.array([self.new_wh[0] / w, self.new_wh[1] / h], np.float64)
        shift = 0.5 if pixel_centres else 0.0
        out = (np.asarray(xy, np.float64) + shift - (self.left, self.top)) / gain - shift
        out[..., 0] = out[..., 0].clip(0, w - shift * 2)
        out[..., 1] = out[..., 1].clip(0, h - shift * 2)
        return out.astype(np.float32)


class BatchBuffer:
    """A reused uint8 (N, H, W, 3) BGR batch, grey where the letterbox pads. Frames are
    placed lazily (`Batch.slot(i)`), so an engine can start on frame 0 while it places 1."""

    def __init__(self):
        self.array: np.ndarray | None = None
        self.geometry: Geometry | None = None

    def batch(self, frames: Sequence[np.ndarray], geometry: Geometry) -> "Batch":
        n = len(frames)
        h, w = geometry.net_hw
        if self.array is None or self.geometry != geometry or len(self.array) < n:
            self.array = np.full((max(n, 1), h, w, 3), PAD_VALUE, np.uint8)
            self.geometry = geometry
        return Batch(self.array[:n], frames, geometry)


class Batch:
    def __init__(self, array: np.ndarray, frames: Sequence[np.ndarray], geometry: Geometry):
        self.array, self.frames, self.geometry = array, frames, geometry

    def __len__(self) -> int:
        return len(self.frames)

    def slot(self, i: int) -> np.ndarray:
        """Frame i letterboxed, as a (1, H, W, 3) view of the batch."""
        self.geometry.place(self.array[i], self.frames[i])
        return self.array[i:i + 1]

    def full(self) -> np.ndarray:
        for i in range(len(self.frames)):
            self.geometry.place(self.array[i], self.frames[i])
        return self.array
