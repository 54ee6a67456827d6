"""Each checked frame: what the fresh detectors see that the run's masks do not cover.

A detection is covered when at least COVERED of its box lies under the run's boxes for that
frame (detections.csv, grown by the padding the render adds). One that lies mostly inside a
box left visible on purpose (review ticks, --keep-face, --only-face) is not a finding either.
Anything else is a finding: frame, time, box (source pixels, like detections.csv), score,
detector, and where it was seen (a ZIP image or the video).

`sample` checks the ZIP's images in an order spread over the video, then frames spread evenly
over the video output, stopping when the audit has used BUDGET_SHARE of the run's own time
(never fewer than MIN_FRAMES); `all` checks every image and every frame of the video.
"""
from __future__ import annotations

import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import Cancelled
from ..io.video import VideoInfo
from ..mask.render import FACE_HEAD_PCT
from ..settings import Settings
from .detectors import Auditor, face_auditor, person_auditor
from .written import csv_rows, evenly, masks_by_frame, read_zip_image, spread, video_frame_count, video_frames, zip_images

BUDGET_SHARE = 0.25  # sample: the audit's time at most this share of the run's own
MIN_FRAMES = 2  # sample: never fewer frames than this (each output), however short the run
BUDGET_AIM = 0.85  # of the budget: decoding a video costs more than estimated on a busy machine
COVERED = 0.5  # share of a detection's box under the masks for it to count as covered
# A detection partly under a mask (a share of EDGE..COVERED) is a finding only at EDGE_CONF or
# more: a mosaic's blocky edge over a patterned shirt or a hand scored 0.31-0.32 on the 1080p
# bench clip (docs/audit.md), real faces left uncovered 0.30-0.91 with nothing over them
EDGE, EDGE_CONF = 0.1, 0.5
VISIBLE_PAD_PCT = 20.0  # boxes left visible on purpose, grown by this much a side
DECODE_S_PER_MPIX = 0.004  # a rough cost of decoding one video frame (no conversion), per megapixel
MAX_FINDING_PICTURES, MAX_MASKED_PICTURES, PICTURE_WIDTH = 12, 3, 320


@dataclass(frozen=True)
class Finding:
    frame: int
    time_s: float
    box: tuple[float, float, float, float]  # source pixels, as in detections.csv
    score: float
    detector: str  # face | person
    output: str  # zip | video
    image: str | None = None  # the ZIP entry, for a ZIP image

    def as_dict(self) -> dict:
        return {"frame": self.frame, "time_s": round(self.time_s, 3), "box": [round(v, 1) for v in self.box],
                "score": round(self.score, 3), "detector": self.detector, "output": self.output,
                "image": self.image}


@dataclass
class AuditResult:
    mode: str
    detectors: list[dict] = field(default_factory=list)
    checked_zip: list[int] = field(default_factory=list)
    checked_video: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    left_visible: int = 0  # detections inside boxes left visible on purpose (not findings)
    seconds: float = 0.0
    budget_s: float | None = None
    notes: list[str] = field(default_factory=list)
    auditors: list[Auditor] = field(default_factory=list, repr=False)
    pictures: list[tuple[str, bytes]] = field(default_factory=list, repr=False)  # (caption, small JPEG)
    masked_pictures: int = 0

    @property
    def checked(self) -> list[int]:
        return sorted(set(self.checked_zip) | set(self.checked_video))

    @property
    def frames_with_findings(self) -> list[int]:
        return sorted({f.frame for f in self.findings})

    def summary(self) -> dict:
        """The CLI's and the API's short form."""
        return {"mode": self.mode, "checked_frames": len(self.checked), "findings": len(self.findings),
                "frames_with_findings": self.frames_with_findings, "seconds": round(self.seconds, 3)}

    def as_dict(self) -> dict:
        """The report's `audit`."""
        return {"mode": self.mode, "detectors": self.detectors, "checked": self.checked,
                "checked_zip_images": self.checked_zip, "checked_video_frames": self.checked_video,
                "findings": [f.as_dict() for f in self.findings], "left_visible_detections": self.left_visible,
                "seconds": round(self.seconds, 3),
                "budget_s": None if self.budget_s is None else round(self.budget_s, 3), "notes": self.notes}


