"""A reader of dlib's serialized face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat).

Why: dlib-bin is built without BLAS, so dlib runs this network at ~76 ms a face; torch runs the
same network, with the same weights, in a few ms (resnet.py). This module turns dlib's file
into plain float32 arrays, written from dlib's own serialization code (dlib/serialize.h,
float_details.h, cuda/tensor.h, dnn/core.h, dnn/layers.h, dnn/input.h, dnn/loss.h):

* integers: a control byte (low 4 bits: byte count, 0x80: negative), then little-endian bytes;
* floats: float_details, an int64 mantissa then an int16 exponent (value = m * 2**e);
* strings: an integer length, then the bytes; bools: ASCII '1' or '0';
* tensors: version 2, four integers (n, k, nr, nc), then n*k*nr*nc raw little-endian float32s;
* a network: the loss layer first, then each layer from the output inwards writes only its
  version (add_layer, tag, skip); the input layer follows, and then, from the input outwards,
  each add_layer's details and bookkeeping (flags, empty gradient tensors).

The layer sequence is the one of dlib's examples/dnn_face_recognition_ex.cpp (`anet_type`); every
layer's hyper-parameters in the file are checked against it, so another file is one
WeightsError, never a silently wrong network. Tensors are read straight from the buffer, so
the whole 22 MB file parses in well under a second: no cache is needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class WeightsError(ValueError):
    """The file is not the network this reader knows (another layout, a damaged file)."""


@dataclass(frozen=True)
class Layer:
    """One layer of the network, outermost first. kind: con, affine, relu, max_pool, avg_pool,
    add_prev, fc (dlib add_layers), tag, skip. For con: n filters of size x size at stride;
    for pools: a size x size window at stride (0: the whole input); tag/skip/add_prev: tag id.
    `arrays` is filled by the reader (con: weight, bias; affine: gamma, beta; fc: weight)."""

    kind: str
    n: int = 0
    size: int = 0
    stride: int = 1
    tag: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict, compare=False)

    @property
    def padding(self) -> int:
        """dlib's default for con_ and pooling: no padding at stride > 1, else half the window."""
        return 0 if self.stride != 1 else self.size // 2


def _block(n: int, stride: int, sub: list[Layer]) -> list[Layer]:
    return [Layer("affine"), Layer("con", n, 3, 1), Layer("relu"),
            Layer("affine"), Layer("con", n, 3, stride), *sub]


def _ares(n: int, sub: list[Layer]) -> list[Layer]:
    return [Layer("relu"), Layer("add_prev", tag=1), *_block(n, 1, [Layer("tag", tag=1), *sub])]


def _ares_down(n: int, sub: list[Layer]) -> list[Layer]:
    return [Layer("relu"), Layer("add_prev", tag=2), Layer("avg_pool", size=2, stride=2),
            Layer("skip", tag=1), Layer("tag", tag=2), *_block(n, 2, [Layer("tag", tag=1), *sub])]


def face_resnet_layers() -> list[Layer]:
    """dlib's `anet_type`, outermost layer first, without the loss and input layers."""
    net = [Layer("max_pool", size=3, stride=2), Layer("relu"), Layer("affine"), Layer("con", 32, 7, 2)]
    for _ in range(3):
        net = _ares(32, net)
    for n, plain in ((64, 3), (128, 2), (256, 2)):
        net = _ares_down(n, net)
        for _ in range(plain):
            net = _ares(n, net)
    net = _ares_down(256, net)
    return [Layer("fc", 128), Layer("avg_pool", size=0, stride=1), *net]


@dataclass(frozen=True)
class Network:
    """The parsed network: layers outermost first, and the input layer's per-channel means (RGB)."""

    layers: list[Layer]
    mean_rgb: tuple[float, float, float]


class _Reader:
    """dlib's deserialize() for the types this network uses, over an in-memory buffer."""

    def __init__(self, data: bytes):
        self.data, self.pos = memoryview(data), 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise WeightsError("the file ends early")
        self.pos += 1
        return self.data[self.pos - 1]

    def int(self) -> int:
        control = self.byte()
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise WeightsError(f"bad integer control byte {control:#x} at {self.pos - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def take(self, count: int) -> memoryview:
        if self.pos + count > len(self.data):
            raise WeightsError("the file ends early")
        self.pos += count
        return self.data[self.pos - count:self.pos]

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent >= 32000:  # float_details: is_inf, is_ninf, is_nan
            return (float("inf"), float("-inf"), float("nan"))[min(exponent - 32000, 2)]
        return float(np.ldexp(float(mantissa), exponent))

    def string(self) -> str:
        return bytes(self.take(self.int())).decode("latin-1")

    def bool(self) -> bool:
        ch = self.byte()
        if ch not in (ord("0"), ord("1")):
            raise WeightsError(f"bad bool byte {ch:#x} at {self.pos - 1}")
        return ch == ord("1")

    def tensor(self) -> np.ndarray:
        self.version("tensor", 2)
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), "<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        self.version("alias_tensor", 1)
        return tuple(self.int() for _ in range(4))

    def version(self, what: str, *allowed: int) -> int:
        found = self.int()
        if found not in allowed:
            raise WeightsError(f"{what}: version {found}, this reader knows {allowed}")
        return found

    def name(self, *allowed: str) -> str:
        found = self.string()
        if found not in allowed:
            raise WeightsError(f"found layer '{found}' where {allowed} was expected")
        return found


