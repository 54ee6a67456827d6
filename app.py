"""Entry point: `python app.py` serves the page locally; Hugging Face Spaces runs it as-is."""
try:  # first, before torch: on a ZeroGPU Space `spaces` patches CUDA; elsewhere its decorator does nothing
    import spaces  # noqa: F401
except ImportError:
    pass

import os
import threading

from ui import PAGE_CSS, build_demo, page_translations
from ui.handlers import JOB_SLOTS
from ui.sources import MAX_INPUT_BYTES, RESULTS_ROOT, sweep_old_results
from ui import webrtc
from ui.zerogpu import warm_model  # on ZeroGPU: the model on the CPU, moved to CUDA in each GPU call

# One job at a time per GPU by default (MOSAIC_CONCURRENCY): jobs share one model and one device.
demo = build_demo()
demo.queue(default_concurrency_limit=JOB_SLOTS)

if __name__ == "__main__":
    sweep_old_results()
    threading.Thread(target=warm_model, name="model-warmup", daemon=True).start()
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        css=PAGE_CSS,
        max_file_size=MAX_INPUT_BYTES,  # the same limit applies to Drive downloads
        allowed_paths=[str(RESULTS_ROOT)],
        i18n=page_translations(),  # the page in the browser's language (ui/i18n.py)
        prevent_thread_lock=True,  # to add the WebRTC signalling routes to its server first
    )
    webrtc.mount(demo.app)  # POST /webrtc/offer etc. on the same server (ui/webrtc.py)
    demo.block_thread()
