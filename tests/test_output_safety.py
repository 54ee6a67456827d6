"""Never destroy the user's footage (issue 16): outputs that collide with inputs or with each
other, folders that cannot be written, a sink that fails at start-up; "stop and keep what
is done"; a warning when nobody was detected; counts that agree when a run stops early.

Every refusal is checked the way a user meets it: one `error:` line, exit 2, the input
byte-for-byte unchanged, not one new file in any folder, no pipeline thread left.
"""
from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from mediakit import decode_frames, padded_boxes, read_zip, union_mask
from pipeline import USER_STOP, Cancelled, Settings, kept_path, run
from pipeline.events import Progress, Result

W, H, FPS, FRAMES = 768, 576, 10, 30  # the excerpt
BOX = (300.0, 150.0, 420.0, 400.0)
PAD = 10.0


def _run_until(source: Path, settings: Settings, stop_when, *, finish: threading.Event, **kwargs) -> Result:
    """Run, set `finish` at the first Progress for which `stop_when` is true, return the Result."""
    result = None
    for event in run(source, settings, finish=finish, **kwargs):
        if isinstance(event, Progress) and stop_when(event):
            finish.set()
        elif isinstance(event, Result):
            result = event
    assert result is not None
    return result


def _assert_masked_exactly(image: np.ndarray, source: np.ndarray) -> None:
    """A PNG output frame: identical to the source outside the padded box, changed inside."""
    regions = padded_boxes([BOX], PAD, W, H)
    inside = union_mask(regions, image.shape)
    assert np.array_equal(image[~inside], source[~inside]), "pixels outside the box changed"
    x1, y1, x2, y2 = regions[0]
    changed = np.any(image[y1:y2, x1:x2] != source[y1:y2, x1:x2], axis=-1).mean()
    assert changed > 0.5, f"only {changed:.0%} of the box is masked"


# -- stop and keep what is done -----------------------------------------------------------
def test_stop_and_keep_gives_a_valid_zip_of_the_frames_done_under_a_partial_name(
        excerpt, tmp_path, box_detector, no_stray_threads):
    out = tmp_path / "out"
    out.mkdir()
    previous = out / "clip_mosaic.zip"
    previous.write_bytes(b"the previous good result")  # never replaced by a cut-short run
    settings = Settings(interval=2, batch=1, image_format="png", pad_pct=PAD, hold_s=0.0)
    detector = box_detector([BOX], delay_s=0.1)
    result = _run_until(excerpt, settings, lambda e: e.images_written >= 3, finish=threading.Event(),
                        output=previous, detector=detector, work_dir=tmp_path)

    assert result.stop_reason == USER_STOP and result.stopped_early
    assert result.zip_path == out / "clip_mosaic_partial.zip" == kept_path(previous)
    assert previous.read_bytes() == b"the previous good result"
    assert sorted(p.name for p in out.iterdir()) == ["clip_mosaic.zip", "clip_mosaic_partial.zip"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no working file or job folder left"

    stop = result.stopped_at_frame
    assert 6 <= stop < FRAMES, "stopped in the middle, after the third image"
    assert result.frames_read == stop, "the count says how many frames went through"
    assert result.stopped_at_s == pytest.approx(stop / FPS)
    contents = read_zip(result.zip_path)  # testzip() passes: a whole, valid archive
    expected = list(range(0, stop, 2))
    assert contents.frame_indices() == expected and result.images_written == len(expected)
    assert all(name.startswith(f"frame_{i:06d}_") for name, i in zip(contents.image_names, expected))
    assert {int(r["frame"]) for r in contents.csv_rows()} == set(expected)
    assert result.zip_bytes == result.zip_path.stat().st_size
    sources = decode_frames(excerpt, expected)
    for index in expected:
        _assert_masked_exactly(contents.image_for_frame(index), sources[index])
    assert max(i for call in detector.calls for i in call) < stop + 4, "reading stopped at the cut"
    assert result.message.startswith(f"Stopped by you at frame {stop} (t={stop / FPS:.1f} s): ")
    assert f"{len(expected)} images" in result.message and "kept in clip_mosaic_partial.zip" in result.message
    assert "the rest of the video was not processed" in result.message


def test_stop_and_keep_with_video_keeps_a_playable_video_of_the_same_frames(samples_dir, tmp_path, box_detector,
                                                                               no_stray_threads):
    """Megamind.avi has AC-3 audio: the kept video's audio ends with its last frame."""
    source = samples_dir / "Megamind.avi"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    settings = Settings(interval=25, batch=1, hold_s=0.0)
    result = _run_until(source, settings, lambda e: e.frames_read >= 60, finish=threading.Event(),
                        output=tmp_path / "m.zip", video_output=tmp_path / "m.mp4",
                        detector=box_detector([BOX], delay_s=0.02), work_dir=tmp_path)

    assert result.stop_reason == USER_STOP
    stop = result.stopped_at_frame
    assert 60 <= stop < 270
    assert result.video_path == tmp_path / "m_partial.mp4" and result.zip_path == tmp_path / "m_partial.zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_partial.mp4", "m_partial.zip"]
    assert result.frames_read == result.video_frames == stop
    assert read_zip(result.zip_path).frame_indices() == list(range(0, stop, 25))
    with av.open(str(result.video_path)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == stop
    frames = [f.to_ndarray(format="bgr24") for f in decoded[-1:]]
    video_end = decoded[-1].time + 1 / 23.976
    with av.open(str(result.video_path)) as container:
        audio = container.streams.audio[0]
        audio_end = max(float(p.pts * p.time_base) for p in container.demux(audio) if p.pts is not None)
    assert abs(audio_end - stop / 23.976) < 0.2, "the audio stops where the kept video stops"
    assert abs(video_end - stop / 23.976) < 0.2
    # the kept video is masked too: its last frame differs from the source inside the box
    last = decode_frames(source, [stop - 1])[stop - 1]
    x1, y1, x2, y2 = (int(v) for v in BOX)
    assert np.abs(frames[-1][y1:y2, x1:x2].astype(int) - last[y1:y2, x1:x2]).mean() > 5


def test_stop_and_keep_before_any_frame_writes_nothing(excerpt, tmp_path, box_detector, no_stray_threads):
    finish = threading.Event()
    finish.set()
    detector = box_detector([BOX])
    with pytest.raises(Cancelled):
        for _ in run(excerpt, Settings(), output=tmp_path / "o.zip", detector=detector, finish=finish,
                     work_dir=tmp_path):
            pass
    assert detector.calls == [] and list(tmp_path.iterdir()) == []


def test_plain_cancel_still_removes_everything(excerpt, tmp_path, box_detector, no_stray_threads):
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        for event in run(excerpt, Settings(interval=1, batch=1), output=tmp_path / "o.zip", cancel=cancel,
                         finish=threading.Event(), detector=box_detector([BOX], delay_s=0.1), work_dir=tmp_path):
            if isinstance(event, Progress) and event.images_written >= 2:
                cancel.set()
    assert list(tmp_path.iterdir()) == []
