"""The two inference engines. Each takes a letterboxed `Batch` and returns the network's
outputs as a tuple of torch tensors: (predictions,) for detect and pose models,
(predictions, mask prototypes) for segmentation models.

* TorchEngine: ultralytics' AutoBackend (fused; FP16 on CUDA) on whole batches.
* OpenVINOEngine: the cached dynamic-shape export, compiled per frame size (batch 1):
  FP32 (the CPU plugin's default on AVX512-BF16 CPUs without AMX is bf16, which measured
  ~2x slower here), colour conversion and scaling folded into the graph, THROUGHPUT
  streams with one frame in flight per stream (on 2 cores: 2 single-thread streams, which
  keep going when decode or JPEG encode takes a core, where one 2-thread stream stalls on
  its slower thread); a frame that would run alone goes to all cores (RequestPool, shared
  with CenterFace's engine).
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


class RequestPool:
    """One model's CPU infer requests, compiled per input (h, w) and hint on first use
    (`compiled`). `run(n, feed, h, w)` starts input i = feed(i), a (1, h, w, 3) uint8 array,
    as a request frees up, and yields (i, request) as each finishes (its outputs valid until
    the generator resumes). Inputs go round the `hint` streams (THROUGHPUT: one single-thread
    stream per core); one that would run alone on one stream while the other cores wait (a
    batch's odd one: a lone closer look, a live frame) runs on a LATENCY request, all cores on
    it (a 640x640 CenterFace input: 41 ms against 88 ms on one stream, 2-core AMD EPYC), and
    so does every input of `large_px` pixels or more: as fast as two streams, without a
    second copy of its activations. A shape whose inputs have only come one at a time has no
    streams compiled (a 4K scan's whole-frame pass, batch 1: ~35 MB for YOLO at 384x640)."""

    def __init__(self, core, xml: Path | None, threads: int, scale: float | None = None, large_px: int | None = None,
                 compile_requests=None):
        self.core, self.xml, self.threads, self.scale, self.large_px = core, xml, threads, scale, large_px
        # (h, w, hint) -> infer requests; a model whose input is not a BGR NCHW image (the
        # bundled person model's uint8 NHWC RGB) brings its own
        self.compile_requests = compile_requests or (
            lambda h, w, hint: cpu_infer_requests(self.core, self.xml, h, w, self.threads, self.scale, hint))
        self.compiled: dict[tuple[int, int, str], list] = {}  # (h, w, hint) -> infer requests

    def requests(self, h: int, w: int, hint: str) -> list:
        if (h, w, hint) not in self.compiled:
            self.compiled[(h, w, hint)] = self.compile_requests(h, w, hint)
        return self.compiled[(h, w, hint)]

    def run(self, n: int, feed, h: int, w: int, hint: str = "THROUGHPUT"):
        lone = n == 1 and hint == "THROUGHPUT" and self.threads > 1 and (h, w, hint) not in self.compiled
        if lone or (self.large_px and h * w >= self.large_px):  # a lone input: no streams compiled for it
            yield from self._round_robin(feed, range(n), self.requests(h, w, "LATENCY"))
            return
        streams = self.requests(h, w, hint)
        alone = int(len(streams) > 1 and n % len(streams) == 1)
        yield from self._round_robin(feed, range(n - alone), streams)
        if alone:
            yield from self._round_robin(feed, [n - 1], self.requests(h, w, "LATENCY"))

    @staticmethod
    def _round_robin(feed, chosen, requests: list):
        in_flight: deque = deque()
        try:
            for k, i in enumerate(chosen):  # oldest request reused first
                if len(in_flight) == len(requests):
                    yield _finished(in_flight)
                request = requests[k % len(requests)]
                request.start_async({0: feed(i)})  # placed while the others run
                in_flight.append((i, request))
            while in_flight:
                yield _finished(in_flight)
        finally:
            for _, request in in_flight:  # an abandoned run leaves no request busy
                request.wait()


def _finished(in_flight: deque):
    i, request = in_flight.popleft()
    request.wait()
    return i, request


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
        self.pool = RequestPool(self.core, xml, self.threads, scale=255.0)

    def __call__(self, batch: Batch) -> tuple:
        import torch

        n, (h, w) = len(batch), batch.geometry.net_hw
        outputs: list[np.ndarray] = []  # one (n, ...) array per network output
        for index, request in self.pool.run(n, batch.slot, h, w, os.environ.get(OV_HINT_ENV_VAR, "THROUGHPUT")):
            if not outputs:
                for k in range(len(request.model_outputs)):
                    result = request.get_output_tensor(k).data
                    outputs.append(np.empty((n, *result.shape[1:]), result.dtype))
            for k, out in enumerate(outputs):
                out[index] = request.get_output_tensor(k).data[0]
        return tuple(torch.from_numpy(out) for out in outputs)
