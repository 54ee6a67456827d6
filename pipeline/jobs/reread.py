"""The second read of a video (budget.py's `reread`): detection saw small copies, so the
full frames are decoded again here, in step, and handed to the renderer just as their
boxes are ready. A 4K frame then waits a few frames, not the whole hold look-ahead."""
from __future__ import annotations

import contextlib
import queue
import threading
from pathlib import Path
from typing import Callable, Iterator

from ..errors import MosaicError
from ..io.video import Frame, read_frames
from .budget import REREAD_DECODE_THREADS
from .engine import END, Engine


class Rereader:
    def __init__(self, engine: Engine, path: Path, wanted: Callable[[int], bool], depth: int,
                 frames: Callable[[], Iterator[Frame]] | None = None):
        self.engine, self.path, self.wanted = engine, path, wanted
        # what to decode again: the whole file, or (a segment of a long video) its own range
        self.open_frames = frames or (lambda: read_frames(self.path, wanted=self.wanted, threads=REREAD_DECODE_THREADS))
        self.frames: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.done = threading.Event()  # the renderer took its last frame: stop reading
        self._taken = None

    def read(self) -> None:
        """Thread body: the full frames, in stream order, until the renderer is done."""
        frames = self.open_frames()
        with contextlib.closing(frames):
            for frame in frames:
                if frame.image is not None and not self.engine.put(self.frames, frame, until=self.done):
                    return  # the renderer ended first (a stop that keeps what is done)
        self.engine.put(self.frames, END, until=self.done)

    def full(self, small: Frame) -> Frame:
        """The full-size frame for the small copy `small` (frames come in the same order)."""
        if self._taken is None:
            self._taken = self.engine.drain(self.frames)
        full = next(self._taken, None)
        if full is None or full.index != small.index:
            raise MosaicError(f"Reading {self.path.name} a second time gave different frames "
                              f"(frame {small.index}); did the file change during the run?")
        return full
