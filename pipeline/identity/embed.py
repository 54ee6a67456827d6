"""Face descriptors: dlib's ResNet (128-d, 99.38 % on LFW) on a face aligned by its 5-point model.

dlib finds the 5 landmarks and cuts the aligned 150x150 chip (`get_face_chip`, exactly what
its `compute_face_descriptor` does with num_jitters 0); the network itself runs in torch
(resnet.py, the same weights read from dlib's file, one thread): ~10 ms a face with the
landmarks, against ~75 ms for dlib-bin's own network (no BLAS), on a 2-core AMD EPYC; the
descriptors agree within 2e-6 (benchmarks/identity_speed.py). Where that port cannot be
built (torch missing, an unknown file), dlib runs the network: one warning, slower.

Both models come from the `face-recognition-models` wheel (its files only: we never import
its module, which needs pkg_resources), run by `dlib-bin` (prebuilt dlib). Nothing is
downloaded at run time. Licences: dlib is Boost Software License 1.0; the two model files
are Davis King's, released into the public domain (the wheel ships them under CC0 1.0).
dlib's 68-point model, trained on iBUG 300-W (no commercial use), is never loaded.

    embedder = FaceEmbedder.load()
    vector = embedder.describe(frame_bgr, (x1, y1, x2, y2))   # (128,) float32

Descriptors are biometric data: they live in memory for the run only. Nothing here logs or
writes them, and no caller may (see people.py).
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)
DESCRIPTOR_SIZE = 128
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
CONTEXT = 0.35  # crop this much beyond the face box on each side: the aligner needs the whole face
INSTALL_HINT = "Face identity needs dlib and its models: pip install dlib-bin face-recognition-models"
CHIP_SIZE, CHIP_PADDING = 150, 0.25  # compute_face_descriptor's chip: its size and padding defaults


def model_folder() -> Path:
    """The folder holding the two model files inside the installed wheel."""
    found = importlib.util.find_spec("face_recognition_models")
    folder = Path(found.origin).parent / "models" if found and found.origin else None
    if folder is None or not all((folder / name).is_file() for name in (RESNET_FILE, LANDMARKS_FILE)):
        raise ModelError(INSTALL_HINT)
    return folder


def square_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    """A face detector's (taller) box as the square dlib's aligner was trained on: centred on
    the box, side = its mean side, a little lower than the top (forehead less, chin kept)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(2.0, ((x2 - x1) + (y2 - y1)) / 2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + 0.05 * (y2 - y1)
    half = side / 2
    return (round(max(0.0, cx - half)), round(max(0.0, cy - half)),
            round(min(width - 1.0, cx + half)), round(min(height - 1.0, cy + half)))


class FaceEmbedder:
    """dlib's aligner and descriptor network, loaded once per process (thread-safe)."""

    _shared: FaceEmbedder | None = None
    _shared_lock = threading.Lock()

    def __init__(self, folder: Path):
        try:
            import dlib
        except ImportError as err:
            raise ModelError(INSTALL_HINT) from err
        try:
            self._landmarks = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        except RuntimeError as err:
            raise ModelError(f"dlib's face models failed to load: {err}") from err
        self._dlib = dlib
        self._lock = threading.Lock()  # dlib's objects are not documented thread-safe
        self._net, self._resnet = self._fast_net(folder / RESNET_FILE), None
        if self._net is None:
            try:
                self._resnet = dlib.face_recognition_model_v1(str(folder / RESNET_FILE))
            except RuntimeError as err:
                raise ModelError(f"dlib's face models failed to load: {err}") from err

    @staticmethod
    def _fast_net(path: Path):
        """The torch port of the descriptor network, or None (logged) where it cannot be built."""
        try:
            from .dlib_weights import WeightsError
            from .resnet import FaceResNet
        except ImportError as err:
            log.warning("Face descriptors run in dlib (~10x slower): torch is missing (%s)", err)
            return None
        try:
            return FaceResNet.load(path)
        except (WeightsError, OSError) as err:
            log.warning("Face descriptors run in dlib (~10x slower): %s: %s", path.name, err)
            return None

    @property
    def backend(self) -> str:
        """What runs the descriptor network: 'torch' (the fast port) or 'dlib'."""
        return "torch" if self._net is not None else "dlib"

    @classmethod
    def load(cls) -> FaceEmbedder:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(model_folder())
            return cls._shared

    def describe(self, image_bgr: np.ndarray, box) -> np.ndarray:
        """The 128-d descriptor of the face in `box` (x1, y1, x2, y2, pixels of `image_bgr`)."""
        crop, square = self._crop(image_bgr, box)
        with self._lock:
            shape = self._landmarks(crop, self._dlib.rectangle(*square))
            if self._net is None:
                return np.asarray(self._resnet.compute_face_descriptor(crop, shape), np.float32)
            chip = self._dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
            return self._net.describe_chips(chip)[0]

    def landmarks(self, image_bgr: np.ndarray, box):
        """The RGB crop `describe` works on and dlib's 5-point shape in it (for checks against
        dlib's own `compute_face_descriptor(crop, shape)`)."""
        crop, square = self._crop(image_bgr, box)
        with self._lock:
            return crop, self._landmarks(crop, self._dlib.rectangle(*square))

    @staticmethod
    def _crop(image_bgr: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The face with CONTEXT around it, as RGB, and the square box the aligner starts from."""
        height, width = image_bgr.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in box)
        pad_x, pad_y = CONTEXT * (x2 - x1), CONTEXT * (y2 - y1)
        cx1, cy1 = int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y))
        cx2, cy2 = int(min(width, x2 + pad_x)), int(min(height, y2 + pad_y))
        crop = np.ascontiguousarray(image_bgr[cy1:cy2, cx1:cx2, ::-1])  # dlib wants RGB
        if crop.shape[0] < 4 or crop.shape[1] < 4:
            raise ValueError(f"face box {box} is too small or outside the {width}x{height} image")
        square = square_box((x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1), crop.shape[1], crop.shape[0])
        return crop, square


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors (dlib's own measure)."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
