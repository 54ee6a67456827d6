"""The render stage without threads: one frame and its boxes in, the masked output frame
out, encoded when it is captured, with its detections.csv rows."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..detections import Detections
from ..errors import MosaicError
from ..io.detections_csv import csv_rows
from ..io.video import Frame, VideoInfo
from ..settings import Settings
from .follow import FollowCam
from .maskers import MaskStyle, cover


@dataclass
class Rendered:
    """One masked frame: an encoded image when the frame is captured, else only its rows
    (when a video is made, every frame is masked)."""

    index: int
    time_s: float
    name: str | None
    data: bytes | None
    rows: list[list[str]]
    people: int
    image: np.ndarray | None  # the masked output frame (None for a detect-only run)
    shown: np.ndarray | None = None  # what the video shows: the follow cam's crop of `image` (None: image)


# A face box runs from brows to chin, and the hair, ears and outline around it identify
# too: it is grown by FACE_HEAD_PCT a side before the padding, and its mosaic has at most
# FACE_MAX_CELLS cells across (a blur as strong). At the defaults (15 cells, 10 %) a 45-px
# face got 11 cells and CenterFace still scored the mosaic a face at 0.6-0.8. Grown 15 %, the
# hair above a 40-px face still made it one at 0.5-0.68; at 25 % and 8 cells CenterFace finds
# none at 0.5 in the faces clip at 640x480, 480x360 or 320x240 (docs/live.md). A floor like
# min_cell_px: --cells and --pad still make faces coarser and wider, never finer or tighter.
FACE_HEAD_PCT = 25.0
FACE_MAX_CELLS = 8


def mask_style(settings: Settings) -> MaskStyle:
    if settings.target == "face":
        return MaskStyle(settings.style, min(settings.mosaic_cells, FACE_MAX_CELLS), settings.min_cell_px,
                         settings.pad_pct + FACE_HEAD_PCT, shape=settings.face_shape)
    return MaskStyle(settings.style, settings.mosaic_cells, settings.min_cell_px, settings.pad_pct)


class Renderer:
    def __init__(self, settings: Settings, info: VideoInfo):
        self.settings = settings
        self.out_w, self.out_h = settings.output_size(info.width, info.height)
        self.ext = settings.image_format
        self.params = ([cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality] if self.ext == "jpg"
                       else [cv2.IMWRITE_PNG_COMPRESSION, 1])
        self.digits = max(6, len(str(info.frame_count)))
        self.style = mask_style(settings)
        # the follow cam crops the masked frame (video and live output; ZIP images stay whole)
        self.follow = FollowCam(self.out_w, self.out_h, settings.follow) if settings.follow else None

    @property
    def video_size(self) -> tuple[int, int]:
        """(width, height) of the video / live output: the follow crop's, or the output size."""
        return (self.follow.out_w, self.follow.out_h) if self.follow else (self.out_w, self.out_h)

    def _cover(self, image: np.ndarray, detections: Detections) -> tuple[np.ndarray, Detections]:
        height, width = image.shape[:2]
        if (self.out_w, self.out_h) != (width, height):
            image = cv2.resize(image, (self.out_w, self.out_h), interpolation=cv2.INTER_AREA)
        scaled = detections.scaled(self.out_w / width, self.out_h / height)
        return cover(image, scaled, self.style), scaled

    def mask(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        """The output frame: resized to the output size, every detection covered."""
        return self._cover(image, detections)[0]

    def shown(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        """What a video or live output shows: the masked frame, cropped by the follow cam
        when it is on (one call per frame, in order: the crop keeps state)."""
        masked, scaled = self._cover(image, detections)
        return masked if self.follow is None else self.follow.crop(masked, scaled)

    def rows(self, frame: Frame, detections: Detections) -> list[list[str]]:
        return csv_rows(frame.index, frame.time_s, detections, self.settings.target)

    def render(self, frame: Frame, detections: Detections) -> Rendered:
        image, scaled = self._cover(frame.image, detections)
        rows = self.rows(frame, detections)
        rendered = Rendered(frame.index, frame.time_s, None, None, rows, len(detections), image)
        if self.follow is not None:
            rendered.shown = self.follow.crop(image, scaled)
        if self.settings.captures(frame.index):
            ok, encoded = cv2.imencode(f".{self.ext}", image, self.params)
            if not ok:
                raise MosaicError(f"Encoding frame {frame.index} as {self.ext} failed")
            rendered.name = f"frame_{frame.index:0{self.digits}d}_t{frame.time_s:.3f}s.{self.ext}"
            rendered.data = encoded.tobytes()
        return rendered


PREVIEW_WIDTH = 320  # the page's live preview


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A small copy of an output frame for the progress preview (never the frame itself)."""
    height, width = image.shape[:2]
    if width <= PREVIEW_WIDTH:
        return image.copy()
    new_h = max(1, round(height * PREVIEW_WIDTH / width))
    return cv2.resize(image, (PREVIEW_WIDTH, new_h), interpolation=cv2.INTER_AREA)
