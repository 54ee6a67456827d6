"""The public API's inputs (/process and /render): plain values, each documented for the
API page and gradio_client's view_api, hidden from the page, that Settings validates (the
page's sliders and radios would answer out-of-range values with Gradio's bare messages that
name no field). Only the video (or link) is required; the rest have the page's defaults."""
from __future__ import annotations

import gradio as gr

from pipeline.audio.voice import VOICES
from pipeline.settings import AUDITS, DETAILS, ENCODES, FACE_SHAPES, FOLLOW_ASPECTS, IMAGE_FORMATS, PRECISIONS, STYLES, TARGETS, Settings

from . import api
from .inputs import DEFAULT_CAP_IMAGES, DEFAULT_CAP_MB
from .model_choice import allowed_models
from .sources import MAX_INPUT_MB

VIDEO_DOC = (f"The video, sent with handle_file(path): mp4, mov, avi, mkv, webm or another common format, "
             f"up to {MAX_INPUT_MB:g} MB; deleted from the server when its job ends. None when "
             "drive_link is given.")
CELLS_RANGE = (2, 200)  # Settings' range for mosaic_cells; the page and the API use the same


def documented(component, description: str, **schema):
    """Give an API input its real description (and, for numbers, its type and range) in the
    API docs and gradio_client's view_api. Only what is documented changes: values still go
    to the handler as they are sent, and Settings checks them."""
    info = {**component.api_info(), **schema, "description": description,
            "additional_description": description}
    component.api_info = lambda: info
    return component


def process_inputs(d: Settings) -> list:
    """/process's inputs after `video_file`, in the handler's order, hidden from the page."""
    def number(value, description, integer=False, **bounds):
        kind = {"type": "integer"} if integer else {"type": "number"}
        return documented(gr.Number(value=value, visible=False), description, **kind, **bounds)

    def text(value, description, **schema):
        return documented(gr.Textbox(value=value, visible=False), description, **schema)

    def flag(value, description):
        return documented(gr.Checkbox(value=value, visible=False), description)

    return [
        text("", "A Google Drive share link (https://drive.google.com/file/d/FILE_ID/view) instead of "
                 "video_file; nothing else is accepted here."),
        number(d.interval, "Capture every N-th frame (frames 0, N, 2N...); a whole number >= 1.", True, minimum=1),
        number(d.scale_pct, "Output size, 50-100 % of the source; a whole number.", True, minimum=50, maximum=100),
        flag(False, "Apply max_mb: the ZIP never exceeds it."),
        number(DEFAULT_CAP_MB, "ZIP size cap in MB (10^6 bytes), > 0; used only when limit_size is true.",
               minimum=0, exclusiveMinimum=0),
        flag(False, "Apply max_images."),
        number(DEFAULT_CAP_IMAGES, "Stop after this many images, >= 1; used only when limit_images is true.",
               True, minimum=1),
        text(d.image_format, "Image format in the ZIP.", enum=list(IMAGE_FORMATS)),
        number(d.jpeg_quality, "JPEG quality 1-100 (ignored for png).", True, minimum=1, maximum=100),
        text(d.style, "How a person is covered.", enum=list(STYLES)),
        number(d.mosaic_cells, f"Mosaic cells across a person, {CELLS_RANGE[0]}-{CELLS_RANGE[1]}: fewer cells "
               "hide more (for blur: fewer = stronger).", True, minimum=CELLS_RANGE[0], maximum=CELLS_RANGE[1]),
        number(d.pad_pct, "Each box grows by this percent of its size on every side, 0-100.", minimum=0, maximum=100),
        number(d.conf, "Detection confidence, between 0 and 1 exclusive; lower masks more.",
               exclusiveMinimum=0, exclusiveMaximum=1),
        text("", "Detection model: empty for the default, or one of the offered names.",
             enum=["", *allowed_models()]),
        number(d.hold_s, "Keep a tracked person masked this many seconds across detector misses, 0-10.",
               minimum=0, maximum=10),
        text(d.target, "What to hide: person (box), silhouette (outline), head, or face.", enum=list(TARGETS)),
        text(d.face_shape, "How faces are covered (target face): ellipse or box.", enum=list(FACE_SHAPES)),
        text(d.precision, "CPU inference precision: fp32 (default), or int8, a model quantized to 8 bits with "
             "NNCF: faster on the CPU, made once per model and cached (the first int8 call takes longer), its "
             "boxes can differ slightly from fp32's. int8 always detects on the CPU, even where a GPU is present.",
             enum=list(PRECISIONS)),
    ]


