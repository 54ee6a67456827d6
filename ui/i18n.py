"""Every word the page shows, in English and Korean: one table, looked up two ways.

- What the page is built with (labels, buttons, radio choices, placeholders, help text,
  Markdown) goes to Gradio's own translation: the layout writes `i18n("page.start")`, and
  app.py passes `page_i18n(...)` to `launch(i18n=...)`. The browser then shows the language
  of `navigator.language` (English for any language the table lacks).
- What the server writes while a job runs (progress, the outcome, errors, the status panel,
  the review's notes) is made in the request's language: `language(request)` reads the
  Accept-Language header the same browser sends, and `tr(key, lang, **values)` fills the
  text in. The pipeline's errors, warnings and progress notes carry a key and values
  (pipeline.errors.Message, MosaicError.key); `say()` translates them.

The CLI and the API stay English: they never pass a language.

To add a language: add its dict (the same keys as EN) to TEXTS below; nothing else changes.
tests/test_i18n.py fails when a key the code uses is missing from a language, or when a
translation's {placeholders} differ from the English ones.

Texts are str.format templates (format specs allowed: {fps:.1f}). Page texts may use only
the values page_i18n() is given (the upload limit, the default model); Gradio's front end
formats nothing itself.
"""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from pipeline.errors import Message

log = logging.getLogger("ui")

DEFAULT_LANGUAGE = "en"

