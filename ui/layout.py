"""The page: inputs and settings on the left, live progress and results on the right, the
device panel on top. Only wiring here; handlers.py translates events."""
from __future__ import annotations

import gradio as gr

from pipeline.settings import IMAGE_FORMATS, STYLES, Settings

from . import handlers
from .live_tab import build_live_tab
from .status import STATUS_CSS, status_html

STATUS_REFRESH_S = 2.0

PAGE_CSS = STATUS_CSS + """
#job-progress .bar { height: 14px; background: #e5e7eb; border-radius: 7px; overflow: hidden; }
#job-progress .fill { height: 100%; background: #2563eb; transition: width 0.3s; }
#job-progress .text { margin-top: 4px; font-family: monospace; }
"""

INTRO = """# Video person anonymizer
Upload a video (or paste a Google Drive share link). Every person found by YOLO11 is covered
with a mosaic, and every N-th frame goes into a ZIP with `detections.csv` listing what was masked.
"""


def build_demo() -> gr.Blocks:
    d = Settings()  # the pipeline's defaults are the page's defaults
    with gr.Blocks(title="Video person anonymizer", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            status = gr.HTML(status_html(), elem_id="status")
            refresh = gr.Button("Refresh", size="sm", scale=0)
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.File(label="Video", file_types=["video"], elem_id="video-input")
                drive_link = gr.Textbox(label="…or a Google Drive link", value="",
                                        placeholder="https://drive.google.com/file/d/FILE_ID/view")
                interval = gr.Number(label="Capture every N frames", value=d.interval, precision=0, minimum=1)
                scale = gr.Slider(50, 100, value=d.scale_pct, step=5, label="Output resolution (%)")
                with gr.Row():
                    limit_size = gr.Checkbox(label="Cap the ZIP size", value=False)
                    max_mb = gr.Number(label="Size cap (MB)", value=handlers.DEFAULT_CAP_MB, minimum=0)
                with gr.Row():
                    limit_images = gr.Checkbox(label="Cap the image count", value=False)
                    max_images = gr.Number(label="Maximum images", value=handlers.DEFAULT_CAP_IMAGES, precision=0, minimum=0)
                make_video = gr.Checkbox(label="Also make the mosaicked video (every frame, with audio)", value=False)
                with gr.Accordion("Advanced", open=False):
                    image_format = gr.Radio(list(IMAGE_FORMATS), value=d.image_format, label="Format")
                    quality = gr.Slider(1, 100, value=d.jpeg_quality, step=1, label="JPEG quality")
                    style = gr.Radio(list(STYLES), value=d.style, label="Mask style")
                    cells = gr.Slider(2, 60, value=d.mosaic_cells, step=1, label="Mosaic cells across a person (blur strength)")
                    pad = gr.Slider(0, 50, value=d.pad_pct, step=1, label="Padding around each box (%)")
                    hold = gr.Slider(0, 2, value=d.hold_s, step=0.1,
                                     label="Keep people masked across detector misses (seconds)")
                    conf = gr.Slider(0.05, 0.9, value=d.conf, step=0.05, label="Detection confidence (lower masks more)")
                    model = gr.Textbox(label="Model", value="", placeholder=d.model,
                                       info=f"empty = {d.model}; or yolo11n.pt (downloaded on first use), a local .pt path, yolo11n.yaml (untrained, for tests)")
                with gr.Row():
                    start = gr.Button("Start", variant="primary", elem_id="start-button")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
                    sample = gr.Button("Try the sample", elem_id="sample-button")
            with gr.Column(scale=1):
                progress = gr.HTML("", elem_id="progress")
                size_text = gr.Markdown("", elem_id="zip-size")
                gallery = gr.Gallery(label="Latest mosaicked frames", columns=3, height=300, elem_id="gallery")
                result_zip = gr.File(label="Mosaicked frames (ZIP)", elem_id="result-zip", interactive=False)
                result_video = gr.Video(label="Mosaicked video", elem_id="result-video", interactive=False)
                summary = gr.Markdown("", elem_id="summary")

        settings_inputs = [interval, scale, limit_size, max_mb, limit_images, max_images, image_format, quality, style, cells, pad, conf, model, hold]
        outputs = [progress, size_text, gallery, result_zip, summary, result_video]

        run_event = start.click(handlers.start_job, [video, drive_link, *settings_inputs, make_video], outputs,
                                api_visibility="private", concurrency_id="jobs")
        sample_event = sample.click(lambda: (str(handlers.SAMPLE_VIDEO), ""), None, [video, drive_link],
                                    api_visibility="private", queue=False)
        sample_run = sample_event.then(handlers.start_job, [video, drive_link, *settings_inputs, make_video],
                                       outputs, api_visibility="private", concurrency_id="jobs")
        stop.click(handlers.stop_button, None, [progress, summary], cancels=[run_event, sample_run],
                   queue=False, api_visibility="private")

        # The public API: only the video (or link) is required; the rest have the UI defaults.
        api_button = gr.Button(visible=False)
        api_button.click(handlers.process_api, [video, drive_link, *settings_inputs], result_zip,
                         api_name="process", concurrency_id="jobs")

        with gr.Tab("Live"):  # the webcam, masked as it streams (ui/live_tab.py)
            build_live_tab()

        timer = gr.Timer(STATUS_REFRESH_S)
        timer.tick(status_html, None, status, queue=False, api_visibility="private", show_progress="hidden")
        refresh.click(status_html, None, status, queue=False, api_visibility="private")
    return demo
