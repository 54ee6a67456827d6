"""INT8 recipes against FP32 on footage the calibration never saw: which recipe reaches the
99 % rule, and what it costs in speed. For CenterFace and the bundled person model.

    python benchmarks/int8_recipes.py face [--recipes base,heads,...] [--frames 300]
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/int8_recipes.py persons ...

Calibration: what the app calibrates on (quantize.Calibration: ui/assets/faces_clip.mp4 and
vtest_clip.mp4 = vtest.avi's first 40 frames, then their mirror images), prepared as the
engine prepares them. Checked on (never calibrated on):
  faces:   every frame of ../shared/samples/Megamind.avi (270) and vtest.avi frames 40-399
  persons: vtest.avi frames 40-794, every 2nd (378 frames)
Agreement: FP32's boxes at the run's threshold that INT8 also finds (IoU >= 0.5), and INT8's
boxes that FP32 also has (the reverse: no flood of extra boxes). Models are made once into
/tmp/int8_recipes/ (delete it to make them again). Speed: ms per frame of FP32 and each INT8
in the same process, alternating, on 2 threads (LATENCY), best of 3.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_recall import cpu_line, load  # noqa: E402

SAMPLES = REPO.parent / "shared" / "samples"
OUT = Path(os.environ.get("INT8_RECIPES_DIR", "/tmp/int8_recipes"))


def read(path: Path, first: int = 0, last: int | None = None, step: int = 1) -> list[np.ndarray]:
    from pipeline.io.video import read_frames

    return [f.image for k, f in enumerate(read_frames(path)) if f.image is not None
            and k >= first and (last is None or k < last) and (k - first) % step == 0]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def agreement(ref: list, got: list) -> dict:
    """ref, got: per frame (boxes, scores). FP32 found by INT8, and INT8 found by FP32."""
    found = total = back = extra = 0
    missed = []
    for (rb, rs), (gb, _) in zip(ref, got):
        total, extra = total + len(rb), extra + len(gb)
        if len(rb) and len(gb):
            m = iou(rb, gb)
            hit = m.max(axis=1) >= 0.5
            found += int(hit.sum())
            back += int((m.max(axis=0) >= 0.5).sum())
            missed += rs[~hit].tolist()
        else:
            missed += rs.tolist()
    return {"fp32": total, "int8": extra, "recall": found / max(total, 1), "reverse": back / max(extra, 1),
            "missed_scores": sorted(round(float(s), 3) for s in missed)[-5:]}


# -- CenterFace ---------------------------------------------------------------------------
class Face:
    conf = 0.2
    imgsz = 640

    def __init__(self):
        from pipeline.models.weights import CENTERFACE_ONNX

        self.fp32 = CENTERFACE_ONNX
        self.clips = {"Megamind.avi": read(SAMPLES / "Megamind.avi"),
                      "vtest.avi[40:400]": read(SAMPLES / "vtest.avi", 40, 400)}

    def prepare(self, image):
        import cv2

        from pipeline.models.face import detection_size

        h, w = detection_size(image.shape[:2], self.imgsz)
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)

    def to_input(self, picture):
        return picture[None, :, :, ::-1].transpose(0, 3, 1, 2).astype(np.float32)

    def compile(self, core, path):
        return core.compile_model(path if not isinstance(path, Path) else str(path), "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 2,
                                                     "INFERENCE_PRECISION_HINT": "f32"})

    def detect(self, compiled, image, prepared=False):
        from pipeline.models.face import decode

        picture = image if prepared else self.prepare(image)
        out = compiled(self.to_input(picture))
        heat, scale, offset = (out[compiled.outputs[k]][0] for k in range(3))
        boxes, scores = decode(heat, scale, offset, self.conf, picture.shape[:2])
        return boxes, scores

    def model(self, core):
        import openvino as ov

        model = core.read_model(str(self.fp32))
        model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, 3, -1, -1])})
        return model

    def heads(self, model, which=("pos", "reg", "off", "lm")):
        weight = lambda op: op.input_value(1).get_node().get_friendly_name()  # noqa: E731 - head.pos_conv.weight
        return [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"
                and weight(op).startswith("head.") and weight(op).split(".")[1].split("_")[0] in which]


# -- ssdlite-person -----------------------------------------------------------------------
class Persons:
    conf = 0.5

    def __init__(self):
        self.clips = {"vtest.avi[40:795:2]": read(SAMPLES / "vtest.avi", 40, None, 2)}

    def prepare(self, image):
        import cv2

        from pipeline.models.ssdlite import SIDE

        return cv2.cvtColor(cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)

    def to_input(self, picture):
        return picture[None]

    def compile(self, core, path):
        return core.compile_model(path if not isinstance(path, Path) else str(path), "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 2,
                                                     "INFERENCE_PRECISION_HINT": "f32"})

    def detect(self, compiled, image, prepared=False):
        out = compiled((image if prepared else self.prepare(image))[None])
        outs = [out[o][0] for o in compiled.outputs]
        boxes = next(o for o in outs if o.ndim == 2 and o.shape[1] == 4)
        scores = next(o for o in outs if o.ndim == 1 and o.size > 1 and not np.array_equal(o, np.round(o)))
        keep = scores >= self.conf
        return boxes[keep][:, [1, 0, 3, 2]].astype(np.float32), scores[keep]

    def model(self, core):
        import openvino as ov

        from pipeline.models.ssdlite import SIDE, cached_ir

        model = core.read_model(str(cached_ir(ov.Core())))
        model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, SIDE, SIDE, 3])})
        return model

    @property
    def fp32(self):
        import openvino as ov

        from pipeline.models.ssdlite import cached_ir

        return cached_ir(ov.Core())


def recipe_options(net, model, name: str) -> dict:
    """NNCF options for a recipe name: parts joined by '+', e.g. 'mixed+of+heads'."""
    import nncf

    parts = set(name.split("+"))
    options = {"preset": nncf.QuantizationPreset.MIXED if "perf" not in parts else nncf.QuantizationPreset.PERFORMANCE}
    advanced = {}
    if "noof" not in parts:
        advanced["overflow_fix"] = nncf.OverflowFix.ENABLE
    if "fbc" in parts:
        options["fast_bias_correction"] = False
    if "nobc" in parts:
        advanced["disable_bias_correction"] = True
    if "minmax" in parts:
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet

        advanced["activations_range_estimator_params"] = RangeEstimatorParametersSet.MINMAX
    ignored = []
    if isinstance(net, Face):
        if "heads" in parts:
            ignored += net.heads(model)
        if "pos" in parts:
            ignored += net.heads(model, ("pos",))
        if "posreg" in parts:
            ignored += net.heads(model, ("pos", "reg"))
        if "first" in parts:
            ignored += [op.get_friendly_name() for op in model.get_ordered_ops()
                        if op.get_type_name() == "Convolution"][:1]
    else:
        if "box" in parts:
            options["ignored_scope"] = nncf.IgnoredScope(patterns=[".*BoxPredictor.*"], validate=False)
        if "post" in parts:
            options["ignored_scope"] = nncf.IgnoredScope(patterns=[".*BoxPredictor.*", ".*Postprocessor.*"],
                                                         validate=False)
    if ignored:
        options["ignored_scope"] = nncf.IgnoredScope(names=ignored)
    if advanced:
        options["advanced_parameters"] = nncf.AdvancedQuantizationParameters(**advanced)
    return options


def make(net, name: str, count: int) -> Path:
    import nncf
    import openvino as ov

    from pipeline.models.quantize import Calibration

    folder = OUT / f"{type(net).__name__}_{name}_{count}"
    if (folder / "model.xml").is_file():
        return folder / "model.xml"
    core = ov.Core()
    model = net.model(core)
    frames = list(Calibration(Calibration.for_video(None).videos, count).frames(net.prepare))
    dataset = nncf.Dataset(frames, net.to_input)
    start = time.perf_counter()
    options = recipe_options(net, model, name)
    if "ac" in name.split("+"):
        quantized = accuracy_control(net, model, dataset, frames, options)
    else:
        quantized = nncf.quantize(model, dataset, subset_size=len(frames), **options)
    folder.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(folder / "model.xml"))
    print(f"  made {name} on {len(frames)} frames in {time.perf_counter() - start:.0f} s (load {load()})", flush=True)
    return folder / "model.xml"


def accuracy_control(net, model, dataset, frames: list, options: dict):
    """nncf.quantize_with_accuracy_control: layers go back to float, the most harmful first,
    until the INT8 model finds >= 99.5 % of FP32's boxes on the validation frames: the
    calibration clips' own frames (not the checked footage), without their mirror images."""
    import nncf
    import openvino as ov

    validation = frames[::2]
    fp32 = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    reference = [net.detect(fp32, picture, prepared=True) for picture in validation]
    index = {id(p): k for k, p in enumerate(validation)}

    def validate(compiled, items) -> tuple[float, list[float]]:
        per = []
        for picture in items:
            ref = reference[index[id(picture)]]
            got = net.detect(compiled, picture, prepared=True)
            a = agreement([ref], [got])
            per.append(a["recall"] if a["fp32"] else 1.0)
        found = sum(p * max(len(reference[index[id(x)]][0]), 0) for p, x in zip(per, items))
        total = sum(len(reference[index[id(x)]][0]) for x in items)
        return (found / total if total else 1.0), per

    advanced = options.pop("advanced_parameters", None)
    return nncf.quantize_with_accuracy_control(
        model, dataset, nncf.Dataset(validation), validate, max_drop=0.005, subset_size=len(frames),
        advanced_quantization_parameters=advanced, **options,
        advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(ranking_subset_size=48))


