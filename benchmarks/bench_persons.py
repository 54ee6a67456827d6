"""The bundled person model (ssdlite-person) on real footage, in one run: what each detail
level covers of what the model can find, what the whole process costs, and what yolo11n.yaml
(the same network and compute as yolo11n.pt, untrained) costs on the same clip and settings.

    python benchmarks/bench_persons.py [--seconds 20] [--sizes 576p,1080p] [--details fast,full,max]
    python benchmarks/bench_persons.py --int8      # INT8 against FP32, the 99 % rule

1. Clips: the first --seconds of ../shared/samples/vtest.avi (a plaza, many pedestrians, 10
   fps), as it is (768x576) and scaled to 1440x1080 (people twice as large in pixels, and a
   whole-frame view that shows them at a fifth), H.264.
2. The reference: the bundled model shown the whole frame and overlapping tiles of at most
   640 px (a quarter of a tile's side shared with each neighbour) on every 5th frame, boxes
   at score >= 0.5, duplicates merged (IoU >= 0.5).
3. Ours: `python -m pipeline CLIP --model ssdlite-person --detail D --video OUT.mp4`, whole
   processes. A reference person is covered when our boxes on that frame (detections.csv:
   detected, held and interpolated rows), padded as rendered (--pad 10), cover >= 80 % of
   its box. Then the same run with --model yolo11n.yaml for its cost.

The CPU's name and flags are printed first (and ONEDNN_MAX_CPU_ISA when set: AVX2 shows an
AVX2-only machine's detector on a bigger CPU); compare rows of one run only.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_recall import covered, cpu_line, load  # noqa: E402

SAMPLE = REPO.parent / "shared" / "samples" / "vtest.avi"
SIZES = {"576p": None, "1080p": (1440, 1080)}
EVERY, SCORE, TILE, MERGE_IOU = 5, 0.5, 640, 0.5
PAD, COVERED = 0.10, 0.8


def make_clip(folder: Path, seconds: float, size) -> Path:
    out = folder / f"plaza_{'x'.join(map(str, size)) if size else 'native'}.mp4"
    scale = ["-vf", f"scale={size[0]}:{size[1]}"] if size else []
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(SAMPLE), "-t", str(seconds), *scale,
                    "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def windows(length: int) -> list[tuple[int, int]]:
    if length <= TILE:
        return [(0, length)]
    overlap = TILE // 4
    n = -(-(length - overlap) // (TILE - overlap))
    return [(round(i * (length - TILE) / (n - 1)), TILE) for i in range(n)]


def reference(clip: Path) -> dict[int, np.ndarray]:
    """Frame -> the people the model finds on the whole frame and its 640-px tiles."""
    import av

    from pipeline import Settings
    from pipeline.models import load_detector
    from pipeline.models.face import nms

    model = load_detector(Settings(model="ssdlite-person", conf=SCORE))
    found = {}
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % EVERY:
                continue
            image = frame.to_ndarray(format="bgr24")
            h, w = image.shape[:2]
            views = [(0, 0, image)] + [(x, y, image[y:y + th, x:x + tw]) for y, th in windows(h) for x, tw in windows(w)]
            boxes, scores = [], []
            for (x, y, view), got in zip(views, model.detect([v for *_, v in views])):
                boxes.append(got.xyxy + np.array([x, y, x, y], np.float32))
                scores.append(got.score)
            boxes, scores = np.concatenate(boxes), np.concatenate(scores)
            found[index] = boxes[nms(boxes, scores, MERGE_IOU)] if len(boxes) else boxes
    return found


def int8_agreement() -> None:
    """The INT8 rule: NNCF's INT8 form of the graph (mixed preset, overflow fix, box heads in
    float) must find >= 99 % of the people FP32 finds (IoU >= 0.5, score >= 0.5), and FP32 99 %
    of INT8's. Calibrated on the app's street sample (vtest.avi's first 40 frames) and every 7th
    frame of vtest.avi; checked on other vtest frames (benchmarks/int8_recipes.py: other recipes)."""
    import av
    import cv2
    import nncf
    import openvino as ov

    from pipeline.models.ssdlite import SIDE, cached_ir

    def frames(path: Path, step: int, count: int, skip: int = 0, first: int = 0) -> list[np.ndarray]:
        out = []
        with av.open(str(path)) as container:
            for k, frame in enumerate(container.decode(video=0)):
                if k % step == skip and k >= first and not (first and k % 7 == 0):  # never a calibration frame
                    out.append(cv2.resize(frame.to_ndarray(format="rgb24"), (SIDE, SIDE)))
                if len(out) >= count:
                    break
        return out

    core = ov.Core()
    model = core.read_model(str(cached_ir(core)))
    model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, SIDE, SIDE, 3])})
    calibration = frames(REPO / "ui" / "assets" / "vtest_clip.mp4", 1, 40) + frames(SAMPLE, 7, 100)
    checked = frames(SAMPLE, 10, 80, skip=5, first=40)
    int8 = nncf.quantize(model, nncf.Dataset(calibration, lambda x: x[None]), preset=nncf.QuantizationPreset.MIXED,
                         subset_size=len(calibration), ignored_scope=nncf.IgnoredScope(patterns=[".*BoxPredictor.*"],
                                                                                         validate=False),
                         advanced_parameters=nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE))
    engines = [core.compile_model(m, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
               for m in (model, int8)]

    def people(engine, image: np.ndarray) -> np.ndarray:
        result = engine({0: image[None]})
        boxes, _, scores, _ = (result[out][0] for out in engine.outputs)
        return boxes[scores >= SCORE]

    def matched(a: np.ndarray, b: np.ndarray) -> int:  # boxes of a that a box of b overlaps by IoU >= 0.5
        hits = 0
        for box in a:
            lo, hi = np.maximum(b[:, :2], box[:2]), np.minimum(b[:, 2:], box[2:])
            inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
            union = np.prod(b[:, 2:] - b[:, :2], axis=1) + np.prod(box[2:] - box[:2]) - inter
            hits += bool(len(b) and (inter / union).max() >= 0.5)
        return hits

    found = total = back = extra = 0
    for image in checked:
        fp32, q = (people(engine, image) for engine in engines)
        total, extra = total + len(fp32), extra + len(q)
        found, back = found + matched(fp32, q), back + matched(q, fp32)
    ok = found >= 0.99 * total and back >= 0.99 * extra
    print(f"INT8 finds {found}/{total} = {100 * found / max(total, 1):.1f} % of FP32's people, and FP32 "
          f"{back}/{extra} = {100 * back / max(extra, 1):.1f} % of INT8's ({len(checked)} frames of vtest.avi "
          f"from frame 40, none calibrated on): {'meets' if ok else 'under'} the 99 % rule")


def run_whole(clip: Path, out: Path, detail: str, model: str, stride: str = "auto"
              ) -> tuple[dict[int, np.ndarray], float, float]:
    """A whole `python -m pipeline CLIP --video` process: its boxes per frame, its wall time and
    the detector's own seconds (stage_seconds.detect: the model on whole frames, tiles and
    closer looks; not masking, the person column or encoding, which an untrained
    yolo11n.yaml that finds nobody never pays)."""
    import csv
    import io
    import time
    import zipfile

    cmd = [sys.executable, "-m", "pipeline", str(clip), "-o", str(out / "o.zip"), "--video", str(out / "o.mp4"),
           "--detail", detail, "--model", model, "--stride", stride]
    clock = time.perf_counter()
    done = subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - clock
    boxes: dict[int, list] = {}
    with zipfile.ZipFile(out / "o.zip") as z:
        for row in csv.DictReader(io.StringIO(z.read("detections.csv").decode())):
            boxes.setdefault(int(row["frame"]), []).append([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
    detect_s = json.loads(done.stdout)["stage_seconds"].get("detect", float("nan"))
    return {f: np.array(b, np.float32) for f, b in boxes.items()}, wall, detect_s


def share(ref: dict[int, np.ndarray], ours: dict[int, np.ndarray], shape) -> tuple[int, int]:
    total = sum(len(b) for b in ref.values())
    return sum(covered(b, ours.get(f), shape, pad=PAD, enough=COVERED) for f, b in ref.items()), total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--sizes", default="576p,1080p")
    p.add_argument("--details", default="fast,full,max")
    p.add_argument("--strides", default="auto", help="--stride values to run, e.g. auto,1")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--int8", action="store_true", help="only check INT8 against FP32 (needs NNCF)")
    args = p.parse_args(argv)
    print(f"CPU: {cpu_line()}; ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(not set)')}; load {load()}")
    if args.int8:
        int8_agreement()
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.sizes.split(","):
            clip = make_clip(tmp, args.seconds, SIZES[name])
            ref = reference(clip)
            import av

            with av.open(str(clip)) as c:
                shape = (c.streams.video[0].height, c.streams.video[0].width)
            print(f"{name} ({shape[1]}x{shape[0]}, {args.seconds:g} s): {sum(len(b) for b in ref.values())} people "
                  f"in the reference (whole frame + {TILE}-px tiles, every {EVERY}th frame, score >= {SCORE})")
            for detail, stride in [(d, s) for d in args.details.split(",") for s in args.strides.split(",")]:
                row = {}
                for model in ("ssdlite-person", "yolo11n.yaml"):
                    out = tmp / f"{name}_{detail}_{stride}_{model}"
                    out.mkdir()
                    ours, wall, detect_s = run_whole(clip, out, detail, model, stride)
                    row[model] = {"wall_s": round(wall, 2), "realtime": round(args.seconds / wall, 2),
                                  "detector_s": round(detect_s, 2)}
                    if model == "ssdlite-person":
                        got, total = share(ref, ours, shape)
                        row["covered"], row["reference"] = got, total
                line = (f"  --detail {detail:<4} --stride {stride:<4}: ssdlite-person covers {row['covered']}/{row['reference']} = "
                        f"{100 * row['covered'] / max(row['reference'], 1):.1f} %, --video {row['ssdlite-person']['wall_s']:.1f} s "
                        f"({row['ssdlite-person']['realtime']:.2f}x real time); yolo11n.yaml "
                        f"{row['yolo11n.yaml']['wall_s']:.1f} s: ssdlite costs "
                        f"{row['ssdlite-person']['wall_s'] / row['yolo11n.yaml']['wall_s']:.2f}x yolo's; the detector "
                        f"alone {row['ssdlite-person']['detector_s']:.1f} s vs {row['yolo11n.yaml']['detector_s']:.1f} s "
                        f"(load {load()})")
                print(line, flush=True)
                results[f"{name}_{detail}_{stride}"] = row
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_line(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
