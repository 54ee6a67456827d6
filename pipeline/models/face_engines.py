"""CenterFace's engines: OpenVINO on the CPU, onnxruntime on CUDA (face.py picks one).

    engine.run(images)   # same-size BGR uint8 images -> yields (i, (heatmap, scale, offset))

OpenVINO as for YOLO (engines.py): FP32 (the CPU plugin's bf16 default is ~2x slower here),
THROUGHPUT streams with one frame in flight per stream, BGR->RGB and uint8->float in the
graph, compiled once per input size; a lone image, and every large one, on all cores
(engines.RequestPool). onnxruntime's CUDA provider needs `onnx` and `onnxruntime-gpu`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelError
from .engines import RequestPool

OUTPUT_CHANNELS = (1, 2, 2, 10)  # heatmap, scale, offset, landmarks
# An image this large (the detail scan's full-resolution tiles) always runs on the LATENCY
# compile: 1088x1920 took 240 ms on both cores against 261 ms per image on 2 streams, and
# each stream holds its own activations (2016x1184: ~350 MB each)
LARGE_IMAGE_PX = 1 << 20


def _check_layout(path: Path, input_shape: Sequence, output_channels: Sequence) -> None:
    if len(input_shape) != 4 or input_shape[1] != 3 or tuple(output_channels) != OUTPUT_CHANNELS:  # -1: free
        raise ModelError(f"'{path.name}' is not a CenterFace-compatible ONNX model (one 3-channel image "
                         f"input; heatmap, scale, offset and landmark outputs of {OUTPUT_CHANNELS} channels)")


class OpenVINOFaceEngine:
    name = "openvino"

    def __init__(self, path: Path, threads: int):
        import openvino as ov

        self.core, self.path, self.threads = ov.Core(), path, threads
        model = self.core.read_model(str(path))
        dims = lambda shape: [d.get_length() if d.is_static else -1 for d in shape]  # noqa: E731
        _check_layout(path, dims(model.input(0).get_partial_shape()),
                      [(dims(o.get_partial_shape()) + [-1, -1])[1] for o in model.outputs])
        self.pool = RequestPool(self.core, path, threads, large_px=LARGE_IMAGE_PX)

    def run(self, images: Sequence[np.ndarray]):
        """Yields (i, (heatmap, scale, offset)) per same-size BGR image, as each finishes; the
        maps are views into the request, valid until the generator resumes."""
        h, w = images[0].shape[:2]
        for i, request in self.pool.run(len(images), lambda i: np.ascontiguousarray(images[i])[None], h, w):
            yield i, tuple(request.get_output_tensor(k).data[0] for k in range(3))


class OnnxRuntimeEngine:
    name = "onnxruntime"

    def __init__(self, path: Path, provider: str = "CUDAExecutionProvider"):
        import onnx
        import onnxruntime

        model = onnx.load(str(path))
        weights = {w.name for w in model.graph.initializer}  # an old export lists its weights as inputs,
        image_inputs = [v for v in model.graph.input if v.name not in weights]  # which stops const folding
        del model.graph.input[:]
        model.graph.input.extend(image_inputs)
        _check_layout(path, [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim],
                      [o.type.tensor_type.shape.dim[1].dim_value for o in model.graph.output])
        for value in (model.graph.input[0], *model.graph.output):  # free batch and size
            dims = value.type.tensor_type.shape.dim
            for k, name in ((0, "n"), (2, "h"), (3, "w")):
                dims[k].dim_param = name
        del model.graph.value_info[:]  # inner shapes were inferred for 32x32
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: not a warning per unused BatchNorm counter
        self.session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=[provider])
        if self.session.get_providers()[0] != provider:
            raise RuntimeError(f"onnxruntime could not start {provider}")
        self.input = self.session.get_inputs()[0].name

    def run(self, images: Sequence[np.ndarray]):
        batch = np.stack(images)[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        heatmap, scale, offset, _ = self.session.run(None, {self.input: batch})
        for i in range(len(images)):
            yield i, (heatmap[i], scale[i], offset[i])
