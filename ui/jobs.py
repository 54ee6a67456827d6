"""Running one job, for the page and the API alike (_job_events): the pipeline's run in the
job's own result folder, shown in the status panel while it runs, its folder removed if it
does not finish. On ZeroGPU, run is ui.zerogpu's (detection in @spaces.GPU calls);
elsewhere it is pipeline.run. A finished page job leaves what its review needs in that
folder (keep_for_review), recorded per browser session in review.review_sources."""
from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import uuid
from pathlib import Path

from pipeline import Progress, Result, Settings
from pipeline.mask.render import mask_style

from .review import ReviewSource, review_source
from .sources import MAX_INPUT_BYTES, _as_upload, _new_result_dir, _safe_stem
from .status import RUNNING
from .zerogpu import run  # on ZeroGPU, detection in @spaces.GPU calls; elsewhere pipeline.run

log = logging.getLogger("ui")


# -- what a finished job leaves for the review ------------------------------------------
def keep_for_review(source: str, result: Result, settings: Settings, make_video: bool) -> ReviewSource | None:
    """Keep what a review and its re-render need in the job's own result folder (swept
    with it): the run's detections.csv, and the video. An upload is moved there instead of
    being deleted (it leaves Gradio's cache all the same); a Drive download is not kept."""
    folder = result.zip_path.parent
    upload = _as_upload(source)
    if upload is not None:
        video = folder / f"original{upload.suffix.lower()}"
        try:
            shutil.move(str(upload), video)
        except OSError:
            log.exception("could not keep the upload for review")
            return None
    elif "://" in source:
        return None
    else:
        video = Path(source)
    return review_source(video, result.zip_path, folder, 1 if make_video else settings.interval,
                         mask_style(settings))


# -- running a job -----------------------------------------------------------------------
def _job_events(source: str, settings: Settings, cancel: threading.Event | None = None,
                make_video: bool = False, finish: threading.Event | None = None, detect_only: bool = False):
    """Run one job in its own result folder, yielding the pipeline's events. The folder is
    removed if the job does not finish; the job shows in the status panel while it runs.
    closing(): when the caller drops this generator (Stop, a closed tab), the run is closed
    at once, which stops its threads and removes its partial output."""
    out_dir = _new_result_dir()
    output = out_dir / f"{_safe_stem(source)}_mosaic.zip"
    events = run(source, settings, output=output, cancel=cancel, work_dir=out_dir,
                 video_output=output.with_suffix(".mp4") if make_video else None,
                 max_download_bytes=MAX_INPUT_BYTES, finish=finish, detect_only=detect_only)
    job_id = uuid.uuid4().hex
    RUNNING.update(job_id, 0.0, 0, 0)
    finished = False
    try:
        with contextlib.closing(events):
            for event in events:
                if isinstance(event, Progress):
                    RUNNING.update(job_id, event.fps, event.frames_read, event.frames_total)
                finished = isinstance(event, Result)
                yield event
    except BaseException:
        if not finished:
            shutil.rmtree(out_dir, ignore_errors=True)  # nothing half-written stays behind
        raise
    finally:
        RUNNING.finish(job_id)
