"""Video person anonymizer: a video in, people found, tracked and covered, frames and video out.

    from pipeline import Settings, run
    for event in run("clip.mp4", Settings(interval=5)):
        ...  # Progress events, then one Result

Pass `cancel` (remove everything) or `finish` (stop and keep what is done, under
`kept_path()` names; Result.stop_reason == USER_STOP) to stop a run from another thread.

The data path, one sub-package per stage, in the order a frame travels:

    io/      sources in (file, Drive link, camera/stream) -> video.py decodes frames
    detect/  the detector interface, the CSV replay, the detect stage (frames -> boxes)
    models/  the networks detect/ runs: YOLO11 (person, silhouette, head), CenterFace
             (face), the bundled SSDLite (persons offline), their engines (OpenVINO, torch,
             onnxruntime) and INT8
    track/   ByteTrack ids, the hold and look-ahead across misses, motion forecasts, scene
             cuts (which end every track and held box)
    identity/ faces described (dlib) and tracks grouped into people; reference photos for
             --keep-face / --only-face; the opt-in per-person record
    mask/    maskers (mosaic, blur, fill), the render stage, people left unmasked, the
             follow-cam crop (made after masking)
    io/      sinks out: the streaming ZIP, the H.264 video (with its audio), live streams;
             output planning and disk checks; detections.csv
    audio/   the video's sound when asked to change it: voices disguised or muted, spans
             silenced or bleeped, between demux and mux (used by io/video_sink)
    audit/   after every render: the outputs decoded as written and looked at again
             (CenterFace at full resolution, an independent person model); the report
             (JSON + HTML: hashes, models, settings, tracks, findings) beside the ZIP and in it
    jobs/    what drives the stages: the engine (threads, queues, one stop event), the
             memory budget, a file job, `run()` (which ends with the audit), the live masker,
             a live job, the WebRTC track
    batch/   many videos: inputs, output planning and resume, local workers, Ray; one long
             video split into segments across them and joined (segments, join, long_run)
    cli/     `python -m pipeline` (main, batch, live) and their shared flags (args)

At the top: settings.py (one validated Settings), errors.py (our error types), events.py
(Progress, Result), detections.py (what one frame holds), review.py (a run's people and
frames for review before export). Layers, no cycles: audio/ imports only errors.py (settings.py
reads its span parser and voice names); io/ and track/ import only the top modules (io/ adds
audio/); models/ and mask/ add io/; identity/ adds models/; detect/ adds mask/, track/ and
identity/; audit/ adds models/ and mask/ (never detect/ or jobs/); jobs/ drives them all;
batch/ and cli/ sit on jobs/.
"""
from .errors import Cancelled, DownloadError, InputError, ModelError, MosaicError, OutputError, SettingsError
from .events import COMPLETED, IMAGE_CAP, NO_PERSON_WARNING, SIZE_CAP, USER_STOP, Progress, Result
from .io.outputs import kept_path
from .jobs.runner import default_output, run, run_to_result
from .settings import Settings

__all__ = [
    "Cancelled", "DownloadError", "InputError", "ModelError", "MosaicError", "OutputError",
    "SettingsError", "Progress", "Result", "Settings", "default_output", "run", "run_to_result",
    "COMPLETED", "SIZE_CAP", "IMAGE_CAP", "USER_STOP", "NO_PERSON_WARNING", "kept_path",
]
