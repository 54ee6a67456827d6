"""`--workers N`: N local worker processes, each loading the model once and then taking one
video at a time from the batch.

Processes are started with `spawn` (a fresh interpreter: no inherited threads, locks or
CUDA state). Each worker talks to the batch over its own pipe: "ready" once its model is
loaded, "progress" while a video runs, "done" with the video's summary line. A worker that
dies mid-video (killed, out of memory, a crash in a native library) is replaced and the
video is handed out again, up to MAX_ATTEMPTS times; the `.partial` files it left are
removed, so nothing half-written stays in OUT_DIR.
"""
from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterator

from ..errors import Cancelled, ModelError, MosaicError
from .plan import Item, JobOptions, failed_line, remove_working_files, run_item

MAX_ATTEMPTS = 3  # a video whose worker died this many times is reported as failed
PROGRESS_PERIOD_S = 0.25
STOP_WAIT_S = 5.0

Progress = Callable[[int, Item, int, int], None]  # (slot, item, frames_read, frames_total)


def load_model(settings) -> None:
    """Load the detector into this process's cache (no model when boxes are replayed)."""
    if settings.detections_csv is None:
        from ..models import load_detector

        load_detector(settings)


def _worker_main(conn: Connection, settings, options: JobOptions) -> None:
    """A worker process: load the model, then run the videos it is sent until told to stop."""
    try:
        load_model(settings)
        conn.send(("ready", os.getpid()))
    except MosaicError as err:
        conn.send(("init-error", str(err)))
        return
    except KeyboardInterrupt:
        return
    try:
        while True:
            item = conn.recv()
            if item is None:
                return
            conn.send(("done", item.index, run_item(item, settings, options, on_progress=_Throttled(conn))))
    except (KeyboardInterrupt, Cancelled, EOFError, BrokenPipeError):
        return


class _Throttled:
    """Sends a video's progress up the pipe, at most every PROGRESS_PERIOD_S."""

    def __init__(self, conn: Connection):
        self.conn, self.sent = conn, 0.0

    def __call__(self, index: int, frames_read: int, frames_total: int) -> None:
        now = time.monotonic()
        if now - self.sent >= PROGRESS_PERIOD_S:
            self.sent = now
            self.conn.send(("progress", index, frames_read, frames_total))


@dataclass
class _Slot:
    number: int
    process: multiprocessing.Process
    conn: Connection
    ready: bool = False
    item: Item | None = None


class LocalPool:
    """`with LocalPool(2, settings, options) as pool: for item, line in pool.run(items, progress)`."""

    def __init__(self, workers: int, settings, options: JobOptions | None = None):
        if workers < 1:
            raise MosaicError(f"--workers must be at least 1 (got {workers})")
        self.workers, self.settings, self.options = workers, settings, options or JobOptions()
        self._context = multiprocessing.get_context("spawn")
        self._slots: dict[int, _Slot] = {}
        self._crashes_before_ready = collections.Counter()
        self._work_dir: str | None = None

    # -- processes ----------------------------------------------------------------------
    def _start(self, number: int) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, self.settings, self.options),
                                        name=f"mosaic-worker-{number}", daemon=True)
        process.start()
        child.close()
        self._slots[number] = _Slot(number, process, parent)

    def __enter__(self) -> "LocalPool":
        if self.options.work_dir is None:  # runs' temp folders, so a killed worker's is removed too
            self._work_dir = tempfile.mkdtemp(prefix="mosaic-batch-")
            self.options = dataclasses.replace(self.options, work_dir=self._work_dir)
        for number in range(self.workers):
            self._start(number)
        return self

    def __exit__(self, *exc) -> None:
        for slot in self._slots.values():
            try:
                slot.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_WAIT_S
        for slot in self._slots.values():
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.terminate()
                slot.process.join(2)
            if slot.item is not None:  # interrupted mid-video: nothing half-written stays
                remove_working_files(slot.item)
            slot.conn.close()
        self._slots.clear()
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def pids(self) -> list[int]:
        return [slot.process.pid for slot in self._slots.values() if slot.process.pid]

    # -- the batch ------------------------------------------------------------------------
    def run(self, items: list[Item], progress: Progress | None = None) -> Iterator[tuple[Item, dict]]:
        """Hand the videos out one at a time; yields (item, summary line) as each ends."""
        pending = collections.deque(items)
        attempts: collections.Counter = collections.Counter()
        remaining = len(items)
        while remaining:
            for slot in list(self._slots.values()):
                if slot.ready and slot.item is None and pending:
                    slot.item = pending.popleft()
                    slot.conn.send(slot.item)
                    if progress is not None:
                        progress(slot.number, slot.item, 0, 0)
            by_handle = {}
            for slot in self._slots.values():
                by_handle[slot.conn] = slot
                by_handle[slot.process.sentinel] = slot
            for handle in wait(list(by_handle), timeout=1.0):
                slot = by_handle[handle]
                if self._slots.get(slot.number) is not slot:
                    continue  # already replaced after its pipe and its sentinel both fired
                message = self._receive(slot) if handle is slot.conn else None
                if message is None:  # its pipe closed or its process ended
                    if handle is not slot.conn and slot.conn.poll():
                        continue  # read what it said before it died first (its pipe is ready too)
                    failed = self._replace_dead(slot, pending, attempts)
                    if failed is not None:
                        remaining -= 1
                        yield failed
                    continue
                kind = message[0]
                if kind == "ready":
                    slot.ready = True
                elif kind == "init-error":
                    raise ModelError(message[1])
                elif kind == "progress" and progress is not None and slot.item is not None:
                    progress(slot.number, slot.item, message[2], message[3])
                elif kind == "done":
                    item, slot.item = slot.item, None
                    remaining -= 1
                    yield item, message[2]

    def _receive(self, slot: _Slot):
        try:
            return slot.conn.recv()
        except (EOFError, OSError):
            return None

    def _replace_dead(self, slot: _Slot, pending: collections.deque,
                      attempts: collections.Counter) -> tuple[Item, dict] | None:
        """A worker died: start another in its place; its video goes back to the front of
        the queue, or is reported failed after MAX_ATTEMPTS tries."""
        slot.process.join(2)
        if slot.process.is_alive():  # its pipe broke but it still runs: end it for good
            slot.process.kill()
            slot.process.join(2)
        code = slot.process.exitcode
        slot.conn.close()
        item = slot.item
        del self._slots[slot.number]
        outcome = None
        if not slot.ready:
            self._crashes_before_ready[slot.number] += 1
            if self._crashes_before_ready[slot.number] >= 2:
                raise ModelError(f"A worker process died while loading the model (exit code {code})")
        if item is not None:
            remove_working_files(item)
            attempts[item.index] += 1
            if attempts[item.index] < MAX_ATTEMPTS:
                pending.appendleft(item)
            else:
                outcome = (item, failed_line(item, f"The worker process died {attempts[item.index]} times "
                                                   f"while processing this video (last exit code {code})"))
        if pending:
            self._start(slot.number)
        return outcome
