"""The public HTTP API that ui/layout.py wires as /process and /render: a video in, a ZIP
of masked frames and a one-line summary out, in English. The same checks as the page
guard it: a video only as an upload or a Drive link (pick_source), a model only from the
allowlist (settings_from_inputs), /render's detections.csv only as an upload, and error
texts without server details (messages.public_message). Each call is a generator, so a
caller who cancels or goes away stops its job."""
from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

import gradio as gr

from pipeline import MosaicError, Result, Settings
from pipeline.errors import InputError
from pipeline.mask.unmask import parse_track_ids

from .faces import with_faces
from .inputs import DEFAULT_CAP_IMAGES, DEFAULT_CAP_MB, DEFAULTS, settings_from_inputs
from .jobs import _job_events
from .messages import WRITE_FAILED, public_message
from .report import outcome
from .sources import _as_upload, _is_sample, _using_upload, pick_source


def process_api(
    video_file, drive_link="", interval=DEFAULTS["interval"].default, scale_pct=DEFAULTS["scale_pct"].default,
    limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False, max_images=DEFAULT_CAP_IMAGES,
    image_format=DEFAULTS["image_format"].default, jpeg_quality=DEFAULTS["jpeg_quality"].default,
    style=DEFAULTS["style"].default, mosaic_cells=DEFAULTS["mosaic_cells"].default,
    pad_pct=DEFAULTS["pad_pct"].default, conf=DEFAULTS["conf"].default, model="",
    hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
    face_shape=DEFAULTS["face_shape"].default, precision=DEFAULTS["precision"].default,
    make_video=False, voice=DEFAULTS["voice"].default, mute_spans="", bleep=False,
    keep_faces=None, only_faces=None, follow="", detail=DEFAULTS["detail"].default,
    audit=None, encode=DEFAULTS["encode"].default,
):
    """Mask every person in a video. While it runs it sends (None, a progress line); its last
    output is (the ZIP of masked frames, a one-line summary that says when a cap stopped the
    run early or nobody was detected). It is a generator so that a caller who cancels (or
    goes away) stops the job: Gradio closes it at its next output. With `make_video` the
    ZIP also holds the whole masked video, its sound as `voice`, `mute_spans` and `bleep` say."""
    try:
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape, precision,
            voice, mute_spans, bleep,
            follow, detail, audit, encode,
        )
        settings = with_faces(settings, keep_faces, only_faces)  # uploads only
        source = pick_source(video_file, drive_link)
        yield from _api_job(source, settings, bool(make_video))
    except MosaicError as err:
        raise gr.Error(public_message(err), print_exception=False) from None


def render_api(
    video_file, detections_csv, unmask_tracks="", interval=DEFAULTS["interval"].default,
    scale_pct=DEFAULTS["scale_pct"].default, limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False,
    max_images=DEFAULT_CAP_IMAGES, image_format=DEFAULTS["image_format"].default,
    jpeg_quality=DEFAULTS["jpeg_quality"].default, style=DEFAULTS["style"].default,
    mosaic_cells=DEFAULTS["mosaic_cells"].default, pad_pct=DEFAULTS["pad_pct"].default,
    hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
    face_shape=DEFAULTS["face_shape"].default, make_video=False, voice=DEFAULTS["voice"].default,
    mute_spans="", bleep=False, keep_faces=None, only_faces=None, follow="",
    audit=None, unmask_reason="", encode=DEFAULTS["encode"].default,
):
    """Render a video from an edited detections.csv without running the model: the boxes
    listed are covered (manual rows interpolated per track, held like detections), the
    tracks in `unmask_tracks` ("3,7") are left uncovered. Outputs as /process."""
    try:
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, DEFAULTS["conf"].default, "", hold_s, target, face_shape,
            voice=voice, mute_spans=mute_spans, bleep=bleep,
            follow=follow, audit=audit, encode=encode,
        )
        csv_path = detections_csv if isinstance(detections_csv, (str, Path)) else getattr(detections_csv, "name", None)
        if not csv_path or _as_upload(str(csv_path)) is None:
            raise InputError("Upload the edited detections.csv (the one in a run's ZIP) as detections_csv.")
        settings = settings.replace(detections_csv=Path(csv_path), unmask_tracks=parse_track_ids(unmask_tracks or ""),
                                    unmask_reason=str(unmask_reason or ""))
        settings = with_faces(settings, keep_faces, only_faces)
        source = pick_source(video_file, "")
        if _as_upload(source) is None and not _is_sample(source):
            raise InputError("Upload the video as video_file.")
        with _using_upload(str(csv_path)):
            yield from _api_job(source, settings, bool(make_video))
    except MosaicError as err:
        raise gr.Error(public_message(err), print_exception=False) from None


def _api_job(source: str, settings: Settings, make_video: bool = False):
    """Run one API job: (None, a progress line) while it runs, then (ZIP, summary). The
    video, when asked for, goes into the ZIP: the API's two outputs stay as they were."""
    result = None
    last_update = 0.0
    with _using_upload(source):
        for event in _job_events(source, settings, make_video=make_video):
            if isinstance(event, Result):
                result = event
                break
            now = time.monotonic()
            if now - last_update >= 1.0:
                last_update = now
                line = event.stage if event.stage != "processing" else (
                    f"processing: {event.frames_read} / {event.frames_total or '?'} frames, "
                    f"{event.images_written} images")
                yield None, line
    told = outcome(result, settings)
    if not told.offer_zip:
        shutil.rmtree(result.zip_path.parent, ignore_errors=True)
        raise gr.Error(told.text, print_exception=False)
    if result.video_path is not None:
        try:
            with zipfile.ZipFile(result.zip_path, "a") as archive:  # H.264/AAC: stored, not deflated again
                archive.write(result.video_path, result.video_path.name, compress_type=zipfile.ZIP_STORED)
        except OSError:
            shutil.rmtree(result.zip_path.parent, ignore_errors=True)
            raise gr.Error(WRITE_FAILED, print_exception=False) from None
        result.video_path.unlink(missing_ok=True)
    yield str(result.zip_path), told.text

