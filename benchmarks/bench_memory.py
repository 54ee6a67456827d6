"""Peak memory and speed of the same 10-s clip at 768x576, 1080p and 4K, ZIP-only and with
--video, each as a whole `python -m pipeline` process, with the memory budget (default) and
with a budget so large that the queues take their old fixed depths (16, 16, 8, 8).

    python benchmarks/bench_memory.py [--seconds 10] [--model yolo11n.yaml] [--sizes 768x576,1920x1080,3840x2160]

The clips are vtest.avi's frames scaled up, 30 fps, H.264 with an AAC tone, made once into
benchmarks/results/. Peak memory is the child's own ru_maxrss (start-up and model included).
Targets (issue 15): 4K with --video <= 1600 MB; 1080p and 768x576 no slower than the old depths.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SOURCE = REPO.parent / "shared" / "samples" / "vtest.avi"
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_line  # noqa: E402
OLD_DEPTHS_MB = 100_000  # large enough that every queue gets its full (old) depth
CHILD = """
import resource, sys, json, time
from pipeline.cli import main
t = time.perf_counter(); code = main(sys.argv[1:])
print(json.dumps({"code": code, "wall_s": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), file=sys.stderr)
"""


def make_clip(width: int, height: int, seconds: float) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"clip_{width}x{height}_{seconds:g}s.mp4"
    if not path.exists():
        frames = int(seconds * 30)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(SOURCE),
                        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                        "-vf", f"scale={width}:{height},setpts=N/30/TB", "-r", "30", "-frames:v", str(frames),
                        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-shortest", str(path)], check=True)
    return path


def run_child(clip: Path, model: str, video: bool, memory_mb: float | None, interval: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(clip), "-o", f"{tmp}/out.zip", "--model", model, "--interval", str(interval)]
        if video:
            args += ["--video", f"{tmp}/out.mp4"]
        if memory_mb is not None:
            args += ["--memory-mb", str(memory_mb)]
        done = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "YOLO_VERBOSE": "False"})
        figures = json.loads(done.stderr.strip().splitlines()[-1])
        if figures["code"] != 0:
            raise SystemExit(f"run failed: {done.stderr[-2000:]}")
        return figures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--model", default="yolo11n.yaml")
    p.add_argument("--interval", type=int, default=10, help="ZIP capture interval (default: %(default)s)")
    p.add_argument("--sizes", default="768x576,1920x1080,3840x2160")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    rows = []
    print(f"{'clip':>10} {'mode':>6} | {'peak MB':>8} {'old MB':>8} | {'wall s':>7} {'old s':>7} {'speed ratio':>11}")
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        clip = make_clip(width, height, args.seconds)
        for video in (False, True):
            new = run_child(clip, args.model, video, None, args.interval)
            old = run_child(clip, args.model, video, OLD_DEPTHS_MB, args.interval)
            row = {"size": size, "video": video, "peak_mb": new["peak_mb"], "old_peak_mb": old["peak_mb"],
                   "wall_s": new["wall_s"], "old_wall_s": old["wall_s"],
                   "speed_ratio": old["wall_s"] / new["wall_s"]}
            rows.append(row)
            print(f"{size:>10} {'video' if video else 'zip':>6} | {row['peak_mb']:8.0f} {row['old_peak_mb']:8.0f} | "
                  f"{row['wall_s']:7.1f} {row['old_wall_s']:7.1f} {row['speed_ratio']:10.2f}x", flush=True)
    uhd = [r for r in rows if r["size"] == "3840x2160" and r["video"]]
    if uhd:
        verdict = "met" if uhd[0]["peak_mb"] <= 1600 else "NOT met"
        print(f"4K --video peak: {uhd[0]['peak_mb']:.0f} MB (target <= 1600: {verdict})")
    print(f"CPU: {cpu_line()}; load {os.getloadavg()[0]:.1f} at the end, {time.strftime('%Y-%m-%d')}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
