"""One long video across workers (issue 33): the "Done when" check and its timings.

    python benchmarks/bench_segments.py [--seconds 60] [--size 1920x1080] [--segment-s 15]
        [--engines single,workers,ray] [--keep DIR]

Makes a clip of real faces (benchmarks/make_face_clip.py's virtual camera) with a marker
square flashed on known frames and a click in its audio at each (tests/segmentkit.py), then
runs `python -m pipeline CLIP --target face --video OUT.mp4 -o OUT.zip` as one process, with
`--workers 2` and with `--ray --workers 2` (local Ray), `--segment-s` as given, and checks
each split run against the single one: the same frame count, the same ZIP image names,
every face box the single run masks on a ZIP frame within one second of a boundary masked
too (a box within 2 px), the flashes on the same frames and the clicks within one frame of
the source's. Prints the wall time of each (start-up and model load included), and the
per-segment costs: model load in a fresh process, the seek to a segment's first frame, and
the overlap's share of the frames decoded and detected.
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
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import numpy as np  # noqa: E402
from segmentkit import FPS, click_times, flashed_frames, video_frames, write_face_clip, zip_images, zip_rows  # noqa: E402


def run(clip: Path, out: Path, name: str, extra: list[str], segment_s: float) -> float:
    cmd = [sys.executable, "-m", "pipeline", str(clip), "--target", "face", "-o", str(out / f"{name}.zip"),
           "--video", str(out / f"{name}.mp4"), "--segment-s", str(segment_s), *extra]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{name} failed: {done.stderr[-2000:]}")
    return wall


def check(out: Path, name: str, clip: Path, boundaries: list[int]) -> dict:
    single_rows, rows = zip_rows(out / "single.zip"), zip_rows(out / f"{name}.zip")
    near = [r for r in single_rows if min(abs(int(r["frame"]) - b) for b in boundaries) <= FPS]
    boxes: dict[str, list] = {}
    for r in rows:
        boxes.setdefault(r["frame"], []).append(np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")]))
    def box(r):
        return np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")])

    def covered(a, b) -> float:  # the share of box a inside box b
        w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
        return 0.0 if w <= 0 or h <= 0 else w * h / ((a[2] - a[0]) * (a[3] - a[1]))

    missed = [r for r in near if not any(np.abs(b - box(r)).max() < 2 for b in boxes.get(r["frame"], []))]
    uncovered = [r for r in near if not any(covered(box(r), b) >= 0.9 for b in boxes.get(r["frame"], []))]
    a, b = video_frames(out / "single.mp4"), video_frames(out / f"{name}.mp4")
    source_clicks, clicks = click_times(clip), click_times(out / f"{name}.mp4")
    return {"frames": len(b), "single_frames": len(a), "same_zip_names": sorted(zip_images(out / "single.zip")) ==
            sorted(zip_images(out / f"{name}.zip")), "boxes_near_boundaries": len(near), "boxes_all": (len(single_rows), len(rows)),
            "not_within_2px": len(missed), "not_90pct_covered": len(uncovered),
            "same_flashes": flashed_frames(a) == flashed_frames(b),
            "click_error_ms": round(1000 * float(np.max(np.abs(np.array(clicks) - source_clicks))), 2)
            if len(clicks) == len(source_clicks) else None}


def per_segment_costs(clip: Path, segment_s: float) -> dict:
    from pipeline import Settings
    from pipeline.batch.segment_job import read_range
    from pipeline.batch.segments import overlap_frames, plan_segments
    from pipeline.io.video import probe_video

    load = subprocess.run([sys.executable, "-c", "import time; t=time.perf_counter(); from pipeline import Settings; "
                           "from pipeline.models import load_detector; load_detector(Settings(target='face')); "
                           "print(time.perf_counter()-t)"], cwd=REPO, capture_output=True, text=True)
    info = probe_video(clip)
    settings = Settings(target="face", segment_s=segment_s)
    segments = plan_segments(info, settings, True)
    middle = segments[len(segments) // 2]
    started = time.perf_counter()
    frames = read_range(clip, middle.read_start, middle.read_start + 1, info.fps, wanted=lambda i: False)
    next(frames)
    frames.close()
    seek_s = time.perf_counter() - started
    decoded = sum((s.read_end or info.frame_count) - s.read_start for s in segments)
    return {"segments": len(segments), "overlap_frames_each_side": overlap_frames(info, settings, True),
            "frames_decoded_over_frames": round(decoded / info.frame_count, 3),
            "model_load_s (fresh process, import included)": round(float(load.stdout.strip() or "nan"), 2),
            "seek_to_a_middle_segment_s": round(seek_s, 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--segment-s", type=float, default=15.0)
    p.add_argument("--engines", default="single,workers,ray")
    p.add_argument("--keep", type=Path, default=None)
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    out = args.keep or Path(tempfile.mkdtemp(prefix="bench-segments-"))
    out.mkdir(parents=True, exist_ok=True)
    clip = out / "clip.mp4"
    if not clip.exists():
        write_face_clip(clip, args.seconds, (width, height))
    os.environ.setdefault("PYTHONPATH", str(REPO))
    report = {"cpu": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?"),
              "cores": os.cpu_count(), "clip": f"{args.seconds:g} s {width}x{height} {FPS} fps",
              "segment_s": args.segment_s}
    engines = args.engines.split(",")
    report["wall_s"] = {}
    for name in engines:
        extra = {"single": [], "workers": ["--workers", "2"], "ray": ["--ray", "--workers", "2"]}[name]
        report["wall_s"][name] = round(run(clip, out, name, extra, args.segment_s), 1)
        print(json.dumps({name: report["wall_s"][name]}), flush=True)
    length = round(args.segment_s * FPS)
    boundaries = list(range(length, round(args.seconds * FPS) - length + 1, length))
    for name in engines:
        if name != "single":
            report[name] = check(out, name, clip, boundaries)
    report["per_segment"] = per_segment_costs(clip, args.segment_s)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
