"""dlib's face-recognition ResNet run by torch: the same network and weights, ~10x faster here.

Why: dlib-bin is built without BLAS, so `compute_face_descriptor` costs ~76 ms a face on a
2-core AMD EPYC; torch's oneDNN convolutions run the same 29 convolutions in a few ms. The
weights come from dlib's own file (dlib_weights.py). The network is replayed layer by layer
as dlib defines it (dnn/layers.h, cpu_dlib.cpp), with these details that matter:

* input: RGB, (pixel - the file's per-channel mean) / 256, a 150x150 chip;
* con_ and pooling pad half the window at stride 1 and nothing at stride 2 (output sizes
  floor, windows never run past the edge, so torch's pools agree exactly);
* each affine_ (batch norm frozen into gamma, beta) is folded into the convolution before it;
* add_prev_ adds tensors of different shapes: the result has the larger of each dimension
  and the smaller tensor counts as zeros outside itself (the shortcut of a down-sampling
  block has fewer channels, and at 8 -> 3/4 and 4 -> 1/2 pixels a different size);
* the descriptor is the 128-d output of the last fc layer, not normalised (loss_metric_).

Tensors are channels-last: oneDNN's convolutions run ~25 % faster so on this CPU.

One thread per call by default (THREADS). On an idle 2-core EPYC, 2 threads take 6 ms a face
and 1 takes 9.5 ms; with one core busy, as the video pipeline's decode, detect and encode
threads keep it, an OpenMP pool of 2 waits for the thread that lost its core: 130 ms, against
25 ms on 1 thread (benchmarks/identity_speed.py). The count is set for the call only and put
back: torch's count is per calling thread (OpenMP's), so threads that already ran torch keep
theirs; a thread running its very first torch op inside those milliseconds would pick up 1.

    net = FaceResNet.load(path)
    vectors = net.describe_chips(chips)   # (N, 150, 150, 3) uint8 RGB -> (N, 128) float32
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .dlib_weights import Layer, Network, read_network

CHIP_SIZE = 150
THREADS = 1  # torch threads a describe call uses (see above); None: leave torch's count as it is


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `count` for this block, then put back."""
    before = torch.get_num_threads()
    if count is None or count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fold(con: Layer, affine: Layer | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A convolution's weight and bias with the affine layer after it folded in."""
    weight, bias = con.arrays["weight"], con.arrays["bias"]
    if affine is not None:
        gamma, beta = affine.arrays["gamma"], affine.arrays["beta"]
        weight = weight * gamma[:, None, None, None]
        bias = bias * gamma + beta
    weight = torch.from_numpy(np.ascontiguousarray(weight)).contiguous(memory_format=torch.channels_last)
    return weight, torch.from_numpy(np.ascontiguousarray(bias))


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's tt::add(dest, a, b) for add_prev_: the larger of each dimension, zeros outside."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:]))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class FaceResNet:
    """The network as a list of steps, input first; run under torch.inference_mode()."""

    def __init__(self, network: Network):
        self.mean = torch.tensor(network.mean_rgb, dtype=torch.float32).view(1, 3, 1, 1)
        inward = list(reversed(network.layers))  # from the input outwards
        self.steps: list[tuple] = []
        i = 0
        while i < len(inward):
            layer = inward[i]
            if layer.kind == "con":
                affine = inward[i + 1] if i + 1 < len(inward) and inward[i + 1].kind == "affine" else None
                weight, bias = _fold(layer, affine)
                self.steps.append(("con", weight, bias, layer.stride, layer.padding))
                i += 2 if affine is not None else 1
                continue
            if layer.kind == "affine":
                self.steps.append(("affine", torch.from_numpy(layer.arrays["gamma"]).view(1, -1, 1, 1),
                                   torch.from_numpy(layer.arrays["beta"]).view(1, -1, 1, 1)))
            elif layer.kind == "fc":
                self.steps.append(("fc", torch.from_numpy(np.ascontiguousarray(layer.arrays["weight"]))))
            else:
                self.steps.append((layer.kind, layer.size, layer.stride, layer.tag))
            i += 1

    @classmethod
    def load(cls, path: Path) -> FaceResNet:
        return cls(read_network(path))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output for a (N, 3, 150, 150) float tensor already normalised."""
        tags: dict[int, torch.Tensor] = {}
        for step in self.steps:
            kind = step[0]
            if kind == "con":
                x = F.conv2d(x, step[1], step[2], stride=step[3], padding=step[4])
            elif kind == "affine":
                x = x * step[1] + step[2]
            elif kind == "relu":
                x = torch.relu(x)
            elif kind == "max_pool":
                x = F.max_pool2d(x, step[1], step[2])
            elif kind == "avg_pool":
                x = x.mean(dim=(2, 3), keepdim=True) if step[1] == 0 else F.avg_pool2d(x, step[1], step[2])
            elif kind == "tag":
                tags[step[3]] = x
            elif kind == "skip":
                x = tags[step[3]]
            elif kind == "add_prev":
                x = _add_padded(x, tags[step[3]])
            elif kind == "fc":
                x = x.flatten(1) @ step[1]
            else:
                raise AssertionError(kind)
        return x

    def describe_chips(self, chips: np.ndarray, threads: int | None = THREADS) -> np.ndarray:
        """(N, 150, 150, 3) uint8 RGB face chips (dlib.get_face_chip) -> (N, 128) float32,
        on `threads` torch threads for this call (None: torch's current count)."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3) or chips.dtype != np.uint8:
            raise ValueError(f"face chips must be (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) uint8, "
                             f"not {chips.shape} {chips.dtype}")
        with torch.inference_mode(), _torch_threads(threads):
            x = torch.from_numpy(np.ascontiguousarray(chips)).permute(0, 3, 1, 2).float()
            x = ((x - self.mean) / 256.0).contiguous(memory_format=torch.channels_last)
            return self.forward(x).numpy().astype(np.float32, copy=True)