EN: dict[str, str] = {
    # -- the page (Gradio translates these in the browser) --------------------------------
    "page.title": "Video person anonymizer",
    "page.intro": "# Video person anonymizer\nEvery person YOLO11 finds is covered with a mosaic; every N-th frame "
                  "goes into a ZIP with\n`detections.csv` listing what was masked.",
    "page.video": "Video",
    "page.input_help": "mp4, mov, avi, mkv, webm and other common video formats, up to {max_input_mb:g} MB. Your "
                       "upload is deleted from the server as soon as its job ends.",
    "page.drive_link": "…or a Google Drive link",
    "page.drive_placeholder": "https://drive.google.com/file/d/FILE_ID/view",
    "page.drive_info": "A Google Drive share link ('Anyone with the link'); no other sites.",
    "page.start": "Start",
    "page.stop": "Stop",
    "page.keep": "Stop and keep what is done",
    "page.sample": "Try the sample",
    "page.detect": "Detect only, then review",
    "page.target": "What to hide",
    "page.target.person": "Whole people (padded box)",
    "page.target.silhouette": "Silhouettes (the body's outline)",
    "page.target.head": "Heads",
    "page.target.face": "Faces",
    "page.target_help": "**Whole people**: each person's box; hides the most. **Silhouettes**: the body's own\n"
                        "outline, grown by the padding; keeps the scene. **Heads**: who someone is, not what they "
                        "do.\n**Faces**: faces only, from a face detector (CenterFace).",
    "page.interval": "Capture every N frames",
    "page.interval_info": "1 = every frame; 10 = frames 0, 10, 20… go into the ZIP.",
    "page.scale": "Output resolution (%)",
    "page.scale_info": "50-100 % of the source size; people are found on the full-size frame.",
    "page.limit_size": "Cap the ZIP size",
    "page.max_mb": "Size cap (MB)",
    "page.max_mb_info": "1 MB = 1,000,000 bytes",
    "page.limit_images": "Cap the image count",
    "page.max_images": "Maximum images",
    "page.make_video": "Also make the mosaicked video (every frame, with audio)",
    "page.encode": "Video file",
    "page.encode_info": "Fast takes about two thirds of the encoding time and gives a file about twice as large; the picture is the same.",
    "page.encode.fast": "Fast to write",
    "page.encode.small": "Small file",
    "page.advanced": "Advanced",
    "page.format": "Format",
    "page.quality": "JPEG quality",
    "page.style": "Mask style",
    "page.style.mosaic": "mosaic",
    "page.style.blur": "blur",
    "page.style.fill": "fill",
    "page.face_shape": "Face shape (faces target)",
    "page.keep_faces": "Keep visible: photos of faces",
    "page.keep_faces_info": "One face per photo. That person stays unmasked everywhere in the video. A false match "
    "leaves a bystander visible: check the review before you publish.",
    "page.only_faces": "Hide only: photos of faces",
    "page.only_faces_info": "One face per photo. Only that person is masked; everyone else stays visible.",
    "page.face_shape.ellipse": "ellipse",
    "page.face_shape.box": "box",
    "page.cells": "Mosaic cells across a person (at most 8 across a face): fewer = coarser, hides more "
                  "(blur: fewer = stronger)",
    "page.pad": "Padding around each box (%)",
    "page.hold": "Keep people masked across detector misses (seconds)",
    "page.conf": "Detection confidence (lower masks more)",
    "page.model": "Model",
    "page.model_info": "Larger models find more people but run slower; -seg and -pose are for the silhouette "
                       "and head targets.",
    "page.model.default": "default ({default_model})",
    "page.precision": "CPU precision",
    "page.precision.fp32": "FP32 (default)",
    "page.precision.int8": "INT8 (faster on the CPU)",
    "page.precision_info": "INT8 runs a model quantized to 8 bits: faster on the CPU. It is made once per model and "
                           "cached, so the first INT8 run takes longer; its boxes can differ slightly from FP32's "
                           "(check the result). INT8 always detects on the CPU, even on a server with a GPU, where "
                           "FP32 on the GPU is faster.",
    "page.detail": "Detail",
    "page.detail.fast": "Fast (the whole frame only)",
    "page.detail.full": "Full (default)",
    "page.detail.max": "Max (slowest)",
    "page.detail_info": "Fast shows the model the whole frame at its own size: in HD and 4K video, small faces and "
                        "people far away can be missed. Full adds full-resolution tiles, each part of the frame "
                        "several times a second, so what the model finds at full size is found. Max looks at every "
                        "tile on every frame. The live webcam always uses Fast.",
    "page.voice": "Voices in the video",
    "page.voice.keep": "keep",
    "page.voice.disguise": "disguise",
    "page.voice.mute": "mute (the safe choice)",
    "page.voice_info": "For the mosaicked video's sound (tick 'Also make the mosaicked video'). Disguise moves the "
                       "pitch by an amount drawn per run: the voice is hard to recognise by ear, but the words are "
                       "still heard and an analyst may still identify the speaker. Mute removes every voice.",
    "page.mute_spans": "Silence these moments (seconds)",
    "page.mute_spans_placeholder": "e.g. 12.5-14, 61-63.2",
    "page.mute_spans_info": "For names said aloud: START-END in seconds, comma-separated, in the mosaicked video's "
                            "sound.",
    "page.bleep": "Bleep the silenced moments (a tone instead of silence)",
    "page.follow": "Follow cam (the video)",
    "page.follow.off": "off (whole frame)",
    "page.follow_info": "The video becomes a crop of this shape that follows the largest person or face, after "
                        "masking; the whole frame (letterboxed) when nobody is there. ZIP images stay whole frames.",
    "page.download_zip": "Download the ZIP",
    "page.audit": "Check the outputs",
    "page.audit_info": "After writing, look at the outputs again for faces (and people) the masks missed: sample checks frames spread over the video within a quarter of the run's time, all checks every frame. The report lists what was checked and found.",
    "page.audit.off": "Off",
    "page.audit.sample": "Sample",
    "page.audit.all": "Every frame",
    "page.report_files": "Report (JSON and HTML: hashes, models, settings, audit)",
    "page.gallery": "Latest mosaicked frames",
    "page.result_video": "Mosaicked video",
    "page.video_tab": "Video file",
    "page.live_tab": "Live",
    # -- the Review panel -------------------------------------------------------------------
    "review.title": "### Review before export",
    "review.cards": "People found (largest view of each)",
    "review.unmask": "Leave unmasked (people who must stay visible)",
    "review.frame": "Frame",
    "review.image": "As it will be rendered: click two corners to cover someone missed",
    "review.track": "A drawn box belongs to",
    "review.new_person": "new person",
    "review.person": "Person {person} · seen {count}× · {spans}",
    "review.drawn": "Drawn boxes",
    "review.delete": "Delete drawn box",
    "review.render": "Render with these corrections",
    "review.csv": "Edited detections.csv",
    "review.frame_label": "Frame {frame} (t={time_s:.2f} s) of {last}",
    "review.drawn_choice": "#{track} on frame {frame}: {box}",
    "review.note": "{tracks} people tracked over {frames} reviewed frames. Tick anyone who must stay visible; "
                   "click two corners on the frame to cover someone the detector missed.",
    "review.note_nobody": "Nobody was detected. Check the frames below and draw a box over anyone who must be "
                          "hidden.",
    "review.first_corner": "First corner at ({x:.0f}, {y:.0f}) on frame {frame}: click the opposite corner.",
    "review.too_small": "That box is too small; click two corners further apart.",
    "review.drew": "Drew a box for #{track} on frame {frame}.",
    "review.interpolated": "It is interpolated from frame {first} to {last}.",
    "review.choose_to_delete": "Choose a drawn box to delete.",
    "review.deleted": "Deleted the drawn box.",
    "review.findings": "The audit found {count} possible faces or people left visible, on frames {frames}: the first is shown. Cover them all with one click, then Render.",
    "review.cover_findings": "Cover the audit's findings",
    "review.reason": "Why the people ticked above stay visible (optional, kept in the report)",
    "review.covered_findings": "{count} drawn boxes now; Render to apply them.",
    # -- the Live tab -------------------------------------------------------------------------
    "live.intro": "Mask your webcam live: press the camera's record button and every frame comes back\nwith each "
                  "person covered, before it is shown. The browser sends one frame at a time, so this\nreaches a "
                  "few frames a second; for a 30 fps camera or network stream use\n`python -m pipeline live "
                  "SOURCE -o OUT` (see the README).",
    "live.webcam": "Webcam",
    "live.masked": "Masked",
    "live.stats": "**{fps:.1f} fps** shown · detection **{detect_hz:.1f} Hz** · {frames} frames",
    "live.test_mode": "**test mode: boxes replayed from a CSV**",
    "live.webrtc.heading": "### WebRTC: camera speed\nYour webcam goes to the server and comes back masked as a "
                           "video stream (every frame covered before it is sent back).",
    "live.jpeg_heading": "### JPEG stream (fallback)\nOne picture at a time: slower, but works where WebRTC cannot "
                         "connect.",
    "live.follow": "Follow cam",
    "live.webrtc.start": "Start WebRTC",
    "live.webrtc.stop": "Stop",
    "live.webrtc.camera": "Asking for the camera…",
    "live.webrtc.no_camera": "No camera: {reason}. Allow the camera for this page and try again.",
    "live.webrtc.connecting": "Connecting…",
    "live.webrtc.waiting": "Connected; waiting for the first masked frame…",
    "live.webrtc.ice_failed": "Could not connect (ICE failed): this browser cannot reach the server over UDP. A hosted "
                              "server needs a TURN server (MOSAIC_TURN_URL); meanwhile use the JPEG stream below.",
    "live.webrtc.timeout": "No connection after {seconds} s (ICE timed out): the network blocks the stream. A hosted "
                           "server needs a TURN server (MOSAIC_TURN_URL); meanwhile use the JPEG stream below.",
    "live.webrtc.lost": "Connection lost; waiting for it to come back…",
    "live.webrtc.busy": "The server is busy: {sessions} WebRTC streams are running, the most it takes. Try again in a "
                        "minute, or use the JPEG stream below.",
    "live.webrtc.refused": "Not started: {message}",
    "live.webrtc.no_server": "The server did not answer the connection request.",
    "live.webrtc.stats": "{fps} fps shown · detection {detect_hz} Hz · latency {latency} ms · {dropped} dropped",
    "live.webrtc.error": "Stopped: {message}",
    "live.webrtc.ended": "The stream ended.",
    "live.webrtc.stopped": "Stopped.",
    "live.gradio.access": "Click to Access Webcam",
    "live.gradio.stop": "Stop Recording",
    # -- a job while it runs ----------------------------------------------------------------
    "run.stage.downloading": "downloading",
    "run.stage.probing": "probing",
    "run.stage.loading_model": "loading model",
    "run.stage.processing": "processing",
    "run.stage.finishing": "finishing",
    "run.stage.auditing": "checking the outputs",
    "run.starting": "starting",
    "run.frames": "{read} / {total} frames",
    "run.fps": "{fps:.1f} frames/s",
    "run.eta": "ETA {eta_s:.0f} s",
    "run.counts": "{images} images, {people} people masked",
    "run.frame_caption": "frame {frame}",
    "run.waiting_one": "Waiting: another job is running on this server. Yours starts as soon as one ends.",
    "run.waiting_many": "Waiting: {jobs} jobs are running on this server. Yours starts as soon as one ends.",
    "run.size_line": "ZIP size: **{size}** ({cap})",
    "run.size_cap": "cap {size}",
    "run.no_cap": "no cap",
    "run.keeping": "stopping: writing what is done",
    "run.stopping": "stopping",
    "run.stopped_message": "Stopped. Nothing was kept: the partial output was removed.",
    "run.stopped_waiting": "Stopped before it started.",
    "run.stopping_message": "Stopping: removing the partial output.",
    "run.nothing_running": "Nothing is running.",
    "progress.download": "Downloading from Google Drive: {done_mb:.1f} MB",
    "progress.download_of": "Downloading from Google Drive: {done_mb:.1f} MB of {total_mb:.1f} MB",
    "progress.probing": "Reading video",
    "progress.loading": "Loading {model}",
    "progress.keeping": "Stopping: writing what is done",
    "progress.audio": "Adding the audio to the video",
    "progress.csv": "Writing detections.csv",
    "progress.audit": "Checking the outputs again ({pct}%)",
    # -- the bar's label when a job ends --------------------------------------------------------
    "end.done": "done",
    "end.warning": "done, with a warning",
    "end.size_cap": "stopped early by the size cap",
    "end.image_cap": "stopped early by the image count cap",
    "end.user_stop": "stopped, what was done is kept",
    "end.stopped": "stopped",
    "end.failed": "failed",
    # -- the outcome under the bar ------------------------------------------------------------
    "out.got": "{images} images, {people} people masked, {size}, in {elapsed_s:.1f} s.",
    "out.source": "Source: {width}x{height}, {fps:.3f} fps, {frames} frames read.",
    "out.done": "Done: {got}",
    "out.nothing_written": "Nothing was written: the size cap ({cap}) is smaller than one image.",
    "out.the_cap": "the cap",
    "out.raise_cap": "Raise the cap, or lower the resolution or the JPEG quality.",
    "out.truncated": "The video ended after {read} frames although its header says {promised}: the file may be "
                     "truncated.",
    "out.at": "frame {frame} (t={time_s:.1f} s)",
    "out.user_stop": "Stopped by you at {at}; kept what was done: {got}",
    "out.partial_zip": "The ZIP is marked partial in its name ({name}); the rest of the video was not processed.",
    "out.size_cap_stop": "Stopped early by the size cap at {at}: {got}",
    "out.image_cap_stop": "Stopped early by the image count cap at {at}: {got}",
    "out.not_written": "{missing} of {planned} planned images were not written.",
    "out.warning": "Warning: {warnings}",
    "out.csv_note": "The ZIP holds detections.csv listing every masked box.",
    "out.audit": "Audit: {checked} frames checked, {findings} possible faces or people left visible.",
    "out.audit_off": "Audit: off (nobody looked at the outputs again).",
    "out.report": "The report ({name}) lists the input, outputs and models with their SHA-256, every setting and the audit.",
    "out.video_audio": "Video: {frames} frames, masked like the images; with the source audio.",
    "out.video_no_audio": "Video: {frames} frames, masked like the images; the source has no audio.",
    "out.download": "Download {name} ({size})",
    "out.error": "Error: {message}",
    "out.detect_nobody": "Detection done: nobody was found.",
    "out.detect_nobody_detail": "{frames} frames read. Check the frames in the review below and draw a box over "
                                "anyone the detector missed before rendering.",
    "out.detect_found": "Detection done: {boxes} boxes found, no images written yet.",
    "out.detect_found_detail": "{frames} frames read. Review the people below, then press Render.",
    # -- warnings the pipeline gives with a result ------------------------------------------
    "warn.nobody": "No person was detected: check the output before sharing.",
    "warn.audit": "The audit found {findings} possible face(s) or person(s) left visible in {frames} of {checked} checked frames (first at frame {first}): check them before sharing; the report lists each one.",
    "warn.audit_failed": "The audit could not run ({error}): check the output yourself before sharing.",
    "warn.hdr": "The source is HDR ({transfer}); the output is SDR without tone mapping, so its colours look "
                "flat and pale.",
    "warn.no_audio": "The source has no audio, so the video has none: the voice and mute-span settings had "
                     "nothing to change.",
    "warn.fallback_model": "People were found by the bundled model {model} (SSDLite), because {wanted} could not "
                           "be loaded ({reason}). Compared with YOLO11, it misses more small, far and partly "
                           "hidden people, and its boxes flicker more (docs/persons.md); check the output before "
                           "sharing.",
    "warn.fallback_silhouette": "It covers whole-person boxes, not silhouettes.",
    "warn.fallback_head": "It covers whole-person boxes, not heads.",
    "warn.fallback_fp32": "It ran in FP32: its INT8 form misses too many people.",
    # -- errors -----------------------------------------------------------------------------
    "err.no_input": "Upload a video or paste a Google Drive link first.",
    "err.both_inputs": "Give either a video file or a Google Drive link, not both.",
    "err.link_only": "The link box takes only a Google Drive share link "
                     "(https://drive.google.com/file/d/FILE_ID/view). For any other video, upload the file.",
    "err.not_found": "Input file not found.",
    "err.upload_gone": "The uploaded video is no longer on the server: upload it again.",
    "err.empty_file": "Input file is empty: {name}",
    "err.not_video": "Not a readable video: {name} ({detail})",
    "err.no_video_stream": "No video stream in {name}",
    "err.cannot_decode": "Cannot decode {name}: {detail}",
    "err.no_frames": "{name} has no readable frames",
    "err.download_empty": "The downloaded file is empty",
    "err.drive.link_help": "Use a Google Drive share link such as https://drive.google.com/file/d/FILE_ID/view",
    "err.drive.not_drive": "Only Google Drive links are accepted, not '{link}'. {help}",
    "err.drive.unexpected": "Unexpected Google Drive link '{link}'. {help}",
    "err.drive.no_id": "No file id in '{link}'. {help}",
    "err.drive.nothing": "Google Drive returned nothing for this link",
    "err.drive.too_large": "The Drive file is larger than the {limit_mb:.0f} MB download limit",
    "err.drive.refused": "Google Drive would not give this file: it is private, deleted, or over its download "
                         "quota. Share it as 'Anyone with the link' and try again.",
    "err.drive.web_page": "Google Drive returned a web page instead of the video (sign-in, quota or a private "
                          "file). Share it as 'Anyone with the link' and try again.",
    "err.drive.raw": "Download from Google Drive failed ({name}: {text})",
    "err.drive.unreachable": "Cannot reach Google Drive: check the connection or upload the file.",
    "err.drive.failed": "Google Drive did not send the file: try again later, or upload the file.",
    "err.settings": "Invalid settings: {problems}.",
    "err.settings.numbers": "Invalid settings: every number field needs a number.",
    "err.settings.model": "Invalid settings: model must be one of the offered names ({names}); files on the "
                          "server cannot be named here.",
    "err.memory_budget": "Invalid settings: a memory budget of {budget_mb:g} MB cannot hold this "
                         "{width}x{height} video's frames: it needs at least {need_mb} MB ({lookahead} frames of "
                         "look-ahead for {hold_s:g} s: the hold, or one full-resolution scan; plus one per stage). "
                         "Raise the memory budget, or lower the hold or the output resolution.",
    "err.int8_unavailable": "INT8 is not available on this server: choose FP32 under Advanced. If you run this app, "
                            "install NNCF (pip install -r requirements-int8.txt) to make INT8 models.",
    "err.model_failed": "The detection model could not be loaded or run on this server. If you run this app, "
                        "check MOSAIC_MODEL / MOSAIC_EXTRA_MODELS and that their weights are present; the server "
                        "log has the details.",
    "err.disk.not_enough": "Not enough disk space: this job may need about {need_mb:.0f} MB and {free_mb:.0f} MB "
                           "are free. Set a size cap, a larger interval or a smaller resolution, or free some "
                           "space.",
    "err.no_disk_space": "The server does not have enough free disk space for this job: set a size cap, a larger "
                         "interval or a smaller resolution, or try again later.",
    "err.write_failed": "Writing the result failed on the server: try again later.",
    "err.processing_failed": "Processing failed on the server: try again, or try another video.",
    "err.stopped": "Stopped.",
    "err.render_first": "Run a job (or Detect only) first; Render re-renders its reviewed detections.",
    "err.face_photo_upload": "Upload the face photos; only uploaded pictures are used.",
    "err.face_photo_missing": "Face photo {name} does not exist",
    "err.face_photo_unreadable": "Face photo {name} is not a picture that can be read (JPEG, PNG, ...)",
    "err.face_photo_none": "Face photo {name} shows no face large enough to recognise: use a clear photo of one face",
    "err.face_photo_several": "Face photo {name} shows {count} faces: crop it to the one person it is for",
    "err.mute_spans_end": "Invalid settings: mute span {span} ends past the end of the video ({duration} s).",
    "err.voice_needs_video": "Invalid settings: the voice and mute-span settings change the sound of the video "
                             "output, and this run makes no video, only a ZIP of images (which have no sound): ask "
                             "for the video too (--video; make_video in the API; 'Also make the mosaicked video' "
                             "on the page), or leave them out.",
    # -- the parts of "Invalid settings: ..." (pipeline/settings.py) ----------------------------
    "set.interval": "capture interval must be a whole number >= 1 (got {got})",
    "set.scale": "output resolution must be 50-100 % (got {got})",
    "set.max_mb": "size cap must be more than 0 MB (got {got})",
    "set.max_images": "maximum image count must be at least 1 (got {got})",
    "set.format": "format must be one of {allowed} (got {got})",
    "set.quality": "JPEG quality must be 1-100 (got {got})",
    "set.target": "target must be one of {allowed} (got {got})",
    "set.face_shape": "face shape must be one of {allowed} (got {got})",
    "set.face_photos": "face photos must be file paths",
    "set.face_both": "give photos to keep visible or photos to hide only, not both",
    "set.people_record": "a per-person record needs people grouped by face (not --no-people)",
    "set.face_match": "face match distance must be 0.2-0.8 (got {got})",
    "set.model": "model must be a model name or path",
    "set.device": "device must be one of {allowed} (got {got})",
    "set.backend": "backend must be one of {allowed} (got {got})",
    "set.precision": "precision must be one of {allowed} (got {got})",
    "set.detail": "detail must be one of {allowed} (got {got})",
    "set.int8_cpu": "precision int8 runs on OpenVINO on the CPU: use device auto or cpu and backend auto or openvino",
    "set.calibration": "a calibration video is only used with precision int8",
    "set.voice": "voice must be one of {allowed} (got {got})",
    "set.spans_format": "mute span '{span}' is not START-END; write spans as START-END in seconds, comma-separated (e.g. 12.5-14,61-63.2)",
    "set.spans_order": "mute span '{span}' ends before it starts; write spans as START-END in seconds, comma-separated (e.g. 12.5-14,61-63.2)",
    "set.spans": "mute spans must be (start, end) seconds with 0 <= start < end (got {got})",
    "set.bleep": "bleep must be true or false (got {got})",
    "set.bleep_spans": "bleep covers the mute spans with a tone: give the spans too",
    "set.batch": "batch must be 1-256 (got {got})",
    "set.imgsz": "detection size must be a multiple of 32 in 32-4096 (got {got})",
    "set.conf": "confidence must be between 0 and 1 (got {got})",
    "set.classes": "classes must be the model's class ids, 0-999 (got {got})",
    "set.pad": "padding must be 0-100 % (got {got})",
    "set.style": "style must be one of {allowed} (got {got})",
    "set.cells": "mosaic cells must be 2-200 (got {got})",
    "set.hold": "hold must be 0-10 seconds (got {got})",
    "set.stride": "stride must be auto or 1-30 frames (got {got})",
    "set.memory": "memory budget must be more than 0 MB (got {got})",
    "set.segment": "segment length must be 0 (never split) or 5-86400 seconds (got {got})",
    "set.min_cell": "minimum cell size must be 1-256 px (got {got})",
    "set.unmask": "tracks to leave unmasked must be track ids >= 1 (got {got})",
    "set.follow": "follow cam aspect must be one of {allowed} (got {got})",
    "set.audit": "audit must be one of {allowed} (got {got})",
    "set.encode": "video encoding must be one of {allowed} (got {got})",
    "set.unmask_reason": "the reason for leaving people visible must be text of at most 500 characters",
    "set.unmask_csv": "tracks to leave unmasked need a detections CSV: their ids are the ones in that file (a "
                      "run's detections.csv)",
    # -- the status panel -------------------------------------------------------------------
    "status.gpu_busy": ", {pct:.0f} % busy",
    "status.cpu_only": "CPU only ({cores} cores), no GPU",
    "status.app": "this app: CPU {cpu:.0f} %, RAM {ram_gb:.1f} GB",
    "status.machine": "whole machine: CPU {cpu:.0f} %, RAM {used_gb:.1f}/{total_gb:.1f} GB",
    "status.rate": "{fps:.0f} frames/s ({read}/{total})",
    "status.job_one": "1 job running: {rates}",
    "status.jobs": "{jobs} jobs running: {rates}",
    "status.idle": "idle",
}

