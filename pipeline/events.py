"""What a run reports: Progress events while it works, one Result at the end."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import Message
from .io.video import VideoInfo

COMPLETED = "completed"
SIZE_CAP = "size_cap"
IMAGE_CAP = "image_cap"
USER_STOP = "user_stop"  # "stop and keep what is done": outputs kept under a name marked partial
# An anonymizer that found nobody must not sound like it masked everyone.
NO_PERSON_WARNING = Message("No person was detected: check the output before sharing.", "warn.nobody")


def hdr_note(transfer: str) -> Message:
    return Message(f"The source is HDR ({transfer}); the output is SDR without tone mapping, so its "
                   "colours look flat and pale.", "warn.hdr", transfer=transfer)


@dataclass(frozen=True)
class Progress:
    stage: str  # downloading | probing | loading model | processing | finishing | auditing
    frames_read: int = 0
    frames_total: int = 0  # 0 when unknown
    images_written: int = 0
    images_expected: int = 0  # what the interval would give, before any cap
    people_found: int = 0
    bytes_written: int = 0
    max_bytes: int | None = None
    fps: float = 0.0  # source frames read per second
    eta_s: float | None = None
    elapsed_s: float = 0.0
    message: str = ""  # a Message where the page can translate it
    preview: np.ndarray | None = field(default=None, repr=False)  # latest output, small BGR
    preview_index: int = -1  # stream position of `preview`

    @property
    def fraction(self) -> float:
        return min(1.0, self.frames_read / self.frames_total) if self.frames_total else 0.0


@dataclass(frozen=True)
class Result:
    zip_path: Path
    video: VideoInfo
    images_written: int
    images_expected: int
    # Frames that went all the way through (masked, listed, in the video). On an early stop
    # these are the frames before stopped_at_frame, even if the reader had gone further.
    frames_read: int
    people_found: int  # boxes masked in the written images
    zip_bytes: int
    stop_reason: str  # completed | size_cap | image_cap | user_stop
    stopped_at_frame: int | None  # first frame not written when a cap or the user stopped the run
    stopped_at_s: float | None
    elapsed_s: float
    stage_seconds: dict[str, float]
    frames_promised: int = 0  # the frame count the file's header gave (0 when unknown)
    video_path: Path | None = None  # the mosaicked video, when one was asked for
    video_frames: int = 0
    warnings: tuple[str, ...] = ()  # things to check before trusting the output (NO_PERSON_WARNING)
    model: str | None = None  # what found the people: the model that ran, or the replayed CSV's name
    audit: dict | None = None  # the outputs looked at again (pipeline/audit/): mode, frames checked, findings
    report_paths: tuple[Path, ...] = ()  # <zip stem>.report.json and .report.html, beside the ZIP

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason != COMPLETED

    @property
    def message(self) -> str:
        """One paragraph for people: the outcome, then any warnings."""
        return " ".join([self.outcome, *self.warnings])

    @property
    def outcome(self) -> str:
        """The outcome alone: done, or where and why the run stopped."""
        done = (
            f"{self.images_written} images, {self.people_found} people masked, "
            f"{self.zip_bytes / 1e6:.1f} MB in {self.elapsed_s:.1f} s"
        )
        if not self.stopped_early:
            return f"Done: {done}." + self.truncation_note
        if self.stop_reason == USER_STOP:
            kept = " and ".join(p.name for p in (self.zip_path, self.video_path) if p is not None)
            return (
                f"Stopped by you at frame {self.stopped_at_frame} (t={self.stopped_at_s:.1f} s): "
                f"{self.images_written} images, {self.people_found} people masked, "
                f"{self.zip_bytes / 1e6:.1f} MB kept in {kept}; the rest of the video was not processed."
            )
        cap = "size cap" if self.stop_reason == SIZE_CAP else "image count cap"
        if self.images_expected > self.images_written:
            left = (f"{self.images_expected - self.images_written} of {self.images_expected} "
                    "planned images were not written")
        else:
            left = "the rest of the video was not processed"
        return (
            f"Stopped early by the {cap}: {done}. Stopped at frame {self.stopped_at_frame} "
            f"(t={self.stopped_at_s:.1f} s); {left}."
        )

    @property
    def truncated(self) -> bool:
        """The file ended well before the frame count its header gave: likely cut short."""
        return self.stop_reason == COMPLETED and self.frames_promised > 0 and \
            self.frames_read < 0.98 * self.frames_promised - 1

    @property
    def truncation_note(self) -> str:
        if not self.truncated:
            return ""
        return (f" Note: the video ended after {self.frames_read} frames although its header "
                f"says {self.frames_promised}; the file may be truncated.")

    def summary(self) -> dict:
        """JSON-ready summary (the CLI prints it)."""
        return {
            "zip": str(self.zip_path),
            "images": self.images_written,
            "images_expected": self.images_expected,
            "frames_read": self.frames_read,
            "people_found": self.people_found,
            "zip_bytes": self.zip_bytes,
            "stop_reason": self.stop_reason,
            "stopped_at_frame": self.stopped_at_frame,
            "truncated": self.truncated,
            "elapsed_s": round(self.elapsed_s, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "video": str(self.video_path) if self.video_path else None,
            "video_frames": self.video_frames,
            "model": self.model,
            "warnings": list(self.warnings),
            "message": self.message,
            "audit": self.audit,
            "report": [str(p) for p in self.report_paths],
        }
