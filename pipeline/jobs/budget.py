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

Large frames with a video output (every frame held for the look-ahead) are not kept whole
while they wait: when the look-ahead alone would take more than REREAD_SHARE of the budget,
detection reads its own small copies (long side = the detector's size, scaled by FFmpeg) and
a second reader decodes the full frames again just before they are masked (`reread`). At 4K
that is 16 look-ahead frames of 0.7 MB instead of 25 MB, for one more decode of each frame
(~17 CPU-ms at 4K, against ~490 CPU-ms for the rest of the frame's work; docs/memory.md).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
from dataclasses import dataclass, replace

from ..errors import SettingsError
from ..io.video import VideoInfo
from ..models.letterbox import Geometry
from ..settings import Settings

MB = 1_000_000
FAST_QUEUE_BATCHES = 2  # decoded and detected queues: two batches deep keeps the detector fed
OUTPUT_QUEUE = 8  # rendered / to-video frames, when the budget allows
REREAD_SHARE = 0.25  # look-ahead frames above this share of the budget: detect on small copies
# Each reader of a reread decodes on one thread, not FFmpeg's one per core plus one: a 10-s
# 4K --video run peaked at 1501 MB that way, 1593 MB with FFmpeg's choice, in the same time
# (47.7 s vs 48.9 s: at 4K the run waits on x264 and detection, not on decoding).
REREAD_DECODE_THREADS = 1
# A tile scan at 4K (detect_full) needs the full frames until they are detected: those
# waiting for it (the decoded queue and the batch) take at most this share of the budget, at
# 4K two frames (a batch of 1, 1 more decoded) instead of 24 (600 MB). The scan looks at every
# other frame (scan.EVERY), so a batch of 2 held one looked-at frame too; detection at 4K
# waits on the model, not on the reader (docs/memory.md)
DETECT_FULL_SHARE = 0.05
OUTPUT_SHARE = 0.05  # each output queue: up to OUTPUT_QUEUE frames within this share of the budget
# (at 4K 2 frames: x264 takes ~300 CPU-ms a frame there, the renderer ~40, so 2 keep it fed;
# 8 up to 1080p)
MIN_OUTPUT_QUEUE = 2  # ... but never fewer than this (the render/encode overlap)
MMAP_FROM_BYTES = 16 << 20  # malloc: blocks from 16 MiB (a 4K frame: 25 MB) go straight back to the OS
M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_malloc_set = False


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
    detect_size: tuple[int, int] | None = None  # (w, h) of detection's small copies when rereading
    full: int = 0  # full frames decoded again, waiting for their boxes (reread only)
    detect_full: bool = False  # reread, but detection reads full frames (tiles) and keeps none

    @property
    def reread(self) -> bool:
        return self.detect_size is not None

    @property
    def detect_bytes(self) -> int:
        """One frame as detection, the look-ahead and the queues before the renderer keep it."""
        if self.detect_size is None:
            return self.frame_bytes
        return self.detect_size[0] * self.detect_size[1] * 3

    @property
    def detect_full_bytes(self) -> int:
        """Full frames waiting for a tile scan (detect_full): decoded, and the batch."""
        return (self.decoded + self.batch) * self.frame_bytes if self.detect_full else 0

    @property
    def peak_bytes(self) -> int:
        """Frame buffers at most in flight (x264's own buffers are bounded in video_sink)."""
        source = self.decoded + self.batch + self.lookahead + self.detected
        if self.detect_full:  # full frames until detected, nothing after
            source = (self.decoded + self.batch) * self.frame_bytes + (self.lookahead + self.detected) * self.detect_bytes
        else:
            source *= self.detect_bytes
        rereading = (self.full + 1) * self.frame_bytes if self.reread else 0
        return source + rereading + (self.rendered + self.to_video + 1) * self.output_bytes


def plan_buffers(settings: Settings, info: VideoInfo, make_video: bool, full_detect: bool = False,
                 look_ahead_s: float | None = None) -> BufferPlan:
    """`full_detect`: detection needs the full frames (a tile scan, detect/scan.py);
    `look_ahead_s`: how far the hold looks ahead, if further than settings.hold_s (scan.py)."""
    frame_bytes = info.width * info.height * 3
    out_w, out_h = settings.output_size(info.width, info.height)
    output_bytes = out_w * out_h * 3
    budget = int(settings.memory_mb * MB)
    step = 1 if make_video else settings.interval  # only these frames are decoded to images
    ahead_s = round(settings.hold_s if look_ahead_s is None else max(settings.hold_s, look_ahead_s), 3)
    lookahead = math.ceil(round(ahead_s * info.fps) / step) + 1
    # (1) the least that works: the look-ahead, one frame per queue and stage
    video = 1 if make_video else 0
    small = detect_size(info, settings.imgsz)
    reread = make_video and small is not None and lookahead * frame_bytes > REREAD_SHARE * budget
    least = BufferPlan(frame_bytes, output_bytes, lookahead, 1, 1, 1, 1, video,
                       detect_size=small if reread else None, full=1 if reread else 0,
                       detect_full=reread and full_detect)
    if least.peak_bytes > budget:
        need = math.ceil(least.peak_bytes / MB)
        raise SettingsError(
            f"Invalid settings: a memory budget of {settings.memory_mb:g} MB cannot hold this "
            f"{info.width}x{info.height} video's frames: it needs at least {need} MB "
            f"({lookahead} frames of look-ahead for {ahead_s:g} s: the hold, or one full-resolution scan; "
            "plus one per stage). "
            "Raise the memory budget, or lower the hold or the output resolution.",
            key="err.memory_budget",
            values={"budget_mb": settings.memory_mb, "width": info.width, "height": info.height, "need_mb": need,
                    "lookahead": lookahead, "hold_s": round(ahead_s, 2)},
        )
    plan = least
    # (2) speed: first what keeps every stage busy (a full batch waiting while one is
    # detected, two frames between the later stages), then the deeper queues
    batch = depth = settings.batch  # depth: of the detected queue, whose frames are small or empty
    if least.detect_full:  # half the full frames a tile scan may wait for in the batch, half decoded
        batch = max(1, min(batch, int(DETECT_FULL_SHARE * budget // frame_bytes) // 2))
    output_queue = max(MIN_OUTPUT_QUEUE, min(OUTPUT_QUEUE, int(OUTPUT_SHARE * budget // output_bytes)))
    rounds = (
        (("batch", batch), ("decoded", batch), ("detected", 2), ("full", 2 * least.reread), ("rendered", 2),
         ("to_video", 2 * video)),
        (("detected", depth), ("rendered", output_queue), ("to_video", output_queue * video),
         ("decoded", FAST_QUEUE_BATCHES * batch), ("detected", FAST_QUEUE_BATCHES * depth)),
    )
    for targets in rounds:
        for field_name, target in targets:
            plan = _grow(plan, field_name, target, budget, DETECT_FULL_SHARE * budget)
    return plan


def return_freed_frames() -> None:
    """Have glibc give freed 4K frames back to the OS at once (idempotent; a no-op off
    glibc). By default malloc raises its mmap threshold to the size of the first large
    block freed, so after a few frames every 25 MB 4K frame comes from the heaps of the
    stage threads, which keep what is freed: a 2-s 4K --video run peaked at 1658 MB that
    way and at 1484 MB with every block from 1 MiB mapped. Smaller frames stay on the heap
    as before: mapping 1080p frames too saved 70 MB but cost 6-14 % more CPU-seconds
    (a 10-s 1080p --video run, 2 rounds), from the kernel zeroing fresh pages."""
    global _malloc_set
    if _malloc_set:
        return
    _malloc_set = True
    _glibc("mallopt", M_MMAP_THRESHOLD, MMAP_FROM_BYTES)


def trim_freed() -> None:
    """Give the heap's freed pages back to the OS (glibc's malloc_trim; a no-op off glibc):
    after the stages, every thread's heap still holds the small copies, tiles and boxes it
    freed, and the audit that follows would count on top of them. Measured at the end of a
    4-s 4K --video run (x264 already let go): 1063 MB before, 948 MB after."""
    gc.collect()  # a finished job's objects in reference cycles first
    _glibc("malloc_trim", 0)


def _glibc(name: str, *args) -> None:
    """Call glibc's malloc tuning function `name`; off glibc there is nothing to tune."""
    try:
        getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)(*args)
    except (OSError, AttributeError):
        pass


def detect_size(info: VideoInfo, imgsz: int) -> tuple[int, int] | None:
    """(w, h) of the picture inside the detector's letterbox (long side = `imgsz`), as every
    detector here scales a frame anyway; None when that is not smaller than the frame."""
    if max(info.width, info.height) <= imgsz:
        return None
    return Geometry.fit((info.height, info.width), imgsz, stride=32, rect=True).new_wh


def _grow(plan: BufferPlan, field_name: str, target: int, budget: int, detect_full: float) -> BufferPlan:
    """`plan` with `field_name` raised toward `target` as far as the budget allows, and
    the full frames waiting for a tile scan within `detect_full` bytes."""
    best = plan
    for value in range(getattr(plan, field_name) + 1, target + 1):
        candidate = replace(best, **{field_name: value})
        if candidate.peak_bytes > budget or candidate.detect_full_bytes > max(detect_full, plan.detect_full_bytes):
            break
        best = candidate
    return best