KO: dict[str, str] = {
    # -- 화면 ---------------------------------------------------------------------------------
    "page.title": "영상 속 인물 모자이크",
    "page.intro": "# 영상 속 인물 모자이크\nYOLO11이 찾아낸 사람을 모두 모자이크로 가립니다. N 프레임마다 한 장씩 "
                  "이미지로 뽑아,\n무엇을 가렸는지 기록한 `detections.csv`와 함께 ZIP 파일로 드립니다.",
    "page.video": "영상",
    "page.input_help": "mp4, mov, avi, mkv, webm 등 흔히 쓰는 영상 형식을 {max_input_mb:g} MB까지 올릴 수 "
                       "있습니다. 올린 영상은 작업이 끝나는 즉시 서버에서 지웁니다.",
    "page.drive_link": "…또는 구글 드라이브 링크",
    "page.drive_placeholder": "https://drive.google.com/file/d/파일_ID/view",
    "page.drive_info": "'링크가 있는 모든 사용자'로 공유한 구글 드라이브 링크만 됩니다. 다른 사이트는 받지 않습니다.",
    "page.start": "시작",
    "page.stop": "중지",
    "page.keep": "중지하고 여기까지 저장",
    "page.sample": "예제 영상으로 해 보기",
    "page.detect": "검출만 하고 검토하기",
    "page.target": "가릴 대상",
    "page.target.person": "사람 전체 (여백을 둔 사각형)",
    "page.target.silhouette": "실루엣 (몸의 윤곽)",
    "page.target.head": "머리",
    "page.target.face": "얼굴",
    "page.target_help": "**사람 전체**: 사람마다 사각형으로 덮어 가장 확실하게 숨깁니다. **실루엣**: 몸의 윤곽을\n"
                        "여백만큼 넓혀 덮으므로 주변 장면이 살아 있습니다. **머리**: 누구인지는 숨기고 무엇을 "
                        "하는지는 보여 줍니다.\n**얼굴**: 얼굴 검출기(CenterFace)로 얼굴만 가립니다.",
    "page.interval": "N 프레임마다 한 장 저장",
    "page.interval_info": "1이면 모든 프레임, 10이면 0, 10, 20… 번째 프레임이 ZIP에 들어갑니다.",
    "page.scale": "출력 해상도 (%)",
    "page.scale_info": "원본 크기의 50-100 %. 사람 검출은 원본 크기 프레임에서 합니다.",
    "page.limit_size": "ZIP 용량 제한",
    "page.max_mb": "최대 용량 (MB)",
    "page.max_mb_info": "1 MB = 1,000,000바이트",
    "page.limit_images": "이미지 수 제한",
    "page.max_images": "최대 이미지 수",
    "page.make_video": "모자이크한 영상도 만들기 (모든 프레임, 소리 포함)",
    "page.encode": "영상 파일",
    "page.encode_info": "빠르게는 인코딩 시간이 약 3분의 2로 줄고 파일 크기는 약 두 배가 됩니다. 화질은 같습니다.",
    "page.encode.fast": "빠르게 저장",
    "page.encode.small": "작은 파일",
    "page.advanced": "고급 설정",
    "page.format": "이미지 형식",
    "page.quality": "JPEG 품질",
    "page.style": "가리는 방식",
    "page.style.mosaic": "모자이크",
    "page.style.blur": "흐리게 (블러)",
    "page.style.fill": "단색으로 덮기",
    "page.face_shape": "얼굴 가림 모양 (얼굴 대상)",
    "page.keep_faces": "계속 보이게 할 사람: 얼굴 사진",
    "page.keep_faces_info": "사진 한 장에 얼굴 하나. 그 사람은 영상 어디에서나 가리지 않습니다. "
    "잘못 일치하면 다른 사람이 드러날 수 있으니 공개 전에 검토 화면을 확인하세요.",
    "page.only_faces": "이 사람만 가리기: 얼굴 사진",
    "page.only_faces_info": "사진 한 장에 얼굴 하나. 그 사람만 가리고 나머지 사람은 그대로 보입니다.",
    "page.face_shape.ellipse": "타원",
    "page.face_shape.box": "사각형",
    "page.cells": "한 사람을 가로지르는 모자이크 칸 수 (얼굴은 최대 8칸): 적을수록 칸이 굵어 더 많이 가립니다 "
                  "(블러는 적을수록 강하게)",
    "page.pad": "상자 둘레 여백 (%)",
    "page.hold": "검출이 잠깐 끊겨도 계속 가리는 시간 (초)",
    "page.conf": "검출 기준 신뢰도 (낮을수록 더 많이 가림)",
    "page.model": "모델",
    "page.model_info": "큰 모델일수록 사람을 더 많이 찾지만 느립니다. -seg는 실루엣, -pose는 머리 대상에 씁니다.",
    "page.model.default": "기본값 ({default_model})",
    "page.precision": "CPU 연산 정밀도",
    "page.precision.fp32": "FP32 (기본값)",
    "page.precision.int8": "INT8 (CPU에서 더 빠름)",
    "page.precision_info": "INT8은 8비트로 양자화한 모델을 써서 CPU에서 더 빠릅니다. 모델마다 한 번 만들어 저장해 두므로 "
                           "처음 INT8로 돌릴 때는 더 오래 걸립니다. 찾는 상자가 FP32와 조금 다를 수 있으니 결과를 "
                           "확인하세요. INT8은 GPU가 있는 서버에서도 늘 CPU에서 검출하며, 그런 서버에서는 GPU의 FP32가 "
                           "더 빠릅니다.",
    "page.detail": "세밀도",
    "page.detail.fast": "빠르게 (화면 전체만)",
    "page.detail.full": "전체 해상도 (기본값)",
    "page.detail.max": "최대 (가장 느림)",
    "page.detail_info": "빠르게는 화면 전체를 모델의 입력 크기로 줄여서만 봅니다. HD나 4K 영상에서는 작은 얼굴이나 멀리 있는 "
                        "사람을 놓칠 수 있습니다. 전체 해상도는 원본 해상도의 타일을 더해 화면의 각 부분을 1초에 여러 번 "
                        "보므로, 모델이 원본 크기에서 찾는 것을 찾습니다. 최대는 모든 프레임에서 모든 타일을 봅니다. "
                        "실시간 웹캠은 늘 빠르게를 씁니다.",
    "page.voice": "영상 속 목소리",
    "page.voice.keep": "그대로",
    "page.voice.disguise": "변조",
    "page.voice.mute": "음소거 (안전한 선택)",
    "page.voice_info": "모자이크한 영상의 소리에 적용됩니다('모자이크한 영상도 만들기'를 켜세요). 변조는 작업마다 무작위로 "
                       "정한 만큼 음높이를 바꿔 귀로는 알아듣기 어렵게 하지만, 말한 내용은 그대로 들리고 분석하면 "
                       "화자를 알아낼 수도 있습니다. 음소거는 모든 목소리를 없앱니다.",
    "page.mute_spans": "소리를 지울 구간 (초)",
    "page.mute_spans_placeholder": "예: 12.5-14, 61-63.2",
    "page.mute_spans_info": "소리 내어 말한 이름 등: 시작-끝(초)을 쉼표로 구분해 적습니다. 모자이크한 영상의 소리에 "
                            "적용됩니다.",
    "page.bleep": "지운 구간을 삐 소리로 덮기 (무음 대신)",
    "page.follow": "따라가는 화면 (영상)",
    "page.follow.off": "끔 (전체 화면)",
    "page.follow_info": "영상을 가장 큰 사람이나 얼굴을 따라가는 이 비율의 화면으로 잘라 냅니다 (가린 다음에 자릅니다). "
                        "아무도 없으면 전체 화면을 여백과 함께 보여 줍니다. ZIP 이미지는 전체 화면 그대로입니다.",
    "page.download_zip": "ZIP 다운로드",
    "page.audit": "결과 다시 검사",
    "page.audit_info": "저장한 뒤 결과를 다시 보고 가려지지 않은 얼굴(과 사람)을 찾습니다. 표본은 처리 시간의 4분의 1 안에서 영상 전체에 고르게 퍼진 프레임을, 모든 프레임은 전부를 검사합니다. 보고서에 검사한 것과 찾은 것이 적힙니다.",
    "page.audit.off": "끄기",
    "page.audit.sample": "표본",
    "page.audit.all": "모든 프레임",
    "page.report_files": "보고서 (JSON과 HTML: 해시, 모델, 설정, 검사)",
    "page.gallery": "최근 모자이크한 프레임",
    "page.result_video": "모자이크한 영상",
    "page.video_tab": "동영상 파일",
    "page.live_tab": "실시간 (웹캠)",
    # -- 검토 패널 ------------------------------------------------------------------------------
    "review.title": "### 내보내기 전에 검토하기",
    "review.cards": "찾은 사람 (사람마다 가장 크게 잡힌 모습)",
    "review.unmask": "가리지 않을 사람 (화면에 보여야 하는 사람)",
    "review.frame": "프레임",
    "review.image": "렌더링될 모습: 놓친 사람은 두 모서리를 클릭해 가리세요",
    "review.track": "그린 상자의 주인",
    "review.new_person": "새 사람",
    "review.person": "사람 {person} · {count}번 등장 · {spans}",
    "review.drawn": "직접 그린 상자",
    "review.delete": "그린 상자 지우기",
    "review.render": "이대로 고쳐서 렌더링",
    "review.csv": "수정한 detections.csv",
    "review.frame_label": "프레임 {frame} / {last} (t={time_s:.2f}초)",
    "review.drawn_choice": "#{track}, 프레임 {frame}: {box}",
    "review.note": "검토할 프레임 {frames}개에서 {tracks}명을 추적했습니다. 화면에 보여야 하는 사람은 체크하고, "
                   "검출기가 놓친 사람은 프레임에서 두 모서리를 클릭해 가리세요.",
    "review.note_nobody": "아무도 검출되지 않았습니다. 아래 프레임을 살펴보고 가려야 할 사람이 있으면 상자를 그리세요.",
    "review.first_corner": "프레임 {frame}의 ({x:.0f}, {y:.0f})에 첫 모서리를 찍었습니다. 맞은편 모서리를 클릭하세요.",
    "review.too_small": "상자가 너무 작습니다. 두 모서리를 더 떨어뜨려 클릭하세요.",
    "review.drew": "프레임 {frame}에 #{track}의 상자를 그렸습니다.",
    "review.interpolated": "프레임 {first}부터 {last}까지는 사이를 채워 가립니다.",
    "review.choose_to_delete": "지울 상자를 고르세요.",
    "review.deleted": "그린 상자를 지웠습니다.",
    "review.findings": "검사에서 가려지지 않았을 수 있는 얼굴이나 사람 {count}건을 프레임 {frames}에서 찾았습니다: 첫 번째를 보여 줍니다. 한 번에 모두 가린 뒤 렌더하세요.",
    "review.cover_findings": "검사에서 찾은 것 가리기",
    "review.reason": "위에서 고른 사람을 가리지 않는 이유 (선택, 보고서에 남습니다)",
    "review.covered_findings": "그린 상자가 이제 {count}개입니다. 렌더해서 적용하세요.",
    # -- 실시간 탭 -------------------------------------------------------------------------------
    "live.intro": "웹캠 영상을 실시간으로 가립니다. 카메라의 녹화 버튼을 누르면 모든 프레임이 사람을 가린 다음에\n"
                  "화면에 나옵니다. 브라우저가 프레임을 한 장씩 보내기 때문에 초당 몇 프레임 정도만 나옵니다.\n"
                  "30 fps 카메라나 네트워크 스트림에는 `python -m pipeline live SOURCE -o OUT`을 쓰세요 "
                  "(README 참고).",
    "live.webcam": "웹캠",
    "live.masked": "가린 화면",
    "live.stats": "화면 **{fps:.1f} fps** · 검출 **{detect_hz:.1f} Hz** · {frames} 프레임",
    "live.test_mode": "**테스트 모드: CSV의 상자를 재생하는 중**",
    "live.webrtc.heading": "### WebRTC: 카메라 속도\n웹캠 영상이 서버로 갔다가 사람을 가린 영상 스트림으로 돌아옵니다 "
                           "(모든 프레임을 가린 다음에 돌려보냅니다).",
    "live.jpeg_heading": "### JPEG 스트림 (대체 방식)\n한 번에 사진 한 장씩 보냅니다. 느리지만 WebRTC가 연결되지 않는 "
                         "곳에서도 됩니다.",
    "live.follow": "따라가는 화면",
    "live.webrtc.start": "WebRTC 시작",
    "live.webrtc.stop": "중지",
    "live.webrtc.camera": "카메라 사용을 요청하는 중…",
    "live.webrtc.no_camera": "카메라를 쓸 수 없습니다: {reason}. 이 페이지에 카메라를 허용하고 다시 시도하세요.",
    "live.webrtc.connecting": "연결하는 중…",
    "live.webrtc.waiting": "연결되었습니다. 가린 첫 프레임을 기다리는 중…",
    "live.webrtc.ice_failed": "연결하지 못했습니다 (ICE 실패): 이 브라우저에서 서버로 UDP가 닿지 않습니다. 호스팅 서버에는 "
                              "TURN 서버(MOSAIC_TURN_URL)가 필요합니다. 그동안 아래 JPEG 스트림을 쓰세요.",
    "live.webrtc.timeout": "{seconds}초가 지나도 연결되지 않았습니다 (ICE 시간 초과): 네트워크가 스트림을 막고 있습니다. "
                           "호스팅 서버에는 TURN 서버(MOSAIC_TURN_URL)가 필요합니다. 그동안 아래 JPEG 스트림을 쓰세요.",
    "live.webrtc.lost": "연결이 끊겼습니다. 다시 연결되기를 기다리는 중…",
    "live.webrtc.busy": "서버가 바쁩니다: WebRTC 스트림이 최대치인 {sessions}개 돌고 있습니다. 잠시 뒤에 다시 시도하거나 "
                        "아래 JPEG 스트림을 쓰세요.",
    "live.webrtc.refused": "시작하지 못했습니다: {message}",
    "live.webrtc.no_server": "서버가 연결 요청에 답하지 않았습니다.",
    "live.webrtc.stats": "화면 {fps} fps · 검출 {detect_hz} Hz · 지연 {latency} ms · 버린 프레임 {dropped}",
    "live.webrtc.error": "멈췄습니다: {message}",
    "live.webrtc.ended": "스트림이 끝났습니다.",
    "live.webrtc.stopped": "멈췄습니다.",
    "live.gradio.access": "클릭해서 웹캠 켜기",
    "live.gradio.stop": "녹화 중지",
    # -- 작업 진행 -------------------------------------------------------------------------------
    "run.stage.downloading": "내려받는 중",
    "run.stage.probing": "영상 확인 중",
    "run.stage.loading_model": "모델 불러오는 중",
    "run.stage.processing": "처리 중",
    "run.stage.finishing": "마무리 중",
    "run.stage.auditing": "결과 검사 중",
    "run.starting": "시작하는 중",
    "run.frames": "{read} / {total} 프레임",
    "run.fps": "초당 {fps:.1f} 프레임",
    "run.eta": "약 {eta_s:.0f}초 남음",
    "run.counts": "이미지 {images}장, {people}명 가림",
    "run.frame_caption": "프레임 {frame}",
    "run.waiting_one": "대기 중: 이 서버에서 다른 작업이 돌고 있습니다. 그 작업이 끝나는 대로 시작합니다.",
    "run.waiting_many": "대기 중: 이 서버에서 작업 {jobs}개가 돌고 있습니다. 하나가 끝나는 대로 시작합니다.",
    "run.size_line": "ZIP 크기: **{size}** ({cap})",
    "run.size_cap": "제한 {size}",
    "run.no_cap": "제한 없음",
    "run.keeping": "중지하는 중: 지금까지 처리한 것을 저장하고 있습니다",
    "run.stopping": "중지하는 중",
    "run.stopped_message": "중지했습니다. 아무것도 남기지 않았습니다: 처리하던 결과는 지웠습니다.",
    "run.stopped_waiting": "시작하기 전에 중지했습니다.",
    "run.stopping_message": "중지하는 중: 처리하던 결과를 지우고 있습니다.",
    "run.nothing_running": "실행 중인 작업이 없습니다.",
    "progress.download": "구글 드라이브에서 내려받는 중: {done_mb:.1f} MB",
    "progress.download_of": "구글 드라이브에서 내려받는 중: {done_mb:.1f} MB / {total_mb:.1f} MB",
    "progress.probing": "영상 읽는 중",
    "progress.loading": "{model} 불러오는 중",
    "progress.keeping": "중지하는 중: 지금까지 처리한 것을 저장하고 있습니다",
    "progress.audio": "영상에 소리를 넣는 중",
    "progress.csv": "detections.csv 쓰는 중",
    "progress.audit": "결과를 다시 검사하는 중 ({pct}%)",
    # -- 작업이 끝났을 때 막대 아래 글 ---------------------------------------------------------------
    "end.done": "완료",
    "end.warning": "완료, 경고 있음",
    "end.size_cap": "용량 제한에 걸려 일찍 멈춤",
    "end.image_cap": "이미지 수 제한에 걸려 일찍 멈춤",
    "end.user_stop": "중지함, 처리한 부분은 저장됨",
    "end.stopped": "중지됨",
    "end.failed": "실패",
    # -- 결과 요약 -------------------------------------------------------------------------------
    "out.got": "이미지 {images}장, {people}명 가림, {size}, {elapsed_s:.1f}초 걸림.",
    "out.source": "원본: {width}x{height}, {fps:.3f} fps, {frames} 프레임 읽음.",
    "out.done": "완료: {got}",
    "out.nothing_written": "아무것도 저장하지 못했습니다: 용량 제한({cap})이 이미지 한 장보다 작습니다.",
    "out.the_cap": "설정한 값",
    "out.raise_cap": "용량 제한을 늘리거나, 해상도나 JPEG 품질을 낮추세요.",
    "out.truncated": "영상 정보에는 {promised} 프레임이라고 되어 있지만 {read} 프레임에서 끝났습니다: 파일이 잘렸을 수 "
                     "있습니다.",
    "out.at": "프레임 {frame} (t={time_s:.1f}초)",
    "out.user_stop": "{at}에서 직접 중지했고, 그때까지 처리한 것은 저장했습니다: {got}",
    "out.partial_zip": "ZIP 이름에 일부만 처리했다는 표시가 붙어 있습니다 ({name}). 영상의 나머지 부분은 처리하지 "
                       "않았습니다.",
    "out.size_cap_stop": "{at}에서 용량 제한에 걸려 일찍 멈췄습니다: {got}",
    "out.image_cap_stop": "{at}에서 이미지 수 제한에 걸려 일찍 멈췄습니다: {got}",
    "out.not_written": "계획한 이미지 {planned}장 가운데 {missing}장은 저장하지 못했습니다.",
    "out.warning": "경고: {warnings}",
    "out.csv_note": "ZIP에는 가린 상자를 모두 적은 detections.csv가 들어 있습니다.",
    "out.audit": "검사: 프레임 {checked}개 확인, 가려지지 않았을 수 있는 얼굴이나 사람 {findings}건.",
    "out.audit_off": "검사: 꺼짐 (결과를 다시 본 사람이 없습니다).",
    "out.report": "보고서({name})에는 입력, 결과, 모델의 SHA-256, 모든 설정, 검사 내용이 있습니다.",
    "out.video_audio": "영상: {frames} 프레임, 이미지와 똑같이 가렸고 원본 소리를 넣었습니다.",
    "out.video_no_audio": "영상: {frames} 프레임, 이미지와 똑같이 가렸습니다. 원본에는 소리가 없습니다.",
    "out.download": "{name} 다운로드 ({size})",
    "out.error": "오류: {message}",
    "out.detect_nobody": "검출 완료: 아무도 찾지 못했습니다.",
    "out.detect_nobody_detail": "{frames} 프레임을 읽었습니다. 렌더링하기 전에 아래 검토 화면에서 프레임을 살펴보고, "
                                "검출기가 놓친 사람이 있으면 상자를 그리세요.",
    "out.detect_found": "검출 완료: 상자 {boxes}개를 찾았습니다. 이미지는 아직 만들지 않았습니다.",
    "out.detect_found_detail": "{frames} 프레임을 읽었습니다. 아래에서 사람들을 검토한 다음 렌더링을 누르세요.",
    # -- 결과에 붙는 경고 ---------------------------------------------------------------------------
    "warn.nobody": "아무도 검출되지 않았습니다: 공유하기 전에 결과를 꼭 확인하세요.",
    "warn.audit": "검사에서 확인한 프레임 {checked}개 중 {frames}개에서 가려지지 않았을 수 있는 얼굴이나 사람 {findings}건을 찾았습니다 (처음은 프레임 {first}): 공유하기 전에 확인하세요. 보고서에 하나하나 적혀 있습니다.",
    "warn.audit_failed": "검사를 실행하지 못했습니다 ({error}): 공유하기 전에 결과를 직접 확인하세요.",
    "warn.hdr": "원본이 HDR({transfer})입니다. 결과는 톤 매핑 없이 SDR로 만들어 색이 밋밋하고 옅어 보입니다.",
    "warn.no_audio": "원본에 소리가 없어 영상에도 소리가 없습니다: 목소리와 소리 지울 구간 설정은 바꿀 것이 없었습니다.",
    "warn.fallback_model": "{wanted}을(를) 불러올 수 없어({reason}) 함께 들어 있는 모델 {model}(SSDLite)로 사람을 "
                           "찾았습니다. YOLO11보다 작거나 멀거나 일부가 가려진 사람을 더 많이 놓치고 상자가 더 자주 "
                           "흔들립니다(docs/persons.md): 공유하기 전에 결과를 꼭 확인하세요.",
    "warn.fallback_silhouette": "실루엣이 아니라 사람 전체 상자를 가립니다.",
    "warn.fallback_head": "머리가 아니라 사람 전체 상자를 가립니다.",
    "warn.fallback_fp32": "FP32로 실행했습니다: 이 모델의 INT8 형태는 사람을 너무 많이 놓칩니다.",
    # -- 오류 -----------------------------------------------------------------------------------
    "err.no_input": "먼저 영상을 올리거나 구글 드라이브 링크를 붙여 넣으세요.",
    "err.both_inputs": "영상 파일과 구글 드라이브 링크 중 하나만 주세요.",
    "err.link_only": "링크 칸에는 구글 드라이브 공유 링크(https://drive.google.com/file/d/FILE_ID/view)만 넣을 수 "
                     "있습니다. 다른 곳의 영상은 파일로 올려 주세요.",
    "err.not_found": "입력 파일이 없습니다.",
    "err.upload_gone": "올린 영상이 서버에 더 이상 없습니다: 다시 올려 주세요.",
    "err.empty_file": "빈 파일입니다: {name}",
    "err.not_video": "읽을 수 있는 영상이 아닙니다: {name} ({detail})",
    "err.no_video_stream": "{name}에 영상 트랙이 없습니다",
    "err.cannot_decode": "{name}을(를) 디코딩할 수 없습니다: {detail}",
    "err.no_frames": "{name}에는 읽을 수 있는 프레임이 없습니다",
    "err.download_empty": "내려받은 파일이 비어 있습니다",
    "err.drive.link_help": "https://drive.google.com/file/d/FILE_ID/view 같은 구글 드라이브 공유 링크를 쓰세요",
    "err.drive.not_drive": "구글 드라이브 링크만 받습니다. '{link}'은(는) 안 됩니다. {help}",
    "err.drive.unexpected": "알 수 없는 형태의 구글 드라이브 링크입니다: '{link}'. {help}",
    "err.drive.no_id": "링크에 파일 ID가 없습니다: '{link}'. {help}",
    "err.drive.nothing": "구글 드라이브가 이 링크로 아무것도 보내지 않았습니다",
    "err.drive.too_large": "드라이브 파일이 내려받기 한도({limit_mb:.0f} MB)보다 큽니다",
    "err.drive.refused": "구글 드라이브가 이 파일을 내주지 않았습니다: 비공개이거나, 지워졌거나, 다운로드 한도를 "
                         "넘었습니다. '링크가 있는 모든 사용자'로 공유한 뒤 다시 해 보세요.",
    "err.drive.web_page": "구글 드라이브가 영상 대신 웹 페이지를 보냈습니다 (로그인, 한도 초과 또는 비공개 파일). "
                          "'링크가 있는 모든 사용자'로 공유한 뒤 다시 해 보세요.",
    "err.drive.raw": "구글 드라이브에서 내려받지 못했습니다 ({name}: {text})",
    "err.drive.unreachable": "구글 드라이브에 연결할 수 없습니다: 연결 상태를 확인하거나 파일을 직접 올려 주세요.",
    "err.drive.failed": "구글 드라이브가 파일을 보내지 않았습니다: 나중에 다시 해 보거나 파일을 직접 올려 주세요.",
    "err.settings": "설정이 올바르지 않습니다: {problems}.",
    "err.settings.numbers": "설정이 올바르지 않습니다: 숫자 칸에는 숫자를 넣어야 합니다.",
    "err.settings.model": "설정이 올바르지 않습니다: 모델은 목록에 있는 이름({names}) 중에서 골라야 합니다. 서버의 "
                          "파일은 여기서 지정할 수 없습니다.",
    "err.memory_budget": "설정이 올바르지 않습니다: 메모리 한도 {budget_mb:g} MB로는 이 {width}x{height} 영상의 "
                         "프레임을 담을 수 없습니다. 최소 {need_mb} MB가 필요합니다 ({hold_s:g}초 앞보기(유지 "
                         "시간 또는 전체 해상도 스캔 한 번)를 위한 {lookahead} 프레임과 단계마다 한 프레임). "
                         "메모리 한도를 늘리거나, 유지 시간이나 출력 해상도를 낮추세요.",
    "err.int8_unavailable": "이 서버에서는 INT8을 쓸 수 없습니다. 고급 설정에서 FP32를 고르세요. 이 앱을 운영하고 "
                            "있다면 INT8 모델을 만들 수 있게 NNCF를 설치하세요 (pip install -r requirements-int8.txt).",
    "err.model_failed": "이 서버에서 검출 모델을 불러오거나 실행하지 못했습니다. 이 앱을 운영하고 있다면 "
                        "MOSAIC_MODEL / MOSAIC_EXTRA_MODELS 설정과 가중치 파일이 있는지 확인하세요. 자세한 내용은 "
                        "서버 로그에 있습니다.",
    "err.disk.not_enough": "디스크 공간이 모자랍니다: 이 작업에 약 {need_mb:.0f} MB가 필요한데 {free_mb:.0f} MB만 "
                           "남아 있습니다. 용량 제한을 두거나, 저장 간격을 늘리거나, 해상도를 낮추거나, 공간을 "
                           "비우세요.",
    "err.no_disk_space": "서버에 이 작업을 할 디스크 공간이 모자랍니다: 용량 제한을 두거나, 저장 간격을 늘리거나, "
                         "해상도를 낮추거나, 나중에 다시 해 보세요.",
    "err.write_failed": "서버에서 결과를 쓰지 못했습니다: 나중에 다시 해 보세요.",
    "err.processing_failed": "서버에서 처리하지 못했습니다: 다시 해 보거나 다른 영상으로 해 보세요.",
    "err.stopped": "중지했습니다.",
    "err.render_first": "먼저 작업(또는 검출만)을 실행하세요. 렌더링은 검토한 검출 결과로 다시 만드는 것입니다.",
    "err.face_photo_upload": "얼굴 사진을 올려 주세요. 올린 사진만 사용합니다.",
    "err.face_photo_missing": "얼굴 사진 {name}이(가) 없습니다",
    "err.face_photo_unreadable": "얼굴 사진 {name}을(를) 읽을 수 없습니다 (JPEG, PNG 등)",
    "err.face_photo_none": "얼굴 사진 {name}에서 알아볼 만큼 큰 얼굴을 찾지 못했습니다: "
    "얼굴 하나가 잘 보이는 사진을 쓰세요",
    "err.face_photo_several": "얼굴 사진 {name}에 얼굴이 {count}개 있습니다: 그 사람 하나만 나오게 잘라 주세요",
    "err.mute_spans_end": "설정이 올바르지 않습니다: 소리 지울 구간 {span}이 영상 끝({duration}초)을 넘습니다.",
    "err.voice_needs_video": "설정이 올바르지 않습니다: 목소리와 소리 지울 구간 설정은 영상의 소리를 바꾸는데, 이 작업은 "
                             "영상 없이 이미지 ZIP만 만듭니다(이미지에는 소리가 없습니다). 영상도 만들도록 하거나"
                             "('모자이크한 영상도 만들기', API의 make_video, 명령줄의 --video) 이 설정을 빼세요.",
    # -- "설정이 올바르지 않습니다: ..."의 항목 -------------------------------------------------------
    "set.interval": "저장 간격은 1 이상의 정수여야 합니다 (입력값: {got})",
    "set.scale": "출력 해상도는 50-100 %여야 합니다 (입력값: {got})",
    "set.max_mb": "최대 용량은 0 MB보다 커야 합니다 (입력값: {got})",
    "set.max_images": "최대 이미지 수는 1 이상이어야 합니다 (입력값: {got})",
    "set.format": "이미지 형식은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.quality": "JPEG 품질은 1-100이어야 합니다 (입력값: {got})",
    "set.target": "가릴 대상은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.face_shape": "얼굴 가림 모양은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.face_photos": "얼굴 사진은 파일 경로여야 합니다",
    "set.face_both": "계속 보이게 할 사람의 사진과 이 사람만 가릴 사진 중 하나만 주세요",
    "set.people_record": "사람별 기록을 만들려면 얼굴로 사람을 묶어야 합니다 (--no-people 없이)",
    "set.face_match": "얼굴 일치 거리는 0.2-0.8이어야 합니다 (입력값: {got})",
    "set.model": "모델 이름이나 경로를 넣어야 합니다",
    "set.device": "장치는 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.backend": "백엔드는 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.precision": "정밀도는 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.detail": "세밀도는 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.int8_cpu": "int8 정밀도는 CPU의 OpenVINO에서만 실행됩니다: 장치는 auto 또는 cpu, 백엔드는 auto 또는 openvino로 두세요",
    "set.calibration": "보정용 영상은 int8 정밀도에서만 쓰입니다",
    "set.voice": "목소리 설정은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.spans_format": "소리 지울 구간 '{span}'이 시작-끝 형식이 아닙니다. 초 단위 시작-끝을 쉼표로 구분해 적으세요 "
                        "(예: 12.5-14,61-63.2)",
    "set.spans_order": "소리 지울 구간 '{span}'은 끝이 시작보다 앞섭니다. 초 단위 시작-끝을 쉼표로 구분해 적으세요 "
                       "(예: 12.5-14,61-63.2)",
    "set.spans": "소리 지울 구간은 0 <= 시작 < 끝인 (시작, 끝) 초여야 합니다 (입력값: {got})",
    "set.bleep": "삐 소리 설정은 참 또는 거짓이어야 합니다 (입력값: {got})",
    "set.bleep_spans": "삐 소리는 소리 지울 구간을 덮는 것이니 구간도 적어 주세요",
    "set.batch": "배치 크기는 1-256이어야 합니다 (입력값: {got})",
    "set.imgsz": "검출 크기는 32-4096 사이의 32의 배수여야 합니다 (입력값: {got})",
    "set.conf": "검출 신뢰도는 0과 1 사이여야 합니다 (입력값: {got})",
    "set.classes": "클래스는 모델의 클래스 번호 0-999여야 합니다 (입력값: {got})",
    "set.pad": "여백은 0-100 %여야 합니다 (입력값: {got})",
    "set.style": "가리는 방식은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.cells": "모자이크 칸 수는 2-200이어야 합니다 (입력값: {got})",
    "set.hold": "계속 가리는 시간은 0-10초여야 합니다 (입력값: {got})",
    "set.stride": "검출 간격은 auto 또는 1-30 프레임이어야 합니다 (입력값: {got})",
    "set.memory": "메모리 한도는 0 MB보다 커야 합니다 (입력값: {got})",
    "set.segment": "구간 길이는 0(나누지 않음) 또는 5-86400초여야 합니다 (입력값: {got})",
    "set.min_cell": "최소 칸 크기는 1-256 px여야 합니다 (입력값: {got})",
    "set.unmask": "가리지 않을 사람은 1 이상의 추적 번호여야 합니다 (입력값: {got})",
    "set.follow": "따라가는 화면 비율은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.audit": "검사는 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.encode": "영상 인코딩은 {allowed} 중 하나여야 합니다 (입력값: {got})",
    "set.unmask_reason": "사람을 가리지 않는 이유는 500자 이하의 글이어야 합니다",
    "set.unmask_csv": "가리지 않을 사람을 고르려면 검출 CSV가 필요합니다: 번호는 그 파일(작업의 detections.csv)에 "
                      "있는 것입니다",
    # -- 상태 표시줄 -----------------------------------------------------------------------------
    "status.gpu_busy": ", 사용률 {pct:.0f} %",
    "status.cpu_only": "CPU만 사용 (코어 {cores}개), GPU 없음",
    "status.app": "이 앱: CPU {cpu:.0f} %, RAM {ram_gb:.1f} GB",
    "status.machine": "서버 전체: CPU {cpu:.0f} %, RAM {used_gb:.1f}/{total_gb:.1f} GB",
    "status.rate": "초당 {fps:.0f} 프레임 ({read}/{total})",
    "status.job_one": "작업 1개 실행 중: {rates}",
    "status.jobs": "작업 {jobs}개 실행 중: {rates}",
    "status.idle": "쉬는 중",
}

