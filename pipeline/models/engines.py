"""The two inference engines. Each takes a letterboxed `Batch` and returns the network's
outputs as a tuple of torch tensors: (predictions,) for detect and pose models,
(predictions, mask prototypes) for segmentation models.

* TorchEngine: ultralytics' AutoBackend (fused; FP16 on CUDA) on whole batches.
* OpenVINOEngine: the cached dynamic-shape export, compiled per frame size (batch 1):
  FP32 (the CPU plugin's default on AVX512-BF16 CPUs without AMX is bf16, which measured
  ~2x slower here), colour conversion and scaling folded into the graph, THROUGHPUT
  streams with one frame in flight per stream (on 2 cores: 2 single-thread streams, which
  keep going when decode or JPEG encode takes a core, where one 2-thread stream stalls on
  its slower thread).
"""
from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import numpy as np

from .export import read_metadata
from .letterbox import Batch

OV_HINT_ENV_VAR = "MOSAIC_OPENVINO_HINT"  # override: LATENCY = one stream over all cores


class TorchEngine:
    """ultralytics' AutoBackend around the torch module: fused, FP16 on CUDA."""

    rect = True  # any stride multiple works
    static_hw = None

    def __init__(self, yolo, device: str):
        import torch
        from ultralytics.nn.autobackend import AutoBackend

        self.torch = torch
        self.device = torch.device("cuda:0" if device == "cuda" else "cpu")
        self.half = device == "cuda"
        self.backend = AutoBackend(model=yolo.model, device=self.device, fp16=self.half, fuse=True, verbose=False)
        self.backend.eval()
        self.stride = int(max(getattr(self.backend, "stride", 32), 32))
        self.end2end = bool(getattr(self.backend, "end2end", False))

    def __call__(self, batch: Batch) -> tuple:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch.full()).to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).flip(1)  # NHWC BGR -> NCHW RGB
            x = (x.half() if self.half else x.float()).div_(255.0).contiguous()
            y = self.backend(x)
        # eval mode gives [inference output, raw head dict]; a segmentation model's
        # inference output is itself [predictions, protos]
        y = y[0] if isinstance(y, (list, tuple)) else y
        return tuple(y) if isinstance(y, (list, tuple)) else (y,)


def cpu_infer_requests(core, xml: Path, h: int, w: int, threads: int, scale: float | None = None,
                       hint: str = "THROUGHPUT") -> list:
    """Infer requests for `xml` compiled on the CPU for (1, 3, h, w) input, taking the raw
    uint8 BGR NHWC frame: RGB, float and `scale` are done inside the graph. FP32 (this CPU
    plugin otherwise may pick bf16, ~2x slower here); one request per stream the hint gives."""
    import openvino as ov
    from openvino.preprocess import ColorFormat, PrePostProcessor

    model = core.read_model(str(xml))
    model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, 3, h, w])})
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    steps = ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB)
    if scale:
        steps.scale(scale)
    config = {"PERFORMANCE_HINT": hint, "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
    compiled = core.compile_model(ppp.build(), "CPU", config)
    count = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    return [compiled.create_infer_request() for _ in range(count)]


class OpenVINOEngine:
    """An OpenVINO IR compiled per input shape, with BGR->RGB, /255 and NHWC->NCHW inside
    the graph so a batch goes in as the raw uint8 letterbox."""

    def __init__(self, xml: Path, threads: int | None = None):
        import openvino as ov

        self.ov = ov
        self.core = ov.Core()
        self.xml = xml
        self.metadata = read_metadata(xml.parent)
        self.stride = int(max(self.metadata.get("stride", 32), 32))
        self.end2end = bool(self.metadata.get("end2end", False))
        shape = self.core.read_model(str(xml)).input(0).get_partial_shape()
        self.rect = shape.is_dynamic  # a static export only takes its own (square) size
        self.static_hw = None if self.rect else (shape[2].get_length(), shape[3].get_length())
        self.threads = threads or os.cpu_count() or 1
        self._compiled: dict[tuple[int, int, str], list] = {}  # (h, w, hint) -> infer requests

    def _requests(self, h: int, w: int, hint: str) -> list:
        requests = self._compiled.get((h, w, hint))
        if requests is None:
            requests = self._compiled[(h, w, hint)] = cpu_infer_requests(
                self.core, self.xml, h, w, self.threads, scale=255.0, hint=hint)
        return requests

    def __call__(self, batch: Batch) -> tuple:
        import torch

        n, (h, w) = len(batch), batch.geometry.net_hw
        streams = self._requests(h, w, os.environ.get(OV_HINT_ENV_VAR, "THROUGHPUT"))
        # an image that would run alone on one stream (one core) gets all cores instead
        alone = len(streams) > 1 and n % len(streams) == 1
        outputs: list[np.ndarray] = []  # one (n, ...) array per network output
        in_flight: deque = deque()

        def finish():
            index, request = in_flight.popleft()
            request.wait()
            if not outputs:
                for k in range(len(request.model_outputs)):
                    result = request.get_output_tensor(k).data
                    outputs.append(np.empty((n, *result.shape[1:]), result.dtype))
            for k, out in enumerate(outputs):
                out[index] = request.get_output_tensor(k).data[0]

        for i in range(n):  # frames round-robin over the requests, oldest reused first
            lone = alone and i == n - 1  # starts when the others are done, on all cores
            requests = self._requests(h, w, "LATENCY") if lone else streams
            while in_flight and (lone or len(in_flight) == len(requests)):
                finish()
            request = requests[i % len(requests)]
            request.start_async({0: batch.slot(i)})  # placed while the others run
            in_flight.append((i, request))
        while in_flight:
            finish()
        return tuple(torch.from_numpy(out) for out in outputs)
