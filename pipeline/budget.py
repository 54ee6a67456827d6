"""How many frames a run may keep in flight, from a memory budget in bytes.

Queues used to be sized in frames (2x batch, 2x batch, 8, 8), so a 4K run kept ~3 GB of
frames where a 768x576 one kept ~0.4 GB. Here each queue's depth comes from the frame size
at run start, the budget split in a fixed order of need:

1. what correctness needs: the hold's look-ahead (frames wait until the boxes after them
   are known, or a person about to appear would be shown) and one frame in every stage;
2. what speed needs: a detector batch, then queues two batches deep (measured: beyond that
   the stages gain nothing more from slack);
3. whatever is left stays unspent.

A budget that cannot hold (1) is an error before any work starts, naming the minimum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .errors import SettingsError
from .settings import Settings
from .video import VideoInfo

MB = 1_000_000
FAST_QUEUE_BATCHES = 2  # decoded and detected queues: two batches deep keeps the detector fed
OUTPUT_QUEUE = 8  # rendered / to-video frames, when the budget allows


@dataclass(frozen=True)
class BufferPlan:
    frame_bytes: int  # one decoded source frame (BGR)
    output_bytes: int  # one output frame (BGR, after scaling)
    lookahead: int  # frames the hold keeps back
    batch: int  # frames per detector call
    decoded: int  # queue depths
    detected: int
    rendered: int
    to_video: int

    @property
    def peak_bytes(self) -> int:
        """Frame buffers at most in flight (x264's own buffers are bounded in video_sink)."""
        source = self.decoded + self.batch + self.lookahead + self.detected
        return source * self.frame_bytes + (self.rendered + self.to_video + 1) * self.output_bytes


def plan_buffers(settings: Settings, info: VideoInfo, make_video: bool) -> BufferPlan:
    frame_bytes = info.width * info.height * 3
    out_w, out_h = settings.output_size(info.width, info.height)
    output_bytes = out_w * out_h * 3
    budget = int(settings.memory_mb * MB)
    step = 1 if make_video else settings.interval  # only these frames are decoded to images
    lookahead = math.ceil(round(settings.hold_s * info.fps) / step) + 1
    # (1) the least that works: the look-ahead, one frame per queue and stage
    video = 1 if make_video else 0
    least = BufferPlan(frame_bytes, output_bytes, lookahead, 1, 1, 1, 1, video)
    if least.peak_bytes > budget:
        need = math.ceil(least.peak_bytes / MB)
        raise SettingsError(
            f"Invalid settings: a memory budget of {settings.memory_mb:g} MB cannot hold this "
            f"{info.width}x{info.height} video's frames: it needs at least {need} MB "
            f"({lookahead} frames of look-ahead for the {settings.hold_s:g} s hold, plus one per stage). "
            "Raise the memory budget, or lower the hold or the output resolution.",
            key="err.memory_budget",
            values={"budget_mb": settings.memory_mb, "width": info.width, "height": info.height, "need_mb": need,
                    "lookahead": lookahead, "hold_s": settings.hold_s},
        )
    plan = least
    # (2) speed: first what keeps every stage busy (a full batch waiting while one is
    # detected, two frames between the later stages), then the deeper queues
    batch = settings.batch
    rounds = (
        (("batch", batch), ("decoded", batch), ("detected", 2), ("rendered", 2), ("to_video", 2 * video)),
        (("detected", batch), ("rendered", OUTPUT_QUEUE), ("to_video", OUTPUT_QUEUE * video),
         ("decoded", FAST_QUEUE_BATCHES * batch), ("detected", FAST_QUEUE_BATCHES * batch)),
    )
    for targets in rounds:
        for field_name, target in targets:
            plan = _grow(plan, field_name, target, budget)
    return plan


def _grow(plan: BufferPlan, field_name: str, target: int, budget: int) -> BufferPlan:
    """`plan` with `field_name` raised toward `target` as far as the budget allows."""
    best = plan
    for value in range(getattr(plan, field_name) + 1, target + 1):
        candidate = replace(best, **{field_name: value})
        if candidate.peak_bytes > budget:
            break
        best = candidate
    return best