# The page's words for the pipeline's names (radio choices): value -> key
TARGET_LABELS = {"person": "page.target.person", "silhouette": "page.target.silhouette", "head": "page.target.head",
                 "face": "page.target.face"}
STYLE_LABELS = {"mosaic": "page.style.mosaic", "blur": "page.style.blur", "fill": "page.style.fill"}
FACE_SHAPE_LABELS = {"ellipse": "page.face_shape.ellipse", "box": "page.face_shape.box"}
PRECISION_LABELS = {"fp32": "page.precision.fp32", "int8": "page.precision.int8"}
DETAIL_LABELS = {"fast": "page.detail.fast", "full": "page.detail.full", "max": "page.detail.max"}
VOICE_LABELS = {"keep": "page.voice.keep", "disguise": "page.voice.disguise", "mute": "page.voice.mute"}

# The one place a language is added: its code (as browsers send it, without the region) and
# its texts. English is the fallback for any language or key missing here.
TEXTS: dict[str, dict[str, str]] = {"en": EN, "ko": KO}


def language(request: Any) -> str:
    """The page's language for this request: the browser's own language (the first of its
    Accept-Language, as navigator.language is, which Gradio's front end follows) when the
    table has it, else English. A second choice is not used: the page's labels would not
    follow it, and one page must not speak two languages."""
    headers = getattr(request, "headers", None)
    try:
        header = headers.get("accept-language", "") if headers is not None else ""
    except Exception:  # noqa: BLE001 - a header we cannot read is no reason to fail a job
        header = ""
    first = str(header or "").split(",")[0].split(";")[0].strip().lower()
    primary = first.split("-")[0].split("_")[0]
    return primary if primary in TEXTS else DEFAULT_LANGUAGE


