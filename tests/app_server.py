"""Helpers for the tests that run the real app: `python app.py` in a subprocess on a free
port, with its own results and Gradio temp folders, stopped (and killed if it must be) at
the end; plus a longer copy of the sample clip for jobs that must still be running when a
test stops them.

Not a conftest: the app tests import it explicitly (tests/ is on sys.path under pytest)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "ui" / "assets" / "vtest_clip.mp4"  # 40 frames, 768x576, 10 fps
SAMPLE_FRAMES, SAMPLE_SIZE = 40, (768, 576)
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    url: str  # ends with "/"
    process: subprocess.Popen
    results_dir: Path  # MOSAIC_RESULTS_DIR of the server
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def job_dirs(self) -> set[str]:
        """Names of the result folders the server has made (one per job)."""
        if not self.results_dir.is_dir():
            return set()
        return {p.name for p in self.results_dir.iterdir()}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "gradio_api/info", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # only the server this helper started, by its pid
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def running_app(workdir: Path, **extra_env: str) -> Iterator[AppServer]:
    """`python app.py` with the untrained yolo11n.yaml model (no weights download here),
    listening on 127.0.0.1:<free port>; results go to workdir/results. Yields once the
    server answers; the server is stopped when the block ends, however it ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results"
    gradio_tmp = workdir / "gradio-tmp"
    log_path = workdir / "app.log"
    for attempt in range(2):  # a second try if another process took the port meanwhile
        port = free_port()
        env = {
            **os.environ,
            "MOSAIC_MODEL": "yolo11n.yaml",
            "MOSAIC_AUDIT": "sample",  # the product's default, not the suite's (conftest.py)
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "MOSAIC_RESULTS_DIR": str(results),
            "GRADIO_TEMP_DIR": str(gradio_tmp),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        with open(log_path, "ab") as log:
            process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
        server = AppServer(f"http://127.0.0.1:{port}/", process, results, log_path)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(server.url):
                if process.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"app.py did not answer within {START_TIMEOUT_S} s:\n{server.log_tail()}")
                time.sleep(0.3)
            if process.poll() is not None:
                if attempt == 0 and "address already in use" in server.log_tail().lower():
                    continue
                raise AssertionError(f"app.py exited with code {process.returncode}:\n{server.log_tail()}")
        except BaseException:
            _stop(process)
            raise
        try:
            yield server
        finally:
            _stop(process)
        return


def long_clip(dest: Path, repeats: int) -> Path:
    """The sample clip played `repeats` times in a row (re-encoded, same size and rate), so a
    job on it runs long enough to be stopped part way."""
    import av

    with av.open(str(SAMPLE)) as source:
        frames = [f.to_ndarray(format="rgb24") for f in source.decode(video=0)]
    with av.open(str(dest), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "5"}
        for _ in range(repeats):
            for image in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return dest
