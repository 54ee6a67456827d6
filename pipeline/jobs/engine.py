"""Stages on threads over bounded queues, with one stop event: the plumbing of a run,
with no knowledge of video or masks.

Every put and get polls the stop event, so an error in any stage, a cap, or a cancel ends
every thread within a fraction of a second; the first stage error is kept for the caller.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

END = object()  # end-of-stream marker passed down the queues
POLL_S = 0.05


class Stopped(Exception):
    """Raised inside a stage when the run's stop event is set."""


class Engine:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[tuple[str, BaseException]] = []
        self.threads: list[threading.Thread] = []

    def put(self, q: queue.Queue, item, until: threading.Event | None = None) -> bool:
        """Waits for room; False (item not queued) once `until` is set: its reader is gone."""
        while not self.stop.is_set():
            if until is not None and until.is_set():
                return False
            try:
                q.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        raise Stopped

    def get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                continue
        raise Stopped

    def batches(self, q: queue.Queue, size: int) -> Iterator[list]:
        """Lists of up to `size` items: waits for the first, then takes only what is already
        queued (never waits to fill a batch). Ends at END."""
        while True:
            first = self.get(q)
            if first is END:
                return
            batch = [first]
            while len(batch) < size:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is END:
                    yield batch
                    return
                batch.append(item)
            yield batch

    def drain(self, q: queue.Queue) -> Iterator:
        """Items of `q` until END."""
        while (item := self.get(q)) is not END:
            yield item

    def start(self, name: str, body: Callable[[], None]) -> threading.Thread:
        def target():
            try:
                body()
            except Stopped:
                pass
            except BaseException as err:  # noqa: BLE001 - every stage error ends the run
                self.errors.append((name, err))
                self.stop.set()

        thread = threading.Thread(target=target, name=f"mosaic-{name}", daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def wait(self, timeout: float) -> None:
        """Up to `timeout` for the stages: joins a live one (the reader ends first, and
        joining a finished thread returns at once, which would spin the caller's loop)."""
        live = next((t for t in self.threads if t.is_alive()), None)
        if live is not None:
            live.join(timeout)

    def shut_down(self, timeout: float = 5.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=timeout)