def _value(value: Any, lang: str) -> Any:
    if isinstance(value, Message):
        return say(value, lang)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return "; ".join(say(v, lang) for v in value)
    return value


def tr(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The text for `key` in `lang` (English where `lang` lacks it), filled with `values`.
    Values that are Messages (or lists of them) are translated too. A key that is not in
    the English table is a bug: KeyError."""
    template = TEXTS.get(lang, EN).get(key)
    english = EN[key]
    filled = {name: _value(v, lang) for name, v in values.items()}
    for text in (template, english):
        if text is None:
            continue
        try:
            return text.format(**filled)
        except (KeyError, IndexError, ValueError, TypeError):
            log.warning("text %s in %s does not fit its values %r", key, lang, sorted(values))
    return english


def say(text: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A text from the pipeline in `lang`: a Message through its key, anything else as it
    is (English)."""
    key = getattr(text, "key", None)
    if isinstance(text, Message) and key in EN:
        return tr(key, lang, **text.values)
    return str(text)


def i18n(key: str) -> gr.i18n.I18nData:
    """A page text for Gradio to translate in the browser; the key must be in the table."""
    if key not in EN:
        raise KeyError(f"no text for {key!r} in ui/i18n.py")
    return gr.I18n()(key)


def page_i18n(**page_values: Any) -> gr.I18n:
    """Gradio's translations for the page, every language: each text that needs no value or
    only `page_values` (e.g. max_input_mb), filled in here, since the front end fills in
    nothing. Texts that need other values are the server's, not sent."""
    def filled(table: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, text in table.items():
            try:
                out[key] = text.format(**page_values)
            except (KeyError, IndexError, ValueError):
                continue
        return out

    english = filled(EN)
    return gr.I18n(**{lang: {**english, **filled(table)} for lang, table in TEXTS.items()})