def speed(net, compiled: dict, frames: list, reps: int = 3) -> dict:
    best = {k: float("inf") for k in compiled}
    for _ in range(reps):
        for name, c in compiled.items():
            start = time.perf_counter()
            for image in frames:
                net.detect(c, image)
            best[name] = min(best[name], (time.perf_counter() - start) * 1000 / len(frames))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("net", choices=("face", "persons"))
    p.add_argument("--recipes", default="mixed")
    p.add_argument("--frames", type=int, default=300, help="calibration frames")
    p.add_argument("--speed", type=int, default=0, help="also time this many frames")
    p.add_argument("--make-only", action="store_true")
    p.add_argument("--speed-only", action="store_true", help="no agreement, only --speed")
    args = p.parse_args()
    import openvino as ov

    print(f"CPU: {cpu_line()}; ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(not set)')}; "
          f"load {load()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    net = Face() if args.net == "face" else Persons()
    paths = {r: make(net, r, args.frames) for r in args.recipes.split(",")}
    if args.make_only:
        return
    core = ov.Core()
    compiled = {"fp32": net.compile(core, net.model(core))} | {r: net.compile(core, p) for r, p in paths.items()}
    for clip, frames in () if args.speed_only else net.clips.items():
        ref = [net.detect(compiled["fp32"], f) for f in frames]
        for r in paths:
            a = agreement(ref, [net.detect(compiled[r], f) for f in frames])
            print(f"  {clip:20s} {len(frames)} frames  {r:22s} FP32 {a['fp32']:4d} INT8 {a['int8']:4d}  "
                  f"recall {a['recall']:6.1%}  reverse {a['reverse']:6.1%}  missed (top FP32 scores) "
                  f"{a['missed_scores']}", flush=True)
    if args.speed:
        frames = next(iter(net.clips.values()))[:args.speed]
        ms = speed(net, compiled, frames)
        print("  ms/frame (2 threads, best of 3): " + ", ".join(f"{k} {v:.1f}" for k, v in ms.items())
              + f" (load {load()})", flush=True)


if __name__ == "__main__":
    main()
