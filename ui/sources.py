"""Where a job's video comes from and where its results go. The app is public, so a video
is reachable only as an upload in Gradio's cache or as a Google Drive link (pick_source);
local paths, file:// and other schemes are refused with one line that says nothing about
the server's disk. An uploaded original is counted while jobs use it and deleted with its
cache folder when the last one ends (_using_upload). Each job writes into its own folder
under RESULTS_ROOT; folders older than RESULT_TTL_S are swept when a job starts."""
from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from pipeline.errors import InputError
from pipeline.io.source import DRIVE_HOSTS

from .i18n import tr

SAMPLE_VIDEO = Path(__file__).parent / "assets" / "vtest_clip.mp4"
FACES_SAMPLE = Path(__file__).parent / "assets" / "faces_clip.mp4"  # real faces, for the face target
SAMPLES = (SAMPLE_VIDEO, FACES_SAMPLE)
RESULTS_ROOT = Path(os.environ.get("MOSAIC_RESULTS_DIR") or Path(tempfile.gettempdir()) / "mosaic-results")
RESULT_TTL_S = int(os.environ.get("MOSAIC_RESULT_TTL_S", "3600"))  # results older than this are swept
# Largest input accepted, uploaded or from Drive (the app passes it to Gradio's max_file_size).
MAX_INPUT_MB = float(os.environ.get("MOSAIC_MAX_INPUT_MB", "2000"))
MAX_INPUT_BYTES = int(MAX_INPUT_MB * 1e6)
LINK_ONLY = tr("err.link_only")  # English, for the API and the tests; the page says it in its language


# -- the input: an upload or a Drive link ------------------------------------------------
def _drive_link(text: str) -> str:
    """The link as the pipeline gets it: always https?://<a Drive host>/..., so the pipeline
    never reads it as a path. Anything else is refused with one line that neither repeats
    the text nor depends on what exists on the server's disk."""
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise InputError(LINK_ONLY, key="err.link_only")
    lowered = text.lower()
    if not lowered.startswith(("http://", "https://")):
        if not lowered.startswith(tuple(f"{host}/" for host in DRIVE_HOSTS)):
            raise InputError(LINK_ONLY, key="err.link_only")
        text = "https://" + text  # a Drive address pasted without its scheme
    try:
        parsed = urllib.parse.urlsplit(text)
        port = parsed.port
    except ValueError:
        raise InputError(LINK_ONLY, key="err.link_only") from None
    if (parsed.scheme.lower() not in ("http", "https") or (parsed.hostname or "") not in DRIVE_HOSTS
            or parsed.username or parsed.password or port not in (None, 80, 443)):
        raise InputError(LINK_ONLY, key="err.link_only")
    return text


def pick_source(video_file, drive_link) -> str:
    """The job's input: an upload (Gradio hands over a path in its upload cache; the API
    accepts nothing else there) or a Google Drive link. Local paths, file:// and every
    other scheme typed into the link box are refused."""
    link = (drive_link or "").strip() if isinstance(drive_link, str) or drive_link is None else str(drive_link)
    path = video_file if isinstance(video_file, (str, Path)) or video_file is None else getattr(video_file, "name", None)
    if path and link:
        raise InputError(tr("err.both_inputs"), key="err.both_inputs")
    if not path and not link:
        raise InputError(tr("err.no_input"), key="err.no_input")
    return str(path) if path else _drive_link(link)


def _safe_stem(source: str) -> str:
    """A file name stem from user input, reduced to harmless characters."""
    stem = Path(source).stem if "://" not in source else "drive_video"
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._") or "video"
    return stem[:60]


# -- uploaded originals ------------------------------------------------------------------
_upload_users: collections.Counter = collections.Counter()  # jobs using each upload
_upload_lock = threading.Lock()


def _upload_folder() -> Path:
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def _as_upload(source: str) -> Path | None:
    """The file if `source` is an upload in Gradio's cache (<cache>/<hash>/<name>), else
    None: the bundled sample, a Drive link, any other path are never deleted."""
    if "://" in source:
        return None
    try:
        path = Path(source).resolve()
        folder = _upload_folder()
        if path.parent.parent != folder or not path.is_file():
            return None
        if _is_sample(str(path)):
            return None  # a sample's cached copy: public footage, shared by every tab that runs it
    except OSError:
        return None
    return path


def _is_sample(source: str) -> bool:
    """`source` is one of the bundled samples or a cached copy of one (same bytes)."""
    try:
        path = Path(source)
        size = path.stat().st_size
        return any(size == sample.stat().st_size and path.read_bytes() == sample.read_bytes() for sample in SAMPLES)
    except OSError:
        return False


@contextlib.contextmanager
def _using_upload(source: str, job=None):
    """While the block runs, the upload is in use; when the last job using it ends (done,
    failed, stopped, tab closed), it is deleted with its cache folder. Identical uploads
    share one cached file, hence the count. `job` (a handlers._Job), if given, gets
    upload_deleted set when its upload went."""
    upload = _as_upload(source)
    if upload is None:
        yield
        return
    with _upload_lock:
        _upload_users[upload] += 1
    try:
        yield
    finally:
        with _upload_lock:
            _upload_users[upload] -= 1
            last = _upload_users[upload] <= 0
            if last:
                del _upload_users[upload]
                upload.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    upload.parent.rmdir()  # the hash folder, if nothing else is in it
        if job is not None and last:
            job.upload_deleted = True


# -- results -----------------------------------------------------------------------------
def sweep_old_results(now: float | None = None) -> None:
    """Delete result folders older than RESULT_TTL_S."""
    now = time.time() if now is None else now
    if not RESULTS_ROOT.is_dir():
        return
    for folder in RESULTS_ROOT.iterdir():
        try:
            if now - folder.stat().st_mtime > RESULT_TTL_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _new_result_dir() -> Path:
    RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
    sweep_old_results()
    return Path(tempfile.mkdtemp(prefix="job-", dir=RESULTS_ROOT))

