"""A WebRTC video track that masks another one: the browser's webcam in, masked frames out.

The session's worker thread masks the NEWEST frame received from the browser with the
session's own LiveMasker (its tracker, hold and motion), again and again; aiortc pulls
`recv()` of this track and gets the newest masked frame, with its own timestamp. Frames
that arrive while one is being masked (or masked frames the sender has not taken when a
newer one is ready) are dropped, never sent unmasked (the live path's drop rule): latency
stays about one frame of masking, whatever the CPU gives, and masking the next frame
overlaps encoding the last. The event loop (signalling, other sessions, Gradio) never
waits on masking.

New settings (`update`) take effect on the next frame: the worker makes a fresh masker
for them (a new tracker, like the JPEG path), whose first frame waits for its first
detection, so no frame goes out uncovered in between.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from ..errors import MosaicError
from ..io.video import Frame
from ..settings import Settings
from .live import LiveMasker
from .rates import RateWindow

log = logging.getLogger("pipeline.webrtc")
RATE_WINDOW_S = 2.0  # rates are measured over this last stretch


class MaskedTrack(MediaStreamTrack):
    """The masked copy of `source` (a remote video track), made by `make_masker(settings)`
    masks. `ended` is set (with `error` when masking failed) once it stops for good."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, make_masker: Callable[[Settings], LiveMasker],
                 settings: Settings):
        super().__init__()
        self.source, self.make_masker = source, make_masker
        self.settings = settings  # what the next frame is masked with
        self.masker: LiveMasker | None = None  # made and used on the worker thread only
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="mosaic-webrtc")
        self.halt = threading.Event()  # a frame waiting for a detection gives up
        self.error: str | None = None
        self.ended = asyncio.Event()
        self.frames_in = self.frames_out = self.dropped = 0
        self.last_in = time.monotonic()
        self.shown = RateWindow(RATE_WINDOW_S)  # frames shown and detected per second
        self.latency_ms: collections.deque = collections.deque(maxlen=600)  # arrival -> handed to the sender
        self._latest: tuple | None = None  # (av frame, arrival time), the newest not yet masked
        self._arrived = asyncio.Event()
        self._index = 0
        self._t0: float | None = None
        self._out: tuple | None = None  # (av frame, arrival time, masked image), not yet sent
        self._masked = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())
        self._masking = asyncio.ensure_future(self._mask_loop())

    def update(self, settings: Settings) -> None:
        self.settings = settings

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.source.recv()
                if self._latest is not None:
                    self.dropped += 1  # never masked, never sent
                self._latest = (frame, time.monotonic())
                self.frames_in += 1
                self.last_in = time.monotonic()
                self._arrived.set()
        except (MediaStreamError, asyncio.CancelledError):
            pass
        finally:
            self._arrived.set()
            if self.readyState == "live":
                self.stop()

    async def _mask_loop(self) -> None:
        """Masks the newest frame received, again and again, on the worker thread, so the
        next frame is masked while aiortc encodes the last one."""
        try:
            while self.readyState == "live":
                while self._latest is None and self.readyState == "live":
                    self._arrived.clear()
                    await self._arrived.wait()
                if self._latest is None:
                    break
                frame, arrived = self._latest
                self._latest = None
                index, self._index = self._index, self._index + 1
                try:
                    image = await asyncio.get_running_loop().run_in_executor(self.worker, self._mask, frame, index)
                except MosaicError as err:
                    self.error = str(err)
                    log.warning("webrtc session stopped: %s", err)
                    break
                except Exception as err:  # noqa: BLE001 - a library's failure ends the session, said
                    if self.readyState != "live":
                        break  # stopped meanwhile: the worker was shut down
                    self.error = f"masking failed ({type(err).__name__}); the server log has the details"
                    log.exception("webrtc session stopped")
                    break
                if image is None:  # stopped while waiting for a detection: nothing is sent
                    break
                if self._out is not None:
                    self.dropped += 1  # masked but overtaken before the sender took it
                self._out = (frame, arrived, image)
                self._masked.set()
        except asyncio.CancelledError:
            pass
        finally:
            self._masked.set()
            if self.readyState == "live":
                self.stop()

    async def recv(self) -> VideoFrame:
        while self._out is None:
            if self.readyState != "live":
                raise MediaStreamError
            self._masked.clear()
            await self._masked.wait()
        frame, arrived, image = self._out
        self._out = None
        out = VideoFrame.from_ndarray(image, format="bgr24")
        out.pts, out.time_base = frame.pts, frame.time_base
        now = time.monotonic()
        self.frames_out += 1
        self.latency_ms.append((now - arrived) * 1000)
        self.shown.add(self.masker.detected if self.masker else 0, now)
        return out

    def _mask(self, frame: VideoFrame, index: int) -> np.ndarray | None:
        """On the worker thread: the frame masked with the current settings."""
        settings = self.settings
        if self.masker is None or self.masker.settings != settings:
            old, self.masker = self.masker, None
            if old is not None:
                old.close()
            self.masker = self.make_masker(settings)
        image = frame.to_ndarray(format="bgr24")
        stamp = float(frame.time) if frame.time is not None else time.monotonic()
        self._t0 = stamp if self._t0 is None else self._t0
        return self.masker.mask(Frame(index, max(0.0, stamp - self._t0), image), self.halt)

    def rates(self) -> tuple[float, float]:
        """(frames sent per second, detections per second) over the last stretch."""
        return self.shown.rates()

    def stop(self) -> None:
        """Ends the track, its reader and its worker thread (the masker is closed there).
        Idempotent: the connection, the watcher and Stop may all call it."""
        if self.readyState == "live":
            super().stop()
        if self.ended.is_set():
            return
        self.ended.set()
        self.halt.set()
        for task in (self._reader, self._masking):
            task.cancel()
        self._arrived.set()
        self._masked.set()
        self.worker.submit(self._close_masker)
        self.worker.shutdown(wait=False)

    def _close_masker(self) -> None:
        if self.masker is not None:
            self.masker.close()
            self.masker = None