def run_audit(zip_path: Path, video_path: Path | None, info: VideoInfo, settings: Settings, run_seconds: float,
              left_visible: dict | None = None, cancel: threading.Event | None = None,
              masks_model: str | None = None) -> Iterator[float]:
    """Yields the share done (0-1) now and then; returns the AuditResult (`yield from`)."""
    mode = settings.audit
    result = AuditResult(mode)
    if mode == "off":
        result.notes.append("the audit was switched off for this run")
        return result
    started = time.perf_counter()
    auditors = [face_auditor(settings)]
    person, note = person_auditor(settings, masks_model)
    auditors += [person] if person is not None else []
    result.notes += [note] if note else []
    result.auditors = auditors
    result.detectors = [{"name": a.name, "model": a.model, "threshold": a.threshold,
                         "model_file": a.model_file.name if a.model_file else None} for a in auditors]
    masks = masks_by_frame(csv_rows(zip_path))
    visible = {k: v.xyxy for k, v in (left_visible or {}).items()}
    frame = _FrameCheck(settings, info, masks, visible, auditors, result)
    images = zip_images(zip_path)
    budget = None if mode == "all" else BUDGET_SHARE * run_seconds
    result.budget_s = budget
    check_video = video_path is not None and settings.follow is None
    if video_path is not None and settings.follow is not None:
        result.notes.append("the video is a follow-cam crop: its frames were not audited (the ZIP's whole frames were)")
    zip_share = 0.5 if check_video else 1.0
    total = len(images) + (1 if check_video else 0)
    with zipfile.ZipFile(zip_path) as archive:
        for done, i in enumerate(spread(len(images)) if budget is not None else range(len(images))):
            spent = time.perf_counter() - started
            if budget is not None and done >= MIN_FRAMES and spent + spent / done > zip_share * BUDGET_AIM * budget:
                break
            _check_cancel(cancel)
            image = images[i]
            frame.check(read_zip_image(archive, image.name), image.index, image.time_s, "zip", image.name)
            result.checked_zip.append(image.index)
            yield done / max(total, 1)
    result.checked_zip.sort()
    if check_video:
        yield from _audit_video(video_path, frame, result, budget, started, cancel, info)
    result.findings.sort(key=lambda f: (f.frame, f.output, f.detector))
    result.seconds = time.perf_counter() - started
    return result


def _audit_video(video_path, frame, result, budget, started, cancel, info) -> Iterator[float]:
    count = video_frame_count(video_path)
    take = count
    if budget is not None:
        spent = time.perf_counter() - started
        per = spent / max(len(result.checked_zip), 1)
        decode = count * DECODE_S_PER_MPIX * info.width * info.height / 1e6
        take = max(MIN_FRAMES, int((BUDGET_AIM * budget - spent - decode) / max(per, 1e-3)))
    wanted = evenly(count, take)
    for done, (index, time_s, image) in enumerate(video_frames(video_path, set(wanted))):
        _check_cancel(cancel)
        frame.check(image, index, time_s, "video", None)
        result.checked_video.append(index)
        yield 0.5 + 0.5 * done / max(len(wanted), 1)


class _FrameCheck:
    def __init__(self, settings: Settings, info: VideoInfo, masks: dict, visible: dict,
                 auditors: list[Auditor], result: AuditResult):
        self.info, self.masks, self.visible, self.auditors, self.result = info, masks, visible, auditors, result
        self.pad = settings.pad_pct + (FACE_HEAD_PCT if settings.target == "face" else 0.0)

    def check(self, image: np.ndarray, index: int, time_s: float, output: str, name: str | None) -> None:
        height, width = image.shape[:2]
        gain = np.array([self.info.width / width, self.info.height / height] * 2, np.float32)  # -> source px
        covered = _area_mask(self.masks.get(index), self.pad, self.info)
        shown = _area_mask(self.visible.get(index), VISIBLE_PAD_PCT, self.info)
        before = len(self.result.findings)
        for auditor in self.auditors:
            found = auditor.detector.detect([image])[0]
            for box, score in zip(found.xyxy * gain, found.score):
                under = _share(covered, box)
                if under >= COVERED or (under >= EDGE and score < EDGE_CONF):
                    continue
                if _share(shown, box) >= COVERED:
                    self.result.left_visible += 1
                    continue
                self.result.findings.append(Finding(index, time_s, tuple(float(v) for v in box), float(score),
                                                    auditor.name, output, name))
        self._picture(image, index, time_s, output, self.result.findings[before:], gain)

    def _picture(self, image, index, time_s, output, new, gain) -> None:
        """A small copy of the frame as written: with its findings boxed, or a masked frame."""
        result = self.result
        if new and sum(1 for c, _ in result.pictures if "finding" in c) < MAX_FINDING_PICTURES:
            caption = f"finding: frame {index} (t={time_s:.2f} s, {output})"
        elif not new and index in self.masks and result.masked_pictures < MAX_MASKED_PICTURES and output == "zip":
            result.masked_pictures += 1
            caption = f"masked frame {index} (t={time_s:.2f} s, {output})"
        else:
            return
        small_w = min(PICTURE_WIDTH, image.shape[1])
        scale = small_w / image.shape[1]
        small = cv2.resize(image, (small_w, max(1, round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        for finding in new:
            x1, y1, x2, y2 = (int(round(v)) for v in np.array(finding.box) / gain * scale)
            cv2.rectangle(small, (x1, y1), (x2, y2), (0, 0, 255), 2)
        ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            result.pictures.append((caption, data.tobytes()))


def _area_mask(boxes, pad_pct: float, info: VideoInfo) -> np.ndarray | None:
    """The union of `boxes` grown by pad_pct a side, as a boolean picture of the source frame."""
    if boxes is None or not len(boxes):
        return None
    mask = np.zeros((info.height, info.width), bool)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32):
        dx, dy = (x2 - x1) * pad_pct / 100, (y2 - y1) * pad_pct / 100
        mask[max(0, int(y1 - dy)):max(0, int(np.ceil(y2 + dy))), max(0, int(x1 - dx)):max(0, int(np.ceil(x2 + dx)))] = True
    return mask


def _share(mask: np.ndarray | None, box) -> float:
    """The share of `box` (source pixels) under `mask`."""
    if mask is None:
        return 0.0
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(mask.shape[1], int(np.ceil(box[2]))), min(mask.shape[0], int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return 0.0
    return float(mask[y1:y2, x1:x2].mean())


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled; partial output removed")
