"""The page: inputs and the Start/Stop buttons first (on a phone they fit the first screen),
settings below them; on the right the progress bar with the outcome right under it, then
the results; the device panel on top. Only wiring here; handlers.py (the page) and api.py
(the public API) translate events; api_inputs.py wires the API's own documented inputs."""
from __future__ import annotations

import gradio as gr

from pipeline.audio.voice import VOICES
from pipeline.settings import (
    AUDITS,
    DETAILS,
    ENCODES,
    FACE_SHAPES,
    FOLLOW_ASPECTS,
    IMAGE_FORMATS,
    PRECISIONS,
    STYLES,
    TARGETS,
    Settings,
    default_model,
)

from . import api_inputs, handlers
from .audit_view import cover_findings, jump_to_findings, report_download
from . import review as review_ui
from .api_inputs import CELLS_RANGE
from .i18n import (
    DETAIL_LABELS,
    FACE_SHAPE_LABELS,
    PRECISION_LABELS,
    STYLE_LABELS,
    TARGET_LABELS,
    VOICE_LABELS,
    i18n,
    page_i18n,
    tr,
)
from .inputs import DEFAULT_CAP_IMAGES, DEFAULT_CAP_MB
from .live_tab import build_live_tab
from .webrtc_page import footer_js
from .model_choice import dropdown_choices, public_name
from .sources import FACES_SAMPLE, MAX_INPUT_MB
from .status import STATUS_CSS, status_panel

STATUS_REFRESH_S = 2.0

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

# Every text on the page is a key of ui/i18n.py: Gradio shows it in the browser's language.
TARGET_CHOICES = [(i18n(TARGET_LABELS[t]), t) for t in TARGETS]
FOLLOW_CHOICES = [(i18n("page.follow.off"), ""), *((a, a) for a in FOLLOW_ASPECTS)]


def page_translations() -> "gr.I18n":
    """What app.py gives launch(i18n=...): the table, with the page's own figures filled in."""
    return page_i18n(max_input_mb=MAX_INPUT_MB, default_model=public_name(default_model("person")))


