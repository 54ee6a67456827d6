"""The page: inputs and the Start/Stop buttons first (on a phone they fit the first screen),
settings below them; on the right the progress bar with the outcome right under it, then
the results; the device panel on top. Only wiring here; handlers.py translates events.

The public API (/process) has its own hidden inputs: plain values, each documented, that
Settings validates (the page's sliders and radios would answer out-of-range values with
Gradio's bare messages that name no field)."""
from __future__ import annotations

import gradio as gr

from pipeline.settings import FACE_SHAPES, IMAGE_FORMATS, STYLES, TARGETS, Settings

from . import handlers
from . import review as review_ui
from .live_tab import build_live_tab
from .model_choice import allowed_models, dropdown_choices
from .status import STATUS_CSS, status_html

STATUS_REFRESH_S = 2.0
VIDEO_DOC = (f"The video, sent with handle_file(path): mp4, mov, avi, mkv, webm or another common format, "
             f"up to {handlers.MAX_INPUT_MB:g} MB; deleted from the server when its job ends. None when "
             "drive_link is given.")
CELLS_RANGE = (2, 200)  # Settings' range for mosaic_cells; the page and the API use the same

PAGE_CSS = STATUS_CSS + """
#job-progress .bar { height: 14px; background: #e5e7eb; border-radius: 7px; overflow: hidden; }
#job-progress .fill { height: 100%; background: #2563eb; transition: width 0.3s; }
#job-progress.done .fill { background: #15803d; }
#job-progress.warning .fill { background: #d97706; }
#job-progress.stopped .fill, #job-progress.waiting .fill { background: #6b7280; }
#job-progress.failed .fill { background: #b91c1c; }
#job-progress .text { margin-top: 4px; font-family: monospace; }
#job-progress.failed .text { color: #b91c1c; font-weight: bold; }
#job-progress.waiting .text { font-weight: bold; }
#summary .outcome { padding: 6px 10px; border-left: 4px solid #6b7280; }
#summary .outcome p { margin: 2px 0; }
#summary .outcome .headline { font-weight: bold; }
#summary .outcome.done { border-color: #15803d; }
#summary .outcome.warning { border-color: #d97706; background: #fffbeb; }
#summary .outcome.failed { border-color: #b91c1c; background: #fef2f2; color: #991b1b; }
#input-help { font-size: 0.85em; }
@media (max-width: 640px) {  /* a phone: Start must be on the first screen */
  #status-panel { font-size: 11px; padding: 2px 4px; }
  h1 { font-size: 1.4em !important; margin-bottom: 0 !important; }
}
"""

TARGET_CHOICES = [("Whole people (padded box)", "person"), ("Silhouettes (the body's outline)", "silhouette"),
                  ("Heads", "head"), ("Faces", "face")]
TARGET_HELP = """**Whole people**: each person's box; hides the most. **Silhouettes**: the body's own
outline, grown by the padding; keeps the scene. **Heads**: who someone is, not what they do.
**Faces**: faces only, from a face detector (CenterFace)."""

INTRO = """# Video person anonymizer
Every person YOLO11 finds is covered with a mosaic; every N-th frame goes into a ZIP with
`detections.csv` listing what was masked.
"""


def _documented(component, description: str, **schema):
    """Give an API input its real description (and, for numbers, its type and range) in the
    API docs and gradio_client's view_api. Only what is documented changes: values still go
    to the handler as they are sent, and Settings checks them."""
    info = {**component.api_info(), **schema, "description": description,
            "additional_description": description}
    component.api_info = lambda: info
    return component