def _expect(layer: Layer, what: str, found, wanted) -> None:
    if found != wanted:
        raise WeightsError(f"{layer.kind} layer: {what} is {found}, the face ResNet has {wanted}")


def _details(r: _Reader, layer: Layer) -> None:
    """One add_layer's details (layers.h serialize()), checked against `layer`, arrays kept."""
    kind = layer.kind
    if kind == "con":
        version = r.name("con_4", "con_5", "con_6")
        params = r.tensor().ravel()
        _expect(layer, "filters", r.int(), layer.n)
        geometry = [r.int() for _ in range(6)]  # nr, nc, stride y, x, padding y, x
        _expect(layer, "geometry", geometry, [layer.size] * 2 + [layer.stride] * 2 + [layer.padding] * 2)
        filters, _biases = r.alias(), r.alias()
        [r.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
        use_bias = r.bool() if version in ("con_5", "con_6") else True
        if version == "con_6":
            r.bool()  # use_relu: a fused relu, only ever set by dlib's fuse_layers() at run time
        size = int(np.prod(filters))
        layer.arrays["weight"] = params[:size].reshape(filters)
        layer.arrays["bias"] = params[size:size + layer.n] if use_bias else np.zeros(layer.n, np.float32)
    elif kind == "affine":
        version = r.name("affine_", "affine_2")  # a saved bn_con2 (training net) is not read
        params = r.tensor().ravel()
        gamma, _beta = r.alias(), r.alias()
        count = int(np.prod(gamma))
        g, b = params[:count], params[count:2 * count]
        _expect(layer, "mode", r.int(), 0)  # CONV_MODE: one gamma and beta per channel
        if version == "affine_2" and r.bool():
            raise WeightsError("affine layer is disabled: not the face ResNet")
        layer.arrays["gamma"], layer.arrays["beta"] = g.astype(np.float32), b.astype(np.float32)
    elif kind == "relu":
        if r.name("relu_", "relu_2") == "relu_2" and r.bool():
            raise WeightsError("relu layer is disabled: not the face ResNet")
    elif kind in ("max_pool", "avg_pool"):
        r.name(f"{kind}_2")
        geometry = [r.int() for _ in range(6)]
        _expect(layer, "geometry", geometry, [layer.size] * 2 + [layer.stride] * 2 + [layer.padding] * 2)
    elif kind == "add_prev":
        r.name("add_prev_")
    elif kind == "fc":
        version = r.name("fc_2", "fc_3")
        _expect(layer, "outputs", r.int(), layer.n)
        inputs = r.int()
        params = r.tensor().ravel()
        weights, _biases = r.alias(), r.alias()
        _expect(layer, "bias mode", r.int(), 1)  # FC_NO_BIAS
        [r.float() for _ in range(4)]
        if version == "fc_3" and r.bool():
            raise WeightsError("fc layer has a bias: not the face ResNet")
        _expect(layer, "weights", weights[:2], (inputs, layer.n))
        layer.arrays["weight"] = params[:inputs * layer.n].reshape(inputs, layer.n)
    else:
        raise AssertionError(kind)


def read_network(path: Path) -> Network:
    """Parse dlib's face ResNet file; WeightsError if it is not exactly that network."""
    r = _Reader(Path(path).read_bytes())
    r.version("add_loss_layer", 1)
    if r.name("loss_metric_", "loss_metric_2") == "loss_metric_2":
        r.float(), r.float()  # margin, distance threshold: training only
    layers = face_resnet_layers()
    versions = []
    for layer in layers:  # outermost first, each writes its version before its subnetwork
        if layer.kind in ("tag", "skip"):
            r.version(layer.kind, 1)
        elif layer is layers[-1]:
            versions.append(r.version("add_layer (over the input)", 2, 3))
        else:
            versions.append(r.version("add_layer", 1, 2))
    r.name("input_rgb_image_sized")
    mean_rgb = (r.float(), r.float(), r.float())
    _expect(Layer("input"), "size", (r.int(), r.int()), (150, 150))
    dense = [layer for layer in layers if layer.kind not in ("tag", "skip")]
    for layer, version in zip(reversed(dense), reversed(versions)):  # innermost first now
        _details(r, layer)
        r.bool(), r.bool(), r.bool()  # setup called, gradient stale, output/gradient disabled
        r.tensor(), r.tensor()  # x_grad, cached_output: empty in a saved network
        if layer is dense[-1]:
            r.tensor()  # grad_final
            if version >= 3:
                r.int()  # sample expansion factor
        elif version == 2:
            r.tensor()  # params_grad
    if r.pos != len(r.data):
        raise WeightsError(f"{len(r.data) - r.pos} bytes left over after the network")
    return Network(layers, mean_rgb)