def build_demo() -> gr.Blocks:
    d = Settings()  # the pipeline's defaults are the page's defaults
    # the browser tab's title stays English: Gradio translates components, not the title
    with gr.Blocks(title=tr("page.title"), delete_cache=(1800, 3600)) as demo:
        gr.Markdown(i18n("page.intro"))
        status = gr.HTML("", elem_id="status")  # filled on load and by its timer, in the page's language
        # Two tabs: a video file (the main page), and the webcam live (ui/live_tab.py)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab(i18n("page.video_tab"), id="video", elem_id="video-tab"):
                with gr.Row():
                    with gr.Column(scale=1):
                        video = gr.File(label=i18n("page.video"), file_types=["video"], elem_id="video-input", height=140)
                        gr.Markdown(i18n("page.input_help"), elem_id="input-help")
                        drive_link = gr.Textbox(label=i18n("page.drive_link"), value="",
                                                placeholder=i18n("page.drive_placeholder"),
                                                info=i18n("page.drive_info"))
                        with gr.Row():
                            start = gr.Button(i18n("page.start"), variant="primary", elem_id="start-button", min_width=80)
                            stop = gr.Button(i18n("page.stop"), variant="stop", elem_id="stop-button", interactive=False,
                                             min_width=80)
                            keep = gr.Button(i18n("page.keep"), elem_id="keep-button", interactive=False,
                                             min_width=120, scale=2)
                            sample = gr.Button(i18n("page.sample"), elem_id="sample-button", min_width=100)
                        detect = gr.Button(i18n("page.detect"), elem_id="detect-button", size="sm")
                        target = gr.Radio(TARGET_CHOICES, value=d.target, label=i18n("page.target"), elem_id="target")
                        gr.Markdown(i18n("page.target_help"), elem_id="target-help")
                        interval = gr.Number(label=i18n("page.interval"), value=d.interval, elem_id="interval",
                                             info=i18n("page.interval_info"))
                        scale = gr.Number(label=i18n("page.scale"), value=d.scale_pct, elem_id="scale",
                                          info=i18n("page.scale_info"))
                        with gr.Row():
                            limit_size = gr.Checkbox(label=i18n("page.limit_size"), value=False, elem_id="limit-size")
                            max_mb = gr.Number(label=i18n("page.max_mb"), value=DEFAULT_CAP_MB, interactive=False,
                                               elem_id="max-mb", info=i18n("page.max_mb_info"))
                        with gr.Row():
                            limit_images = gr.Checkbox(label=i18n("page.limit_images"), value=False, elem_id="limit-images")
                            max_images = gr.Number(label=i18n("page.max_images"), value=DEFAULT_CAP_IMAGES,
                                                   interactive=False, elem_id="max-images")
                        make_video = gr.Checkbox(label=i18n("page.make_video"), value=False,
                                                 elem_id="make-video")
                        encode = gr.Radio([(i18n(f"page.encode.{e}"), e) for e in ENCODES], value=d.encode,
                                          label=i18n("page.encode"), elem_id="encode", info=i18n("page.encode_info"))
                        follow = gr.Radio(FOLLOW_CHOICES, value="", label=i18n("page.follow"), elem_id="follow",
                                          info=i18n("page.follow_info"))
                        with gr.Accordion(i18n("page.advanced"), open=False):
                            image_format = gr.Radio(list(IMAGE_FORMATS), value=d.image_format, label=i18n("page.format"))
                            quality = gr.Slider(1, 100, value=d.jpeg_quality, step=1, label=i18n("page.quality"),
                                                elem_id="quality", visible=d.image_format == "jpg")
                            style = gr.Radio([(i18n(STYLE_LABELS[s]), s) for s in STYLES], value=d.style,
                                             label=i18n("page.style"))
                            face_shape = gr.Radio([(i18n(FACE_SHAPE_LABELS[s]), s) for s in FACE_SHAPES], value=d.face_shape,
                                                  label=i18n("page.face_shape"))
                            keep_photos = gr.File(file_count="multiple", file_types=["image"], elem_id="keep-faces",
                                                  label=i18n("page.keep_faces"))
                            gr.Markdown(i18n("page.keep_faces_info"))
                            only_photos = gr.File(file_count="multiple", file_types=["image"], elem_id="only-faces",
                                                  label=i18n("page.only_faces"))
                            gr.Markdown(i18n("page.only_faces_info"))
                            cells = gr.Slider(*CELLS_RANGE, value=d.mosaic_cells, step=1, elem_id="cells",
                                              label=i18n("page.cells"))
                            pad = gr.Slider(0, 50, value=d.pad_pct, step=1, label=i18n("page.pad"))
                            hold = gr.Slider(0, 2, value=d.hold_s, step=0.1,
                                             label=i18n("page.hold"))
                            conf = gr.Slider(0.05, 0.9, value=d.conf, step=0.05, label=i18n("page.conf"))
                            model = gr.Dropdown([(i18n("page.model.default"), ""), *dropdown_choices()[1:]], value="",
                                                label=i18n("page.model"), elem_id="model", info=i18n("page.model_info"))
                            precision = gr.Radio([(i18n(PRECISION_LABELS[p]), p) for p in PRECISIONS], value=d.precision,
                                                 label=i18n("page.precision"), elem_id="precision",
                                                 info=i18n("page.precision_info"))
                            detail = gr.Radio([(i18n(DETAIL_LABELS[v]), v) for v in DETAILS], value=d.detail,
                                              label=i18n("page.detail"), elem_id="detail",
                                              info=i18n("page.detail_info"))
                            voice = gr.Radio([(i18n(VOICE_LABELS[v]), v) for v in VOICES], value=d.voice,
                                             label=i18n("page.voice"), elem_id="voice", info=i18n("page.voice_info"))
                            mute_spans = gr.Textbox(label=i18n("page.mute_spans"), value="", elem_id="mute-spans",
                                                    placeholder=i18n("page.mute_spans_placeholder"),
                                                    info=i18n("page.mute_spans_info"))
                            bleep = gr.Checkbox(label=i18n("page.bleep"), value=False, elem_id="bleep")
                            audit = gr.Radio([(i18n(f"page.audit.{a}"), a) for a in AUDITS], value=d.audit,
                                             label=i18n("page.audit"), elem_id="audit", info=i18n("page.audit_info"))
                    with gr.Column(scale=1):
                        progress = gr.HTML("", elem_id="progress")
                        summary = gr.HTML("", elem_id="summary")
                        size_text = gr.Markdown("", elem_id="zip-size")
                        result_zip = gr.DownloadButton(i18n("page.download_zip"), visible=False, elem_id="result-zip",
                                                       variant="primary")
                        report = gr.File(label=i18n("page.report_files"), file_count="multiple", visible=False,
                                         interactive=False, elem_id="report-files")
                        gallery = gr.Gallery(label=i18n("page.gallery"), columns=3, height=300, elem_id="gallery")
                        result_video = gr.Video(label=i18n("page.result_video"), elem_id="result-video", interactive=False,
                                                visible=False)
                        review = review_ui.build_panel(d)
                        cover = gr.Button(i18n("review.cover_findings"), visible=False, elem_id="cover-findings")
            with gr.Tab(i18n("page.live_tab"), id="live", elem_id="live-tab"):
                build_live_tab()  # the webcam, masked as it streams

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
        # the CPU precision goes to the model runs only: Render replays boxes, no model
        sound = [voice, mute_spans, bleep]  # the video's; start_job and render_job take them last
        faces = [keep_photos, only_photos]  # people to keep visible / to hide only, by photo; after sound
        job = dict(fn=handlers.start_job, inputs=[video, drive_link, *settings_inputs, precision, make_video, run_flag,
                                                  *sound, *faces, follow, detail, audit, encode],
                   outputs=job_outputs, concurrency_id="jobs", **private)
        opened = dict(fn=review_ui.open_for_session, inputs=None, outputs=review_ui.panel_outputs(review),
                      queue=False, **private)
        begin = dict(fn=handlers.begin, inputs=None, outputs=[*results, *buttons], queue=False, **private)
        reported = dict(fn=report_download, inputs=None, outputs=report, queue=False, **private)
        findings = dict(fn=jump_to_findings, inputs=review["state"], outputs=[review["slider"], review["note"], cover],
                        queue=False, **private)  # the Review opens on the audit's findings
        run_event = start.click(**begin).then(**job)
        run_event.then(**opened).then(**reported).then(**findings)
        detect_event = detect.click(**begin).then(**{**job, "inputs": [video, drive_link, *settings_inputs,
                                                                          precision, make_video, detect_flag, *sound,
                                                                          *faces, follow, detail, audit,
                                                                          encode]})
        detect_event.then(**opened).then(**reported)
        # the sample: real faces under the face target, so a first run shows a real detector's masks
        sample_event = sample.click(lambda: (str(FACES_SAMPLE), "", "face"), None, [video, drive_link, target],
                                    queue=False, **private)
        sample_run = sample_event.then(**begin).then(**job)
        sample_run.then(**opened).then(**reported).then(**findings)
        render_event = review["render"].click(**begin).then(
            handlers.render_job, [review["state"], *settings_inputs, make_video, *sound, *faces, follow, audit,
                                  review["reason"], encode],
            job_outputs, concurrency_id="jobs", **private)
        render_event.then(review_ui.edited_file, review["state"], review["csv"], queue=False, **private)
        render_event.then(**reported)
        review_ui.wire_panel(review, private)
        cover.click(cover_findings, [review["slider"], review["state"]],
                    [review["image"], review["state"], review["drawn"], review["note"], cover], queue=False, **private)
        stop.click(handlers.stop_button, None, job_outputs, cancels=[run_event, sample_run, detect_event, render_event],
                   queue=False, **private)
        target.change(handlers.model_choices, target, model, queue=False, **private)
        keep.click(handlers.keep_button, None, [progress, keep], queue=False, **private)

        # Inputs that only apply in some states say so.
        limit_size.change(lambda on: gr.update(interactive=on), limit_size, max_mb, queue=False, **private)
        limit_images.change(lambda on: gr.update(interactive=on), limit_images, max_images, queue=False, **private)
        image_format.change(lambda f: gr.update(visible=f == "jpg"), image_format, quality, queue=False, **private)
        make_video.change(lambda on: gr.update(visible=on), make_video, result_video, queue=False, **private)

        # The public API: only the video (or link) is required; the rest have the page's defaults.
        api_inputs.wire(d, video)

        timer = gr.Timer(STATUS_REFRESH_S)
        timer.tick(status_panel, None, status, queue=False, **private)
        demo.load(status_panel, None, status, queue=False, **private)
        demo.load(None, None, None, js=footer_js(), queue=False, **private)  # Gradio's footer, translated
    return demo
