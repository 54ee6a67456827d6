"""ZeroGPU (issue 12): the app with `spaces` installed imports and runs a job whose detection
goes through the `@spaces.GPU` function (a no-op decorator off Spaces, so "the GPU call"
runs here on the CPU), split into several calls, with the same images as a plain run; and
the duration planning gives sane figures (more frames, more seconds; never past the cap,
which splits a long video).

`spaces` comes from tests/requirements.txt; this module installs nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from batchkit import cut_clip, masking_model, shared_model_path
from mediakit import decode_frames, read_zip


# -- the duration figures ----------------------------------------------------------------------
def test_longer_videos_ask_for_more_seconds_never_past_the_cap_which_splits_them():
    from ui.zerogpu import CALL_OVERHEAD_S, call_duration, plan_gpu_calls

    spf, cap = 0.02, 60
    assert plan_gpu_calls(0, spf, cap) == []
    short, medium, long = (plan_gpu_calls(n, spf, cap) for n in (300, 1500, 30 * 60 * 10))  # 10 min at 30 fps
    totals = [sum(c.duration_s for c in plan) for plan in (short, medium, long)]
    assert totals == sorted(totals) and len(set(totals)) == 3
    assert len(short) == len(medium) == 1 and len(long) > 1  # the cap forces the split
    assert CALL_OVERHEAD_S < short[0].duration_s < medium[0].duration_s <= cap
    for plan, frames in ((short, 300), (medium, 1500), (long, 18000)):
        assert all(call.duration_s <= cap for call in plan)
        assert [c.start for c in plan[1:]] == [c.stop for c in plan[:-1]] and plan[-1].stop == frames
        assert all(call.duration_s >= call_duration(call.frames, spf, cap) for call in plan)
    assert max(c.frames for c in long) - min(c.frames for c in long) <= 1  # balanced, no 1-frame tail call
    # a slower GPU (a bigger model) asks for more per call and makes more calls
    assert len(plan_gpu_calls(18000, 0.05, cap)) > len(long)
    assert len(plan_gpu_calls(100, spf, cap, max_frames=30)) == 4  # the memory bound splits too
    assert call_duration(10**9, spf, cap) == cap
    with pytest.raises(ValueError, match="cannot fit one frame"):
        plan_gpu_calls(10, spf, CALL_OVERHEAD_S)


# -- a job through the app ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return masking_model(shared_model_path(tmp_path_factory.getbasetemp()))


def _one_frame_per_call(settings_from_inputs):
    """The page's settings with batch 1: the masking model's boxes all score the same, so
    which ones NMS keeps turns on the scores' last bit, which depends on how frames were
    batched; one frame per detector call makes both runs compute exactly the same."""
    def wrapped(*args, **kwargs):
        return settings_from_inputs(*args, **kwargs).replace(batch=1)

    return wrapped


@pytest.fixture
def gpu_calls(monkeypatch):
    """Forces the ZeroGPU path (off Spaces) and records each call: (frames, seconds asked)."""
    from ui import zerogpu

    monkeypatch.setenv("MOSAIC_ZEROGPU", "1")
    monkeypatch.setenv("MOSAIC_ZEROGPU_MAX_FRAMES", "4")
    calls = []
    original = zerogpu.detect_on_gpu

    def recording(frames, indices, settings):
        calls.append((len(frames), zerogpu._requested_duration(frames, indices, settings), frames[0].shape))
        return original(frames, indices, settings)

    monkeypatch.setattr(zerogpu, "detect_on_gpu", recording)
    return calls


def test_the_app_imports_spaces_and_runs_a_job_in_gpu_calls_with_the_plain_runs_images(
        gpu_calls, model, excerpt, tmp_path, monkeypatch):
    import spaces

    monkeypatch.setenv("MOSAIC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("MOSAIC_MODEL", str(model))  # what a Space loads at start (no download here)
    sys.modules.pop("app", None)
    import app  # noqa: F401  (imports spaces first, builds the page)
    from pipeline import run_to_result
    from ui import handlers, inputs, jobs, zerogpu

    assert zerogpu.spaces is spaces and jobs.run is zerogpu.run  # the job runner detects in GPU calls
    assert zerogpu.warm_model() is None  # the CPU model, as a Space loads it at start
    clip = cut_clip(excerpt, tmp_path / "clip.mp4", start=0, count=6)
    one_frame_per_call = _one_frame_per_call(inputs.settings_from_inputs)
    monkeypatch.setattr(handlers, "settings_from_inputs", one_frame_per_call)  # where start_job looks it up
    args = dict(interval=2, image_format="png", model=Path(model).name)  # callers name models from the allowlist
    *_, last = handlers.start_job(str(clip), make_video=True, **args)
    value = lambda out: out.get("value") if isinstance(out, dict) else out  # noqa: E731  (a gr.update or a value)
    zip_path, summary, video_path = value(last[3]), last[4], value(last[5])  # start_job's outputs, in layout order
    assert zip_path and video_path, summary
    # every frame detected (a video is made): 6 frames, at most 4 per call -> 2 calls of 3
    assert [frames for frames, _, _ in gpu_calls] == [3, 3]
    assert all(zerogpu.CALL_OVERHEAD_S < seconds <= zerogpu.cap_s() for _, seconds, _ in gpu_calls)

    settings = one_frame_per_call(2, 100, False, None, False, None, "png", 90, "mosaic", 15, 10, 0.2,
                                  Path(model).name).replace(device="cpu", backend="torch")
    assert settings.batch == 1
    # the GPU calls looked at all 6 frames (ZeroGpuDetector is not a pixel model to the stride,
    # like a replayed CSV): the plain run compared with it looks at every frame too
    settings = settings.replace(stride=1)
    plain = read_zip(run_to_result(clip, settings, output=tmp_path / "plain.zip",
                                   video_output=tmp_path / "plain.mp4").zip_path)
    ours = read_zip(Path(zip_path))
    assert ours.image_names == plain.image_names and len(ours.image_names) == 3
    assert ours.csv_text == plain.csv_text and ours.csv_rows()  # the model "found" people: real mosaics
    for name in ours.image_names:
        assert np.array_equal(ours.decoded(name), plain.decoded(name)), name


def test_frames_are_shrunk_before_the_call_and_the_boxes_scaled_back(gpu_calls, model, excerpt):
    """768x576 frames cross into the call at the network's input size (320x240 at imgsz 320),
    not in full; the boxes come back in source pixels, as the detector gives them on the
    full frames."""
    from pipeline import Settings
    from pipeline.models import load_detector
    from ui import zerogpu

    settings = Settings(model=str(model), interval=10, imgsz=320)
    detector = zerogpu.ZeroGpuDetector(excerpt, settings, every_frame=False)
    try:
        frames = decode_frames(excerpt, [0, 10, 20])
        found = detector.detect([frames[i] for i in (0, 10, 20)], [0, 10, 20])
    finally:
        detector.close()
    assert [(n, shape) for n, _, shape in gpu_calls] == [(3, (240, 320, 3))]  # every 10th of 30, in one call
    expected = load_detector(zerogpu.cpu_settings(settings)).detect([frames[i] for i in (0, 10, 20)], [0, 10, 20])
    for ours, theirs in zip(found, expected):
        assert len(ours) == len(theirs) > 0
        assert np.allclose(ours.xyxy, theirs.xyxy, atol=1e-3)


def test_int8_on_zerogpu_runs_on_the_cpu_without_gpu_calls(gpu_calls, monkeypatch):
    """The page's CPU precision INT8 on ZeroGPU: an OpenVINO model, so the run stays on the
    CPU (as the face target's does) instead of failing to load the GPU call's torch model,
    which cannot be INT8."""
    from pipeline import Settings
    from ui import zerogpu

    runs = []

    def plain_run(source, settings, **kwargs):
        runs.append((settings.device, settings.precision, kwargs.get("detector")))
        yield "done"

    monkeypatch.setattr(zerogpu, "pipeline_run", plain_run)
    int8 = Settings(model="yolo11n.yaml", precision="int8")
    assert list(zerogpu.run("clip.mp4", int8)) == ["done"]
    assert runs == [("cpu", "int8", None)] and gpu_calls == []
    with pytest.raises(Exception, match="precision int8 runs on OpenVINO on the CPU"):
        zerogpu.cpu_settings(int8)  # why INT8 must not take the GPU path
