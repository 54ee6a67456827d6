"""`--ray [ADDRESS]`: the batch on a Ray cluster (Ray is an optional extra:
`pip install -r requirements-ray.txt`).

No address: a Ray of this machine only is started (bound to 127.0.0.1, no dashboard, a
small object store, usage stats off) and stopped at the end. `auto` or `ray://host:port`
(or `host:port`): connect to that cluster. A Ray already started in this process (a test,
a notebook) is used as it is.

One actor per worker slot holds a loaded model: `num_gpus=1` each when the cluster has GPUs
(and the device is not forced to cpu), else a share of the cluster's CPUs. Each video is
one task. Outputs are written straight into OUT_DIR, which must be a folder every node sees
at the same path (a shared mount): before any video, each actor checks that it sees a
marker file the driver wrote there and that it can create and remove a file of its own, or
the batch stops with one line naming the node. A worker that dies is restarted by Ray and
its video retried (`max_restarts` / `max_task_retries`); since every output is written
under a `.partial` name and renamed when complete, a dead worker never leaves a
half-written file under a final name, and its `.partial` files are removed.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

from ..errors import MosaicError, OutputError
from .plan import Item, JobOptions, failed_line, remove_working_files, run_item

REQUIREMENTS_HINT = "pip install -r requirements-ray.txt"
MAX_RETRIES = 2  # restarts of a dead actor, and retries of the video it held
LOCAL_OBJECT_STORE_BYTES = 100 * 1024 * 1024  # tasks pass small dicts; frames never travel
READY_TIMEOUT_S = float(os.environ.get("MOSAIC_RAY_READY_TIMEOUT_S", "900"))  # model load, autoscaling
POLL_S = 0.5
MARKER_PREFIX = ".mosaic-batch-"

Progress = Callable[[int, Item, int, int], None]


class RayBatchError(MosaicError):
    """The cluster cannot run the batch (Ray missing, unreachable, OUT_DIR not shared)."""


def import_ray():
    try:
        import ray
    except ImportError as err:
        raise RayBatchError(f"--ray needs Ray, an optional extra: {REQUIREMENTS_HINT} ({err})") from err
    return ray


def connect(address: str | None) -> bool:
    """Start or join Ray; True when this call started a local Ray (to stop at the end)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no report to Ray's servers
    local = address in (None, "", "local")
    if local:
        # Ray picks the machine's outward address for a node unless clusters are off; a
        # local Ray for one batch has no reason to listen anywhere but the loopback.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = import_ray()
    if ray.is_initialized():
        return False
    package = Path(__file__).resolve().parents[1]  # pipeline/, the whole package
    if local:  # workers on this machine import the package from where it is
        path = os.pathsep.join(p for p in (str(package.parent), os.environ.get("PYTHONPATH", "")) if p)
        runtime_env = {"env_vars": {"YOLO_VERBOSE": "False", "PYTHONPATH": path}}
    else:  # the package travels with the job: the nodes need only the dependencies installed
        runtime_env = {"py_modules": [str(package)], "env_vars": {"YOLO_VERBOSE": "False"}}
    try:
        if local:
            ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, logging_level=logging.ERROR,
                     log_to_driver=False, runtime_env=runtime_env)
        else:
            ray.init(address=address, logging_level=logging.ERROR, runtime_env=runtime_env)
    except Exception as err:  # ConnectionError, ValueError for a bad address, ...
        where = "a local Ray" if local else f"the Ray cluster at {address}"
        raise RayBatchError(f"Cannot start or reach {where}: {' '.join(str(err).split())[:300]}") from err
    return True


