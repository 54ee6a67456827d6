"""Helpers shared by the batch tests (test_batch.py, test_ray.py): a folder of short clips
with one broken file, a model that always finds "people", the CLI run in this process, and
a comparison of two OUT_DIRs image by image."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import av
import numpy as np
from mediakit import read_zip

CLIPS = ("a/clip.mp4", "b/clip.mp4", "street.mp4")  # two share a stem: outputs must not collide
BROKEN = "broken.mp4"
CLIP_FRAMES, CLIP_SIZE = 6, (320, 240)
# Fast and deterministic: small detector input, every 2nd frame, lossless images, and one
# frame per detector call: the masking model's boxes all score the same, so which ones NMS
# keeps turns on the last bit of the scores, which depends on how frames were batched (and
# how frames meet in a batch depends on timing).
COMMON = ["--format", "png", "--interval", "2", "--imgsz", "320", "--backend", "torch", "--device", "cpu",
          "--batch", "1"]


def cut_clip(source: Path, dest: Path, start: int, count: int, size=CLIP_SIZE) -> Path:
    """`count` frames of `source` from `start`, scaled to `size`, as a small H.264 MP4."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as src, av.open(str(dest), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for index, frame in enumerate(src.decode(video=0)):
            if index >= start + count:
                break
            if index >= start:
                picture = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                picture.pts = None
                out.mux(stream.encode(picture))
        out.mux(stream.encode())
    return dest


def make_videos(folder: Path, excerpt: Path) -> Path:
    """folder/a/clip.mp4, folder/b/clip.mp4, folder/street.mp4 (6 frames each) and a
    folder/broken.mp4 that is not a video."""
    for n, name in enumerate(CLIPS):
        cut_clip(excerpt, folder / name, start=8 * n, count=CLIP_FRAMES)
    (folder / BROKEN).write_bytes(b"this is not a video\n" * 20)
    return folder


def masking_model(path: Path) -> Path:
    """The untrained yolo11n network with its coarsest head's person score pushed to 0.5
    everywhere, saved as weights: it "finds" the same grid of large boxes in every frame,
    so the outputs carry real mosaics whose pixels depend on the frame (the plain untrained
    network finds nobody, and an unmasked frame would prove little)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    import torch
    from ultralytics import YOLO

    with torch.random.fork_rng():
        torch.manual_seed(0)
        yolo = YOLO("yolo11n.yaml")
    for level, conv in enumerate(seq[-1] for seq in yolo.model.model[-1].cv3):
        conv.bias.data[:] = -20.0  # no class anywhere...
        if level == 2:
            conv.bias.data[0] = 0.0  # ...but person, score 0.5, on the stride-32 grid
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    yolo.save(str(tmp))
    os.replace(tmp, path)
    return path


def shared_model_path(base: Path) -> Path:
    """Where the session's masking model is kept (made once, by whichever test needs it first)."""
    return base / "batch-reference" / "masking-yolo11n.pt"


def serial_reference(base: Path, excerpt: Path) -> dict:
    """The clips, the model, and the reference run (the folder processed in this process,
    one video after another), made once per test session under `base` and shared by the
    batch and the Ray tests: {"videos", "model", "out", "code", "lines", "stderr"}."""
    import contextlib
    import io

    from pipeline.cli import main

    root = base / "batch-reference"
    record = root / "run.json"
    if not record.exists():
        videos = make_videos(root / "videos", excerpt)
        model = masking_model(shared_model_path(base))
        out = root / "out"
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main([str(videos), "-o", str(out), "--model", str(model), *COMMON])
        record.write_text(json.dumps({"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}))
    run = json.loads(record.read_text())
    return {"videos": root / "videos", "model": shared_model_path(base), "out": root / "out",
            "code": run["code"], "lines": [json.loads(x) for x in run["stdout"].splitlines()],
            "stderr": run["stderr"]}


def run_cli(args: list[str], capsys) -> tuple[int, list[dict], str]:
    """`python -m pipeline ARGS` in this process: (exit code, JSON lines, stderr)."""
    from pipeline.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, lines, captured.err


def outputs(out_dir: Path) -> dict[str, dict[str, np.ndarray | str]]:
    """Every ZIP under out_dir (by relative path): image name -> decoded pixels, plus the CSV."""
    found = {}
    for path in sorted(out_dir.rglob("*.zip")):
        contents = read_zip(path)
        entry: dict[str, np.ndarray | str] = {name: contents.decoded(name) for name in contents.image_names}
        entry["detections.csv"] = contents.csv_text
        found[str(path.relative_to(out_dir))] = entry
    return found


def assert_same_outputs(a: Path, b: Path) -> None:
    left, right = outputs(a), outputs(b)
    assert sorted(left) == sorted(right)
    for zip_name, images in left.items():
        assert sorted(images) == sorted(right[zip_name]), zip_name
        for name, value in images.items():
            if isinstance(value, str):
                assert value == right[zip_name][name], f"{zip_name}:{name} differs"
            else:
                assert np.array_equal(value, right[zip_name][name]), f"{zip_name}:{name} pixels differ"


def working_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".partial")]


def kill_the_writer(out_dir: Path, killed: list[int], timeout: float = 300.0) -> None:
    """Wait until a process started by this test (a worker: a descendant of this process)
    has one of out_dir's `.partial` files open, i.e. is mid-video, and kill it by its id.
    Meant for a thread beside the batch; `killed` gets the pid."""
    import psutil

    me = psutil.Process()
    prefix = str(out_dir.resolve())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not killed:
        for process in me.children(recursive=True):
            try:
                writing = any(f.path.startswith(prefix) and f.path.endswith(".partial")
                              for f in process.open_files())
                if writing:
                    process.kill()
                    killed.append(process.pid)
                    return
            except psutil.Error:  # it ended meanwhile, or is not ours to inspect
                continue
        time.sleep(0.02)


def wait_for(condition, timeout: float, period: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(period)
    return None