def sound_inputs(d: Settings) -> list:
    """/process's and /render's last inputs: the video and its sound."""
    return [
        documented(gr.Checkbox(value=False, visible=False), "Also make the whole masked video (H.264 MP4, every "
                    "frame masked, with sound); it comes inside the ZIP, beside the frames."),
        documented(gr.Textbox(value=d.voice, visible=False), "The video's voices: keep (the sound as it is), "
                    "disguise (pitch and formants moved by an amount drawn per run and kept nowhere; the words "
                    "and a determined analyst can still identify a speaker) or mute (a silent track: the safe "
                    "choice). Needs make_video.", enum=list(VOICES)),
        documented(gr.Textbox(value="", visible=False), "Seconds of the video's sound to silence, START-END, "
                    "comma-separated (e.g. 12.5-14,61-63.2); each must lie inside the video. Needs make_video."),
        documented(gr.Checkbox(value=False, visible=False), "Cover the mute_spans with a tone instead of "
                    "silence."),
    ]


def wire(d: Settings, video) -> None:
    """Inside the page's Blocks: the hidden buttons behind /process and /render."""
    api_button = gr.Button(visible=False)
    api_zip = documented(gr.File(label="ZIP of masked frames", visible=False),
                          "The ZIP: the masked frames and detections.csv listing every masked box; with "
                          "make_video, the masked video too.")
    api_summary = documented(gr.Textbox(label="Summary", visible=False),
                              "What happened: done, stopped early by a cap (which one, where), or a warning "
                              "such as nobody detected. Read it before using the ZIP.")
    face_inputs = [documented(gr.File(file_count="multiple", visible=False), "Photos of people to keep visible "
                               "everywhere (one face each); a false match leaves a bystander visible."),
                   documented(gr.File(file_count="multiple", visible=False), "Photos of the only people to "
                               "mask (one face each); everyone else stays visible. Not with keep_faces.")]
    follow_input = documented(gr.Textbox(value="", visible=False), "Follow cam for the video: empty (the whole "
                               "frame) or an aspect; the video becomes a crop of that aspect following the "
                               "largest person or face, made after masking. ZIP images stay whole frames.",
                               enum=["", *FOLLOW_ASPECTS])
    detail_input = documented(gr.Textbox(value=d.detail, visible=False), "What of each frame the model sees: "
                               "fast (the whole frame at the model's size; small faces and far people in HD/4K "
                               "can be missed), full (default: plus full-resolution tiles rolled across frames, "
                               "finds what the model finds at full size), or max (every tile on every frame, "
                               "slowest).", enum=list(DETAILS))
    # after writing, the outputs are looked at again (pipeline/audit/); the report is inside the ZIP
    audit_input = documented(gr.Textbox(value=d.audit, visible=False), "Check the outputs after writing: sample "
                              "(default: frames spread over the video, within a quarter of the run's time), all (every "
                              "frame) or off. The summary says how many frames were checked and what was found; the "
                              "ZIP holds <name>.report.json and .report.html (input, outputs and models with their "
                              "SHA-256, every setting, the audit's checked frames and findings).", enum=list(AUDITS))
    encode_input = documented(gr.Textbox(value=d.encode, visible=False), "How the video (make_video) is "
                               "written: fast (default: the encode takes about 0.6-0.8x the CPU, the file is about twice "
                               "as large) or small (about half the size); the same picture quality either way.", enum=list(ENCODES))
    api_button.click(api.process_api, [documented(video, VIDEO_DOC), *process_inputs(d), *sound_inputs(d),
                      *face_inputs, follow_input, detail_input, audit_input, encode_input],
                     [api_zip, api_summary],
                     api_name="process", concurrency_id="jobs")
    render_inputs = [documented(gr.File(visible=False), "The edited detections.csv (from a run's ZIP): "
                                 "kind=manual rows are covered and interpolated per track_id."),
                     documented(gr.Textbox(value="", visible=False), "Track ids to leave uncovered, "
                                 "comma-separated (e.g. 3,7); they must be in the CSV.")]
    api_inputs = process_inputs(d)
    # /render runs no model: no link, conf, model or precision (the last)
    no_model = [api_inputs[i] for i in range(len(api_inputs)) if i not in (0, 12, 13, len(api_inputs) - 1)]
    gr.Button(visible=False).click(
        api.render_api, [documented(gr.File(visible=False), VIDEO_DOC), *render_inputs, *no_model,
                         *sound_inputs(d), *face_inputs, follow_input, audit_input,
                         documented(gr.Textbox(value="", visible=False), "Why the unmask_tracks stay visible "
                                    "(optional, at most 500 characters): written beside each in the report."),
                         encode_input],
        [api_zip, api_summary], api_name="render", concurrency_id="jobs")
