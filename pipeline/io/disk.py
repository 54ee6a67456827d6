"""Refusing a job up front when the disk cannot hold what it may write."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

from ..errors import OutputError
from ..settings import Settings
from .video import VideoInfo

WORKING_ROOM_BYTES = 64_000_000  # CSV spool, encoder buffers, the audio remux
# Rough bytes per source pixel of one output image, generous on purpose.
BYTES_PER_PIXEL = {"jpg": 0.35, "png": 2.0}
VIDEO_BYTES_PER_PIXEL_FRAME = 0.15  # H.264 at CRF 20 stays well under this


def estimate_output_bytes(info: VideoInfo, settings: Settings, make_video: bool) -> int:
    """What a run may write: the ZIP (its cap when set) plus the video, twice (it is
    encoded once and remuxed with the audio once), plus working room."""
    out_w, out_h = settings.output_size(info.width, info.height)
    pixels = out_w * out_h
    frames = info.frame_count or 1
    images = math.ceil(frames / settings.interval)
    if settings.max_images is not None:
        images = min(images, settings.max_images)
    zip_bytes = images * pixels * BYTES_PER_PIXEL[settings.image_format]
    if settings.max_bytes is not None:
        zip_bytes = min(zip_bytes, settings.max_bytes)
    video_bytes = 2 * frames * pixels * VIDEO_BYTES_PER_PIXEL_FRAME if make_video else 0
    return int(zip_bytes + video_bytes + WORKING_ROOM_BYTES)


def ensure_free_space(folder: Path, needed_bytes: int) -> None:
    folder = Path(folder)
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if free < needed_bytes:
        raise OutputError(
            f"Not enough disk space in {probe}: this job may need about {needed_bytes / 1e6:.0f} MB "
            f"and {free / 1e6:.0f} MB are free. Set a size cap, a larger interval or a smaller "
            "resolution, or free some space.",
            key="err.disk.not_enough", values={"need_mb": needed_bytes / 1e6, "free_mb": free / 1e6},
        )
