"""The CUDA path: batched FP16 torch, the same code as the CPU path but for the device and
precision. It runs only where a CUDA GPU is present; elsewhere it is reported as not run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline import Settings
from pipeline.models import load_detector

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU here: the FP16 batched CUDA path was not run"
)


def test_cuda_detector_runs_fp16_batches_and_matches_the_cpu_boxes(excerpt_frames):
    frames = excerpt_frames[:8]
    # A near-zero threshold makes even the untrained network return boxes to compare.
    cuda = load_detector(Settings(model="yolo11n.yaml", device="cuda", conf=0.001, batch=8))
    cpu = load_detector(Settings(model="yolo11n.yaml", device="cpu", backend="torch", conf=0.001))
    assert cuda.key.device == "cuda" and cuda.backend == "torch"
    assert cuda._yolo.half, "CUDA must run in FP16"
    assert torch.backends.cudnn.benchmark
    on_gpu = cuda.detect(frames, list(range(len(frames))))
    on_cpu = cpu.detect(frames, list(range(len(frames))))
    assert len(on_gpu) == len(frames)
    for gpu_found, cpu_found in zip(on_gpu, on_cpu):
        assert abs(len(gpu_found) - len(cpu_found)) <= max(2, len(cpu_found) // 10)
        if len(gpu_found) and len(cpu_found):  # FP16 moves boxes by a pixel or so, not more
            assert np.abs(np.sort(gpu_found.xyxy, axis=0)[:5] - np.sort(cpu_found.xyxy, axis=0)[:5]).max() < 8


@pytest.fixture
def excerpt_frames(excerpt):
    from pipeline.io.video import read_frames

    return [f.image for f in read_frames(excerpt)]
