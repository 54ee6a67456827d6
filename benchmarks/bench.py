"""Throughput and memory of the pipeline against its parts and against the original loop.

    python benchmarks/bench.py [--video V] [--model yolo11n.yaml] [--interval 5] [--quick] [--json OUT]
    python benchmarks/bench.py --only face [--face-video ui/assets/faces_clip.mp4] [--face-imgsz 640]
    python benchmarks/bench.py --only cli     # ours --interval 2 against the original loop, whole processes

Everything is measured in this one run (nothing is hard-coded). In-process rows exclude
model loading (each model is loaded and warmed up first); the whole-process rows and the
memory rows run fresh subprocesses, start-up and model load included. Rates are captured
(i.e. detected) frames per second.

Rows:
  original loop    per captured frame: cv2 seek + read, YOLO.predict (ultralytics defaults),
                   mosaic, PNG encode, into a ZIP_DEFLATED archive
  predict/torch    YOLO.predict per pre-decoded frame, ultralytics defaults (torch, CPU/GPU)
  predict/openvino the same on ultralytics' OpenVINO export (CPU only; for reference)
  detector/<be>    our YoloDetector on pre-decoded frames, in batches of Settings.batch
  decode           our read_frames, converting only the captured frames
  pipeline         pipeline.run end to end (decode, detect, mosaic, JPEG, ZIP)

Face rows (also alone with `--only face`), on a clip with real faces, CenterFace at the same
detection size (deface `--scale WxH` = what our --imgsz gives) and threshold everywhere:
  face detector    our CenterFace detector / deface's CenterFace class, on pre-decoded frames
  deface           the `deface` CLI, whole process: every frame detected, blurred, encoded to MP4
  face+video       `python -m pipeline --target face --video`: every frame detected, masked and
                   encoded to MP4 (deface's work), plus the ZIP
  face zip         `python -m pipeline --target face`: the default output, a ZIP of every 10th
                   frame, so only those frames are detected
The deface rows need deface, without the desktop OpenCV it asks for (our headless cv2 serves it):
`pip install --no-deps deface && pip install imageio imageio-ffmpeg scikit-image` (the class alone,
as tests/setup_system.sh installs it, needs only the first).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("YOLO_VERBOSE", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_line, load  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "samples" / "vtest.avi"
FACE_VIDEO = REPO / "ui" / "assets" / "faces_clip.mp4"


# -- the original-style loop (also run as a whole process: `bench.py --original ...`) --------
def original_loop(video: str, model_spec: str, interval: int, out_zip: str, model=None, limit=None) -> int:
    """What the first version did: seek to each captured frame, predict it alone with
    ultralytics' defaults, mosaic the boxes, PNG-encode, deflate into a ZIP."""
    import cv2
    from ultralytics import YOLO

    model = model or YOLO(model_spec)
    cap = cv2.VideoCapture(video)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = range(0, total, interval)
    if limit:
        wanted = wanted[:limit]
    done = 0
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in wanted:
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, frame = cap.read()
            if not ok:
                break
            result = model.predict(frame, verbose=False)[0]
            for x1, y1, x2, y2 in result.boxes.xyxy.cpu().numpy().astype(int):
                region = frame[max(y1, 0):y2, max(x1, 0):x2]
                if region.size:
                    small = cv2.resize(region, (max(1, region.shape[1] // 15), max(1, region.shape[0] // 15)))
                    region[:] = cv2.resize(small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_NEAREST)
            ok, png = cv2.imencode(".png", frame)
            archive.writestr(f"frame_{i:06d}.png", png.tobytes())
            done += 1
    cap.release()
    return done


# -- helpers ----------------------------------------------------------------------------------
def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def cpu_seconds(fn, *args) -> float:
    """Process CPU time (all threads) one call of fn takes: the work, not the wait."""
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def decoded_frames(video: Path, interval: int):
    from pipeline.io.video import read_frames

    return [f.image for f in read_frames(video, wanted=lambda i: i % interval == 0) if f.image is not None]


def decode_only(video: Path, interval: int) -> int:
    from pipeline.io.video import read_frames

    return sum(1 for f in read_frames(video, wanted=lambda i: i % interval == 0) if f.image is not None)


def detector_run(detector, frames, batch: int) -> int:
    for start in range(0, len(frames), batch):
        detector.detect(frames[start:start + batch], list(range(start, start + batch)))
    return len(frames)


def pipeline_run(video: Path, settings, out_zip: Path):
    from pipeline import run_to_result

    result = run_to_result(video, settings, output=out_zip)
    return result


def concat_video(src: Path, dst: Path, times: int) -> int:
    """`times` copies of src back to back, packets remuxed (no re-encode)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        offset, frames, span = 0, 0, 0
        for _ in range(times):
            inp.seek(0)
            last = 0
            for packet in inp.demux(in_stream):
                if packet.dts is None:
                    continue
                dur = packet.duration or 1
                last = max(last, (packet.pts if packet.pts is not None else packet.dts) + dur)
                if packet.pts is not None:
                    packet.pts += offset
                packet.dts += offset
                packet.stream = out_stream
                out.mux(packet)
                frames += 1
            span = last
            offset += span
    return frames


def child_rss(video: Path, model: str, interval: int, backend: str, device: str) -> dict:
    """Run the pipeline in a fresh interpreter; return its peak RSS and timings."""
    code = (
        "import json, resource, sys, time, tempfile, os\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from pipeline import Settings, run_to_result\n"
        f"s = Settings(model={model!r}, interval={interval}, backend={backend!r}, device={device!r})\n"
        "out = os.path.join(tempfile.mkdtemp(), 'rss.zip')\n"
        f"t = time.perf_counter(); r = run_to_result({str(video)!r}, s, output=out)\n"
        "wall = time.perf_counter() - t; os.remove(out)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report the
        # parent's (this benchmark's) peak; the mm high-water mark starts fresh at exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'peak_rss_mb': int(hwm) / 1024,"
        " 'images': r.images_written, 'frames': r.frames_read, 'wall_s': wall}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise RuntimeError(f"RSS child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def whole_process(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    return wall


def whole_process_cpu(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = whole_process(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def process_interval2(args, video: Path, tmp: Path) -> dict:
    """Whole processes, --interval 2, start-up and model load included: ours, then the original loop."""
    proc_pipe = whole_process([sys.executable, "-m", "pipeline", str(video), "--interval", "2", "--model",
                               args.model, "--backend", args.backend, "--device", args.device,
                               "-o", str(tmp / "proc.zip")])
    proc_orig = whole_process([sys.executable, str(Path(__file__).resolve()), "--original", "--video", str(video),
                               "--model", args.model, "--interval", "2", "--out", str(tmp / "proc_orig.zip")])
    print(f"  whole process --interval 2: pipeline {proc_pipe:.1f} s, original loop {proc_orig:.1f} s: "
          f"{proc_orig / proc_pipe:.2f}x (load {load()})", flush=True)
    return {"pipeline_s": round(proc_pipe, 2), "original_s": round(proc_orig, 2), "ratio": round(proc_orig / proc_pipe, 2)}


def face_section(args, tmp: Path, rows: dict, notes: list, repeat: int) -> list[tuple]:
    """Our face target against the deface CLI on the same clip, same detection size and
    threshold; returns the summary checks."""
    import numpy as np

    from pipeline import Settings
    from pipeline.models.face import detection_size, load_face_detector

    video = args.face_video.resolve()
    settings = Settings(target="face", imgsz=args.face_imgsz, device="cpu")
    frames = decoded_frames(video, 1)
    net_h, net_w = detection_size(frames[0].shape[:2], settings.imgsz)
    deface_cli = shutil.which("deface")
    try:
        import onnxruntime  # noqa: F401 - deface's CLI prefers it over OpenCV's DNN when present
        deface_backend = "onnxruntime"
    except ImportError:
        deface_backend = "OpenCV DNN (onnxruntime is not installed)"
    print(f"faces: {video.name} ({len(frames)} frames, {frames[0].shape[1]}x{frames[0].shape[0]}), CenterFace at "
          f"{net_w}x{net_h}, threshold {settings.conf}, deface's backend: {deface_backend}", flush=True)
    notes.append(f"deface ran CenterFace on {deface_backend}; ours on OpenVINO FP32")

    # the detectors alone, on the same pre-decoded frames (every 3rd, to keep this short)
    from deface.centerface import CenterFace

    sample = frames[::3]
    ours = load_face_detector(settings)
    ours.detect(sample[:1], [0])
    theirs = CenterFace(in_shape=(net_w, net_h), backend="onnxrt" if deface_backend == "onnxruntime" else "opencv")
    rgb = [np.ascontiguousarray(f[..., ::-1]) for f in sample]
    theirs(rgb[0], threshold=settings.conf)
    runs = [timed(detector_run, ours, sample, settings.batch)[1] for _ in range(repeat)]
    rows["face detector/ours"] = {"frames": len(sample), "seconds": round(min(runs), 3),
                                  "fps": round(len(sample) / min(runs), 2)}
    runs = [timed(lambda: [theirs(f, threshold=settings.conf) for f in rgb])[1] for _ in range(repeat)]
    rows["face detector/deface"] = {"frames": len(sample), "seconds": round(min(runs), 3),
                                    "fps": round(len(sample) / min(runs), 2)}
    for name in ("face detector/ours", "face detector/deface"):
        print(f"  {name:<22} {len(sample):5d} frames {rows[name]['seconds']:7.2f} s {rows[name]['fps']:8.1f} fps",
              flush=True)

    # whole processes, start-up and model load included; best of `repeat`
    common = [str(video), "--target", "face", "--imgsz", str(settings.imgsz), "--conf", str(settings.conf),
              "--device", "cpu"]
    commands = {
        "deface": [deface_cli or "deface", str(video), "--scale", f"{net_w}x{net_h}", "--thresh", str(settings.conf),
                   "-o", str(tmp / "deface.mp4")],
        "face+video": [sys.executable, "-m", "pipeline", *common, "--video", str(tmp / "face.mp4"),
                       "-o", str(tmp / "face_video.zip")],
        "face zip": [sys.executable, "-m", "pipeline", *common, "-o", str(tmp / "face.zip")],
    }
    for name, cmd in commands.items():
        if name == "deface" and deface_cli is None:
            notes.append("the deface CLI is not on PATH: see this file's docstring for its install")
            return []
        wall, cpu = min((whole_process_cpu(cmd) for _ in range(repeat)), key=lambda r: r[0])
        rows[f"process {name}"] = {"seconds": round(wall, 2), "cpu_s": round(cpu, 2)}
        print(f"  process {name:<14} {wall:7.2f} s wall {cpu:7.2f} CPU-s   {' '.join(cmd[1:] if name == 'deface' else cmd[2:])}",
              flush=True)
    deface_s = rows["process deface"]["seconds"]
    return [
        ("faces: detector alone, ours / deface's class", rows["face detector/ours"]["fps"]
         / rows["face detector/deface"]["fps"], None, ""),
        ("faces: deface / ours --video (same work)", deface_s / rows["process face+video"]["seconds"], 3.0, ">="),
        ("faces: deface / ours, ZIP every 10th frame", deface_s / rows["process face zip"]["seconds"], 3.0, ">="),
        ("faces: CPU-s deface / ours --video", rows["process deface"]["cpu_s"] / rows["process face+video"]["cpu_s"],
         None, ""),
    ]


def report(rows: dict, checks: list, notes: list, settings: dict, json_path: Path | None) -> None:
    print()
    print(f"{'row':<22} {'frames':>6} {'s':>8} {'fps':>8}")
    for name, r in rows.items():
        if "fps" in r:
            print(f"{name:<22} {r['frames']:>6} {r['seconds']:>8.2f} {r['fps']:>8.1f}")
    print()
    results = {}
    for label, value, target, op in checks:
        ok = None if target is None else (value >= target if op == ">=" else value <= target)
        mark = "" if ok is None else (f"  target {op} {target}: " + ("PASS" if ok else "FAIL"))
        print(f"{label:<46} {value:6.2f}x{mark}")
        results[label] = {"value": round(value, 3), "target": target, "op": op, "pass": ok}
    for note in notes:
        print("note:", note)
    print(f"load avg at end {os.getloadavg()[0]:.1f} (other processes on these cores skew every row)")
    if json_path:
        json_path.write_text(json.dumps({"settings": settings, "rows": rows, "ratios": results, "notes": notes},
                                        indent=1))


# -- the benchmark ----------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--model", default="yolo11n.yaml")
    p.add_argument("--interval", type=int, default=5)
    p.add_argument("--backend", default="auto", help="detector/pipeline backend (default: auto)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=None, help="detector batch (default: Settings().batch)")
    p.add_argument("--repeat", type=int, default=2, help="in-process rows: best of N runs (default: 2)")
    p.add_argument("--quick", action="store_true",
                   help="one run per row, skip predict/openvino, the torch detector and the 10x memory run")
    p.add_argument("--json", type=Path, help="also write all figures here")
    p.add_argument("--only", choices=["face", "cli"], help="run only this part (face: our face target against "
                   "deface; cli: `python -m pipeline VIDEO --interval 2` against the original loop, whole processes)")
    p.add_argument("--face-video", type=Path, default=FACE_VIDEO, help="clip with faces (default: %(default)s)")
    p.add_argument("--face-imgsz", type=int, default=640, help="face detection size (default: %(default)s)")
    p.add_argument("--original", action="store_true", help=argparse.SUPPRESS)  # child: the original loop
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.original:  # a whole process of the original loop, for the process-level comparison
        original_loop(str(args.video), args.model, args.interval, args.out)
        return 0
    print(f"CPU: {cpu_line()}; load {load()}", flush=True)
    if args.only == "face":  # no torch/YOLO in this process
        tmp, rows, notes = Path(tempfile.mkdtemp(prefix="mosaic-bench-")), {}, []
        checks = face_section(args, tmp, rows, notes, 1 if args.quick else max(1, args.repeat))
        report(rows, checks, notes, {"face_video": str(args.face_video), "face_imgsz": args.face_imgsz}, args.json)
        shutil.rmtree(tmp, ignore_errors=True)
        return 0

    if args.only == "cli":
        tmp = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
        cli_rows = process_interval2(args, args.video.resolve(), tmp)
        if args.json:
            args.json.write_text(json.dumps({"cpu": cpu_line(), "process_interval2": cli_rows}, indent=1))
        shutil.rmtree(tmp, ignore_errors=True)
        return 0

    import torch
    from ultralytics import YOLO

    from pipeline import Settings
    from pipeline.models import load_detector

    video = args.video.resolve()
    repeat = 1 if args.quick else max(1, args.repeat)
    tmp = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
    rows: dict[str, dict] = {}
    notes: list[str] = []

    def best_of(fn, *a, **kw):
        runs = [timed(fn, *a, **kw) for _ in range(repeat)]
        return min(runs, key=lambda r: r[1])

    def row(name: str, frames: int, seconds: float, **extra) -> None:
        rows[name] = {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 2), **extra}
        print(f"  {name:<22} {frames:5d} frames {seconds:7.2f} s {frames / seconds:8.1f} fps", flush=True)

    base = Settings(model=args.model, interval=args.interval, backend=args.backend, device=args.device,
                    **({"batch": args.batch} if args.batch else {}))
    print(f"video {video.name}, model {args.model}, interval {args.interval}, batch {base.batch}, "
          f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}", flush=True)

    torch_default_threads = torch.get_num_threads()  # what the original loop ran with
    # models first (load time is reported, not counted in the in-process rows)
    detector, load_s = timed(load_detector, base)
    best_backend = detector.backend
    print(f"  detector: {best_backend} on {detector.key.device}, loaded in {load_s:.1f} s", flush=True)
    yolo_pt = YOLO(detector.key.model if not args.model.endswith((".yaml", ".yml")) else args.model)
    frames = decoded_frames(video, args.interval)
    yolo_pt.predict(frames[0], verbose=False)  # warm-up

    # 1. the original loop (torch as ultralytics leaves it; our OpenVINO load narrowed it)
    torch.set_num_threads(torch_default_threads)
    (n, secs) = best_of(original_loop, str(video), args.model, args.interval, str(tmp / "orig.zip"), model=yolo_pt)
    row("original loop", n, secs)
    # 2. per-frame predict, ultralytics defaults
    (n, secs) = best_of(lambda: sum(len(yolo_pt.predict(f, verbose=False)) for f in frames))
    row("predict/torch", n, secs)
    if not args.quick and detector.key.device == "cpu":
        try:
            from pipeline.models.export import openvino_export as _openvino_export, yaml_copy as _yaml_copy

            spec = _yaml_copy(args.model) if args.model.endswith((".yaml", ".yml")) else detector.key.model
            with torch.random.fork_rng():
                torch.manual_seed(0)
                source = YOLO(spec)
            yolo_ov = YOLO(str(_openvino_export(source, spec).parent), task="detect")
            yolo_ov.predict(frames[0], verbose=False)
            (n, secs) = best_of(lambda: sum(len(yolo_ov.predict(f, verbose=False)) for f in frames))
            row("predict/openvino", n, secs)
            torch.set_num_threads(1 if best_backend == "openvino" else (os.cpu_count() or 1))
        except Exception as err:  # noqa: BLE001 - a reference row only
            notes.append(f"predict/openvino skipped: {err}")
    # 3. detector only, each available backend; the best is the reference
    detectors = {best_backend: detector}
    if not args.quick and detector.key.device == "cpu":
        other = "torch" if best_backend == "openvino" else "openvino"
        try:
            detectors[other] = load_detector(base.replace(backend=other))
        except Exception as err:  # noqa: BLE001
            notes.append(f"detector/{other} skipped: {err}")
    det_fps = {}
    for name, det in detectors.items():
        if det.backend == "torch" and det.key.device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        det.detect(frames[:base.batch])  # compile/warm this batch shape
        (n, secs) = best_of(detector_run, det, frames, base.batch)
        row(f"detector/{det.backend}", n, secs)
        det_fps[det.backend] = n / secs
    try:
        import onnxruntime  # noqa: F401
        notes.append("onnxruntime is installed but the detector has no ONNX Runtime engine; not compared")
    except ImportError:
        notes.append("onnxruntime not installed: OpenVINO and torch are the CPU engines compared")
    fastest = max(det_fps, key=det_fps.get)
    if fastest != best_backend:
        notes.append(f"auto picked {best_backend} but {fastest} measured faster")
    torch.set_num_threads(1 if best_backend == "openvino" else (os.cpu_count() or 1))
    # 4. decode only
    (n, secs) = best_of(decode_only, video, args.interval)
    row("decode", n, secs)
    # 5. the pipeline
    (result, secs) = best_of(pipeline_run, video, base, tmp / "pipe.zip")
    row("pipeline", result.images_written, secs, stage_seconds=result.stage_seconds)
    pipe_fps = rows["pipeline"]["fps"]

    # interval 30: overlap of decode and detection
    frames30 = decoded_frames(video, 30)
    (n30, dec30) = best_of(decode_only, video, 30)
    (_, det30) = best_of(detector_run, detector, frames30, base.batch)
    (r30, pipe30) = best_of(pipeline_run, video, base.replace(interval=30), tmp / "pipe30.zip")
    # CPU-seconds of the two parts: on this many cores the pipeline cannot beat their sum / cores
    cpu_dec30 = cpu_seconds(decode_only, video, 30)
    cpu_det30 = cpu_seconds(detector_run, detector, frames30, base.batch)
    cores = os.cpu_count() or 1
    floor30 = (cpu_dec30 + cpu_det30) / cores
    rows["interval30"] = {"frames": n30, "decode_s": round(dec30, 3), "detector_s": round(det30, 3),
                          "pipeline_s": round(pipe30, 3), "ratio": round(pipe30 / (dec30 + det30), 3),
                          "decode_cpu_s": round(cpu_dec30, 3), "detector_cpu_s": round(cpu_det30, 3),
                          "cpu_floor_ratio": round(floor30 / (dec30 + det30), 3)}
    print(f"  interval 30: pipeline {pipe30:.2f} s vs decode {dec30:.2f} + detector {det30:.2f} s "
          f"({n30} frames)", flush=True)
    print(f"  interval 30: the parts use {cpu_dec30:.2f} + {cpu_det30:.2f} CPU-s; on {cores} cores no "
          f"overlap can finish under {floor30:.2f} s = {floor30 / (dec30 + det30):.2f}x of their sum", flush=True)

    rows["process_interval2"] = process_interval2(args, video, tmp)

    # peak memory, each in a fresh process
    short = child_rss(video, args.model, args.interval, args.backend, args.device)
    rows["rss_short"] = short
    print(f"  peak RSS {video.name}: {short['peak_rss_mb']:.0f} MB ({short['frames']} frames)", flush=True)
    if not args.quick:
        long_video = tmp / f"{video.stem}_x10{video.suffix}"
        concat_video(video, long_video, 10)
        longer = child_rss(long_video, args.model, args.interval, args.backend, args.device)
        rows["rss_long"] = longer
        print(f"  peak RSS 10x: {longer['peak_rss_mb']:.0f} MB ({longer['frames']} frames)", flush=True)

    # summary
    orig_fps = rows["original loop"]["fps"]
    checks = [
        ("pipeline / detector-only (fastest)", pipe_fps / det_fps[fastest], 0.85, ">="),
        ("pipeline / original loop", pipe_fps / orig_fps, 5.0, ">="),
        ("pipeline / predict/torch", pipe_fps / rows["predict/torch"]["fps"], None, ""),
        ("pipeline / decode-only", pipe_fps / rows["decode"]["fps"], None, ""),
        ("interval 30: pipeline / (decode + detector)", rows["interval30"]["ratio"], 0.8, "<="),
        ("interval 30: CPU-bound floor of that ratio", rows["interval30"]["cpu_floor_ratio"], None, ""),
        ("process --interval 2: original / pipeline", rows["process_interval2"]["ratio"], 4.0, ">="),
    ]
    if "predict/openvino" in rows:
        checks.insert(3, ("pipeline / predict/openvino", pipe_fps / rows["predict/openvino"]["fps"], None, ""))
    if "rss_long" in rows:
        checks.append(("peak RSS 10x / short", rows["rss_long"]["peak_rss_mb"] / short["peak_rss_mb"], 1.25, "<="))
    checks += face_section(args, tmp, rows, notes, repeat)
    report(rows, checks, notes, {"video": str(video), "model": args.model, "interval": args.interval,
                                 "batch": base.batch, "backend": best_backend, "face_video": str(args.face_video),
                                 "face_imgsz": args.face_imgsz}, args.json)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