def probe_out_dir(out_dir: str, marker: str) -> str | None:
    """Run on each node: None when OUT_DIR is the driver's folder (its marker file is seen)
    and writable (a file is created and removed), else the reason."""
    folder = Path(out_dir)
    if not (folder / marker).is_file():
        return (f"it does not see {folder} as the driver does (the batch's marker file is not there): "
                "OUT_DIR must be a folder every node sees at the same path (a shared mount)")
    try:
        handle, probe = tempfile.mkstemp(prefix=".mosaic-node-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        return f"it cannot write in {folder} ({err.strerror or err})"
    return None


def _worker_class(ray):
    """The actor class, made when Ray is there (Ray is optional, so not at import)."""

    @ray.remote(max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES, max_concurrency=2)
    class MosaicWorker:
        """One worker slot: a loaded model, one video at a time. A second thread answers
        progress() while process() runs."""

        def __init__(self, settings, options: JobOptions):
            from .workers import load_model

            self.settings, self.options = settings, options
            self.current = (-1, 0, 0)
            self.error = None
            try:
                load_model(settings)
            except MosaicError as err:  # reported by ready(), so the batch stops with its line
                self.error = str(err)

        def ready(self, out_dir: str, marker: str) -> dict:
            node = ray.util.get_node_ip_address()
            problem = self.error or probe_out_dir(out_dir, marker)
            return {"node": node, "pid": os.getpid(), "error": problem}

        def process(self, item: Item) -> dict:
            self.current = (item.index, 0, 0)

            def progress(index: int, frames_read: int, frames_total: int) -> None:
                self.current = (index, frames_read, frames_total)

            try:
                return run_item(item, self.settings, self.options, on_progress=progress)
            finally:
                self.current = (-1, 0, 0)

        def progress(self) -> tuple[int, int, int]:
            return self.current

        def pid(self) -> int:
            return os.getpid()

    return MosaicWorker


class RayPool:
    """`with RayPool(address, workers, settings, options, out_dir) as pool: pool.run(items, progress)`."""

    def __init__(self, address: str | None, workers: int | None, settings, options: JobOptions | None,
                 out_dir: str | Path, warn: Callable[[str], None] = lambda text: None):
        self.address, self.requested, self.settings = address, workers, settings
        self.options = options or JobOptions()
        self.out_dir = Path(os.path.abspath(Path(out_dir).expanduser()))
        self.warn = warn
        self.actors: list = []
        self._started = False
        self._ray = None
        self._in_flight: dict = {}
        self._stdout = None

    # -- cluster ---------------------------------------------------------------------------
    def __enter__(self) -> "RayPool":
        # Ray prints its notices (a task retried, a worker died) on the driver's sys.stdout,
        # which carries one JSON line per input: while the batch runs they go to stderr.
        self._stdout, sys.stdout = sys.stdout, sys.stderr
        self._started = connect(self.address)
        self._ray = ray = import_ray()
        try:
            self._start_actors(ray)
        except BaseException as err:
            self.__exit__(None, None, None)
            if isinstance(err, Exception) and not isinstance(err, MosaicError):
                raise RayBatchError(f"Ray could not start the workers: {_short(err)}") from err
            raise
        return self

    def _plan_slots(self, ray) -> tuple[int, dict]:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        nodes = max(1, sum(1 for node in ray.nodes() if node.get("Alive")))
        use_gpu = gpus > 0 and self.settings.device != "cpu"
        workers = self.requested or (gpus if use_gpu else nodes)
        if use_gpu:
            if workers > gpus:
                self.warn(f"{workers} Ray workers asked for, the cluster has {gpus} GPUs: "
                          "the others wait until a GPU frees up (or the cluster grows)")
            return workers, {"num_gpus": 1, "num_cpus": 1}
        if workers > cpus:
            self.warn(f"{workers} Ray workers asked for, the cluster has {cpus} CPUs: "
                      "the others wait until CPUs free up (or the cluster grows)")
        return workers, {"num_cpus": max(1, cpus // workers)}

    def _start_actors(self, ray) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        workers, resources = self._plan_slots(ray)
        worker_class = _worker_class(ray)
        self.actors = [worker_class.options(**resources).remote(self.settings, self.options)
                       for _ in range(workers)]
        marker = f"{MARKER_PREFIX}{uuid.uuid4().hex}"
        marker_path = self.out_dir / marker
        try:
            marker_path.write_text("This batch's Ray workers check that they see this file; it is removed at once.\n")
        except OSError as err:
            raise OutputError(f"Cannot write in {self.out_dir}: {err.strerror or err}") from err
        try:
            replies = ray.get([actor.ready.remote(str(self.out_dir), marker) for actor in self.actors],
                              timeout=READY_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError as err:
            raise RayBatchError(f"The Ray workers were not all up after {READY_TIMEOUT_S:.0f} s "
                                "(not enough free CPUs/GPUs in the cluster?)") from err
        except ray.exceptions.RayError as err:
            raise RayBatchError(f"A Ray worker failed to start: {_short(err)}") from err
        finally:
            with contextlib.suppress(OSError):
                marker_path.unlink()
        for reply in replies:
            if reply["error"]:
                raise RayBatchError(f"The Ray worker on node {reply['node']} cannot be used: {reply['error']}")

    def __exit__(self, *exc) -> None:
        ray = self._ray
        for item in self._in_flight.values():  # stopped mid-video (Ctrl-C, an error)
            remove_working_files(item[1])
        self._in_flight.clear()
        if ray is not None:
            for actor in self.actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
        self.actors = []
        if self._started and ray is not None:
            ray.shutdown()
            self._started = False
        if self._stdout is not None:
            sys.stdout, self._stdout = self._stdout, None

    def pids(self) -> list[int]:
        return self._ray.get([actor.pid.remote() for actor in self.actors], timeout=60)

    # -- the batch -------------------------------------------------------------------------
    def run(self, items: list[Item], progress: Progress | None = None) -> Iterator[tuple[Item, dict]]:
        """One task per video, one video per actor at a time; yields (item, line) as each ends."""
        ray = self._ray
        pending = collections.deque(items)
        idle = collections.deque(enumerate(self.actors))
        in_flight = self._in_flight  # task ref -> (slot, item, actor)
        last_poll = 0.0
        while pending or in_flight:
            if pending and not idle and not in_flight:  # every slot's actor died for good
                while pending:
                    item = pending.popleft()
                    yield item, failed_line(item, f"No Ray worker is left: each died more than {MAX_RETRIES} times")
                break
            while idle and pending:
                slot, actor = idle.popleft()
                item = pending.popleft()
                in_flight[actor.process.remote(item)] = (slot, item, actor)
                if progress is not None:
                    progress(slot, item, 0, 0)
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
            for ref in done:
                slot, item, actor = in_flight.pop(ref)
                try:
                    line = ray.get(ref)
                except ray.exceptions.RayActorError as err:  # died past its restarts
                    remove_working_files(item)
                    line = failed_line(item, f"Its Ray worker died {MAX_RETRIES + 1} times while processing "
                                             f"this video: {_short(err)}")
                    self._retire(slot)
                    actor = None
                except ray.exceptions.RayError as err:
                    remove_working_files(item)
                    line = failed_line(item, f"Ray failed this video: {_short(err)}")
                if actor is not None:
                    idle.append((slot, actor))
                yield item, line
            if progress is not None and in_flight and time.monotonic() - last_poll >= POLL_S:
                last_poll = time.monotonic()
                self._poll_progress(ray, progress)

    def _retire(self, slot: int) -> None:
        """An actor that died past its restarts is not used again (its node may be bad)."""
        with contextlib.suppress(Exception):
            self._ray.kill(self.actors[slot], no_restart=True)

    def _poll_progress(self, ray, progress: Progress) -> None:
        asked = {actor.progress.remote(): (slot, item) for slot, item, actor in self._in_flight.values()}
        ready, _ = ray.wait(list(asked), num_returns=len(asked), timeout=0.2)
        for ref in ready:  # a late answer is dropped; the next poll asks again
            slot, item = asked[ref]
            with contextlib.suppress(Exception):
                index, frames_read, frames_total = ray.get(ref)
                if index == item.index:
                    progress(slot, item, frames_read, frames_total)


def _short(err: BaseException) -> str:
    text = " ".join(str(getattr(err, "cause", None) or err).split())
    return text[:300] or type(err).__name__
