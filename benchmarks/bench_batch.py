"""Batch throughput: videos/min and frames/s for 1 and 2 local workers on 4 short clips.

    python benchmarks/bench_batch.py [--video V] [--clips 4] [--frames 100] [--model yolo11n.yaml]
                                     [--workers 1 2] [--interval 10] [--json OUT]

The clips are cut from V (default ../shared/samples/vtest.avi, 768x576 at 10 fps) into a
temporary folder, each `--frames` frames long, re-encoded to H.264. Each row is one whole
`python -m pipeline CLIPS/ -o OUT --workers N` process, timed from start to exit: Python
start-up, the workers' model loading and the batch itself, as a user meets it; the
`in-batch` column removes the start-up measured by a run on an already-finished OUT (every
video skipped, so no model is loaded) and the model load measured in a worker-sized process,
to show the rate once workers are warm. Frames are source frames read (decoded); detected
frames are those the interval captures. Nothing is hard-coded: every figure comes from
this run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = REPO.parent / "shared" / "samples" / "vtest.avi"


def cut_clips(video: Path, folder: Path, count: int, frames: int) -> list[Path]:
    import av

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with av.open(str(video)) as source:
        decoded = source.decode(video=0)
        for n in range(count):
            path = folder / f"clip{n + 1}.mp4"
            with av.open(str(path), "w") as out:
                stream = None
                for _ in range(frames):
                    frame = next(decoded, None)
                    if frame is None:
                        break
                    if stream is None:
                        stream = out.add_stream("libx264", rate=10)
                        stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                        stream.options = {"preset": "veryfast", "crf": "20"}
                    picture = frame.reformat(format="yuv420p")
                    picture.pts = None
                    out.mux(stream.encode(picture))
                if stream is not None:
                    out.mux(stream.encode())
            paths.append(path)
    return paths


def run_batch(clips: Path, out: Path, workers: int, args: argparse.Namespace) -> tuple[float, list[dict]]:
    command = [sys.executable, "-m", "pipeline", str(clips), "-o", str(out), "--model", args.model,
               "--interval", str(args.interval)]
    if workers > 1:
        command += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(REPO), YOLO_VERBOSE="False")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"batch failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def model_load_s(model: str) -> float:
    """Seconds a fresh process spends importing and loading the model (what each worker pays)."""
    code = ("import time; t=time.perf_counter(); from pipeline import Settings; from pipeline.batch.workers import load_model; "
            f"load_model(Settings(model={model!r})); print(time.perf_counter()-t)")
    env = dict(os.environ, PYTHONPATH=str(REPO), YOLO_VERBOSE="False")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--frames", type=int, default=100, help="frames per clip (default: 100 = 10 s of vtest)")
    p.add_argument("--model", default="yolo11n.yaml", help="yolo11n.yaml: the yolo11n network untrained, same compute")
    p.add_argument("--interval", type=int, default=10)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        clips = cut_clips(args.video, work / "clips", args.clips, args.frames)
        print(f"{len(clips)} clips of {args.frames} frames from {args.video.name}; model {args.model}; "
              f"interval {args.interval}; {os.cpu_count()} CPU cores", flush=True)
        # warm the model's export cache once, so no row pays for making it
        run_batch(work / "clips", work / "warm", 1, args)
        startup, _ = run_batch(work / "clips", work / "warm", 1, args)  # all skipped: start-up only
        load = model_load_s(args.model)
        rows = []
        for workers in args.workers:
            out = work / f"out-{workers}"
            wall, lines = run_batch(work / "clips", out, workers, args)
            frames = sum(line["frames_read"] for line in lines)
            detected = sum(line["images_expected"] for line in lines)
            warm = max(wall - startup - load, 1e-6)
            row = {"workers": workers, "videos": len(lines), "wall_s": round(wall, 2),
                   "videos_per_min": round(60 * len(lines) / wall, 2), "frames_per_s": round(frames / wall, 1),
                   "detected_per_s": round(detected / wall, 1),
                   "in_batch_videos_per_min": round(60 * len(lines) / warm, 2),
                   "in_batch_frames_per_s": round(frames / warm, 1)}
            rows.append(row)
            print(f"workers={workers}: {row['wall_s']:6.1f} s wall  {row['videos_per_min']:5.2f} videos/min  "
                  f"{row['frames_per_s']:6.1f} frames/s ({row['detected_per_s']:.1f} detected/s)   in-batch: "
                  f"{row['in_batch_videos_per_min']:5.2f} videos/min  {row['in_batch_frames_per_s']:6.1f} frames/s",
                  flush=True)
        base = rows[0]
        for row in rows[1:]:
            print(f"{row['workers']} workers vs {base['workers']}: x{base['wall_s'] / row['wall_s']:.2f} wall, "
                  f"x{row['in_batch_frames_per_s'] / base['in_batch_frames_per_s']:.2f} in-batch")
        print(f"(start-up with nothing to do: {startup:.1f} s; model import+load in a fresh process: {load:.1f} s)")
        if args.json:
            args.json.write_text(json.dumps({"startup_s": startup, "model_load_s": load, "rows": rows,
                                             "clips": args.clips, "frames": args.frames, "model": args.model,
                                             "interval": args.interval, "cpu_count": os.cpu_count()}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
