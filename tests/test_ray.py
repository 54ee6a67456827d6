"""`--ray` (issue 12) on a local Ray that this test starts, on 127.0.0.1 only (no dashboard, a
small object store, usage stats off), through the same `ray_batch.connect` the CLI uses.

Ray is an optional extra: this module installs nothing; `pip install -r tests/requirements.txt`
brings it in (that file includes ../requirements-ray.txt).

The folder of three clips and a broken file goes through `--ray --workers 2`: the same lines
in the same order and the same images (names and PNG pixels) as the serial run, although
the actor writing a video is killed (by this test, by its process id): Ray restarts it and
retries the video; no `.partial` file is left.
"""
from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local node listens on the loopback only

import ray  # noqa: E402  (after the environment above, which Ray reads at import)
from batchkit import (  # noqa: E402
    COMMON,
    assert_same_outputs,
    kill_the_writer,
    run_cli,
    working_files,
)

from pipeline.batch import ray as ray_batch  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    assert not ray.is_initialized()
    started = ray_batch.connect(None)
    assert started
    try:
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
        yield ray
    finally:
        ray.shutdown()


def test_ray_gives_the_serial_images_even_when_an_actor_dies_mid_video(local_ray, serial, videos, model,
                                                                       capsys, tmp_path):
    out = tmp_path / "out"
    killed: list[int] = []
    killer = threading.Thread(target=kill_the_writer, args=(out, killed), daemon=True)
    killer.start()
    code, lines, err = run_cli([videos, "-o", out, "--model", model, *COMMON, "--ray", "--workers", "2"], capsys)
    killer.join(5)
    assert killed, "no Ray worker was caught mid-video"
    assert code == 1, err
    assert [line["input"] for line in lines] == [line["input"] for line in serial["lines"]]
    assert [line["status"] for line in lines] == [line["status"] for line in serial["lines"]]
    assert working_files(out) == []
    assert_same_outputs(out, serial["out"])
    assert not any(p.name.startswith(ray_batch.MARKER_PREFIX) for p in out.iterdir())
    assert ray.is_initialized()  # a Ray the caller started is left running


def test_each_node_checks_it_sees_and_can_write_out_dir(tmp_path, monkeypatch):
    marker = "m"
    assert "not there" in ray_batch.probe_out_dir(str(tmp_path), marker)
    (tmp_path / marker).write_text("")
    assert ray_batch.probe_out_dir(str(tmp_path), marker) is None

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(ray_batch.tempfile, "mkstemp", read_only)
    assert "cannot write" in ray_batch.probe_out_dir(str(tmp_path), marker)
    assert [p.name for p in tmp_path.iterdir()] == [marker]


def test_without_ray_installed_the_batch_says_how_to_get_it(monkeypatch, tmp_path, videos, capsys):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    code, lines, err = run_cli([videos, "-o", tmp_path / "out", "--ray", "--model", "yolo11n.yaml"], capsys)
    assert code == 2 and lines == []
    assert "error: --ray needs Ray, an optional extra: pip install -r requirements-ray.txt" in err