def _api_inputs(d: Settings) -> list:
    """/process's inputs after `video_file`, in the handler's order, hidden from the page."""
    def number(value, description, integer=False, **bounds):
        kind = {"type": "integer"} if integer else {"type": "number"}
        return _documented(gr.Number(value=value, visible=False), description, **kind, **bounds)

    def text(value, description, **schema):
        return _documented(gr.Textbox(value=value, visible=False), description, **schema)

    def flag(value, description):
        return _documented(gr.Checkbox(value=value, visible=False), description)

    return [
        text("", "A Google Drive share link (https://drive.google.com/file/d/FILE_ID/view) instead of "
                 "video_file; nothing else is accepted here."),
        number(d.interval, "Capture every N-th frame (frames 0, N, 2N...); a whole number >= 1.", True, minimum=1),
        number(d.scale_pct, "Output size, 50-100 % of the source; a whole number.", True, minimum=50, maximum=100),
        flag(False, "Apply max_mb: the ZIP never exceeds it."),
        number(handlers.DEFAULT_CAP_MB, "ZIP size cap in MB (10^6 bytes), > 0; used only when limit_size is true.",
               minimum=0, exclusiveMinimum=0),
        flag(False, "Apply max_images."),
        number(handlers.DEFAULT_CAP_IMAGES, "Stop after this many images, >= 1; used only when limit_images is true.",
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
    ]


def build_demo() -> gr.Blocks:
    d = Settings()  # the pipeline's defaults are the page's defaults
    with gr.Blocks(title="Video person anonymizer", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        status = gr.HTML(status_html(), elem_id="status")
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.File(label="Video", file_types=["video"], elem_id="video-input", height=140)
                gr.Markdown(
                    f"mp4, mov, avi, mkv, webm and other common video formats, up to "
                    f"{handlers.MAX_INPUT_MB:g} MB. Your upload is deleted from the server as soon as "
                    "its job ends.", elem_id="input-help")
                drive_link = gr.Textbox(label="…or a Google Drive link", value="",
                                        placeholder="https://drive.google.com/file/d/FILE_ID/view",
                                        info="A Google Drive share link ('Anyone with the link'); no other sites.")
                with gr.Row():
                    start = gr.Button("Start", variant="primary", elem_id="start-button", min_width=80)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-button", interactive=False, min_width=80)
                    keep = gr.Button("Stop and keep what is done", elem_id="keep-button", interactive=False,
                                     min_width=120, scale=2)
                    sample = gr.Button("Try the sample", elem_id="sample-button", min_width=100)
                detect = gr.Button("Detect only, then review", elem_id="detect-button", size="sm")
                target = gr.Radio(TARGET_CHOICES, value=d.target, label="What to hide", elem_id="target")
                gr.Markdown(TARGET_HELP, elem_id="target-help")
                interval = gr.Number(label="Capture every N frames", value=d.interval, elem_id="interval",
                                     info="1 = every frame; 10 = frames 0, 10, 20… go into the ZIP.")
                scale = gr.Number(label="Output resolution (%)", value=d.scale_pct, elem_id="scale",
                                  info="50-100 % of the source size; people are found on the full-size frame.")
                with gr.Row():
                    limit_size = gr.Checkbox(label="Cap the ZIP size", value=False, elem_id="limit-size")
                    max_mb = gr.Number(label="Size cap (MB)", value=handlers.DEFAULT_CAP_MB, interactive=False,
                                       elem_id="max-mb", info="1 MB = 1,000,000 bytes")
                with gr.Row():
                    limit_images = gr.Checkbox(label="Cap the image count", value=False, elem_id="limit-images")
                    max_images = gr.Number(label="Maximum images", value=handlers.DEFAULT_CAP_IMAGES,
                                           interactive=False, elem_id="max-images")
                make_video = gr.Checkbox(label="Also make the mosaicked video (every frame, with audio)", value=False,
                                         elem_id="make-video")
                with gr.Accordion("Advanced", open=False):
                    image_format = gr.Radio(list(IMAGE_FORMATS), value=d.image_format, label="Format")
                    quality = gr.Slider(1, 100, value=d.jpeg_quality, step=1, label="JPEG quality",
                                        elem_id="quality", visible=d.image_format == "jpg")
                    style = gr.Radio(list(STYLES), value=d.style, label="Mask style")
                    face_shape = gr.Radio(list(FACE_SHAPES), value=d.face_shape, label="Face shape (faces target)")
                    cells = gr.Slider(*CELLS_RANGE, value=d.mosaic_cells, step=1, elem_id="cells",
                                      label="Mosaic cells across a person: fewer = coarser, hides more "
                                            "(blur: fewer = stronger)")
                    pad = gr.Slider(0, 50, value=d.pad_pct, step=1, label="Padding around each box (%)")
                    hold = gr.Slider(0, 2, value=d.hold_s, step=0.1,
                                     label="Keep people masked across detector misses (seconds)")
                    conf = gr.Slider(0.05, 0.9, value=d.conf, step=0.05, label="Detection confidence (lower masks more)")
                    model = gr.Dropdown(dropdown_choices(), value="", label="Model", elem_id="model",
                                        info="Larger models find more people but run slower; -seg and -pose "
                                             "are for the silhouette and head targets.")
            with gr.Column(scale=1):
                progress = gr.HTML("", elem_id="progress")
                summary = gr.HTML("", elem_id="summary")
                size_text = gr.Markdown("", elem_id="zip-size")
                result_zip = gr.DownloadButton("Download the ZIP", visible=False, elem_id="result-zip",
                                               variant="primary")
                gallery = gr.Gallery(label="Latest mosaicked frames", columns=3, height=300, elem_id="gallery")
                result_video = gr.Video(label="Mosaicked video", elem_id="result-video", interactive=False,
                                        visible=False)
                review = review_ui.build_panel(d)

        settings_inputs = [interval, scale, limit_size, max_mb, limit_images, max_images, image_format, quality,
                           style, cells, pad, conf, model, hold, target, face_shape]
        buttons = [start, stop, keep, sample]
        detect_flag, run_flag = gr.State(True), gr.State(False)
        results = [progress, size_text, gallery, result_zip, summary, result_video]
        job_outputs = [*results, video, *buttons]
        # Page events: not in the API, and no Gradio overlay (timer, queue position, ETA) on our
        # components; the progress bar and its text say what is going on.
        private = dict(api_visibility="private", show_progress="hidden")

        # Start and the sample: first (not queued) clear the last result, lock the buttons and
        # say whether the job must wait; then the job, in the queue. Gradio's own queue and ETA
        # overlay is hidden: its estimate was wrong and it said nothing about why it waits.
        job = dict(fn=handlers.start_job, inputs=[video, drive_link, *settings_inputs, make_video, run_flag],
                   outputs=job_outputs, concurrency_id="jobs", **private)
        opened = dict(fn=review_ui.open_for_session, inputs=None, outputs=review_ui.panel_outputs(review),
                      queue=False, **private)
        begin = dict(fn=handlers.begin, inputs=None, outputs=[*results, *buttons], queue=False, **private)
        run_event = start.click(**begin).then(**job)
        run_event.then(**opened)
        detect_event = detect.click(**begin).then(**{**job, "inputs": [video, drive_link, *settings_inputs,
                                                                          make_video, detect_flag]})
        detect_event.then(**opened)
        # the sample: real faces under the face target, so a first run shows a real detector's masks
        sample_event = sample.click(lambda: (str(handlers.FACES_SAMPLE), "", "face"), None, [video, drive_link, target],
                                    queue=False, **private)
        sample_run = sample_event.then(**begin).then(**job)
        sample_run.then(**opened)
        render_event = review["render"].click(**begin).then(
            handlers.render_job, [review["state"], *settings_inputs, make_video], job_outputs,
            concurrency_id="jobs", **private)
        render_event.then(review_ui.edited_file, review["state"], review["csv"], queue=False, **private)
        review_ui.wire_panel(review, private)
        stop.click(handlers.stop_button, None, job_outputs, cancels=[run_event, sample_run, detect_event, render_event],
                   queue=False, **private)
        target.change(lambda t: gr.update(choices=dropdown_choices(t), value=""), target, model, queue=False,
                      **private)
        keep.click(handlers.keep_button, None, [progress, keep], queue=False, **private)

        # Inputs that only apply in some states say so.
        limit_size.change(lambda on: gr.update(interactive=on), limit_size, max_mb, queue=False, **private)
        limit_images.change(lambda on: gr.update(interactive=on), limit_images, max_images, queue=False, **private)
        image_format.change(lambda f: gr.update(visible=f == "jpg"), image_format, quality, queue=False, **private)
        make_video.change(lambda on: gr.update(visible=on), make_video, result_video, queue=False, **private)

        # The public API: only the video (or link) is required; the rest have the page's defaults.
        api_button = gr.Button(visible=False)
        api_zip = _documented(gr.File(label="ZIP of masked frames", visible=False),
                              "The ZIP: the masked frames and detections.csv listing every masked box.")
        api_summary = _documented(gr.Textbox(label="Summary", visible=False),
                                  "What happened: done, stopped early by a cap (which one, where), or a warning "
                                  "such as nobody detected. Read it before using the ZIP.")
        api_button.click(handlers.process_api, [_documented(video, VIDEO_DOC), *_api_inputs(d)], [api_zip, api_summary],
                         api_name="process", concurrency_id="jobs")
        render_inputs = [_documented(gr.File(visible=False), "The edited detections.csv (from a run's ZIP): "
                                     "kind=manual rows are covered and interpolated per track_id."),
                         _documented(gr.Textbox(value="", visible=False), "Track ids to leave uncovered, "
                                     "comma-separated (e.g. 3,7); they must be in the CSV.")]
        api_inputs = _api_inputs(d)
        no_model = [api_inputs[i] for i in range(len(api_inputs)) if i not in (0, 12, 13)]  # no link, conf, model
        gr.Button(visible=False).click(
            handlers.render_api, [_documented(gr.File(visible=False), VIDEO_DOC), *render_inputs, *no_model],
            [api_zip, api_summary], api_name="render", concurrency_id="jobs")

        with gr.Tab("Live"):  # the webcam, masked as it streams (ui/live_tab.py)
            build_live_tab()

        timer = gr.Timer(STATUS_REFRESH_S)
        timer.tick(status_html, None, status, queue=False, **private)
    return demo
