"""What a caller of the public app is told when a job fails: one line, plain text, that says
what happened and what to do, and never a server path, a temp-folder name, a stack trace or
a library's own exception text. The full error goes to the server log for the operator.

The pipeline's messages are written for the CLI, whose user owns the machine: they name
files and quote the download library. `public_message` is the one place that turns them
into text for the page and the API; callers escape it once, where it becomes HTML.
"""
from __future__ import annotations

import logging
import re

from pipeline.errors import (
    Cancelled, DownloadError, InputError, ModelError, MosaicError, OutputError, SettingsError,
)

log = logging.getLogger("ui")

DRIVE_UNREACHABLE = "Cannot reach Google Drive: check the connection or upload the file."
DRIVE_FAILED = "Google Drive did not send the file: try again later, or upload the file."
UPLOAD_GONE = "The uploaded video is no longer on the server: upload it again."
MODEL_FAILED = (
    "The detection model could not be loaded or run on this server. If you run this app, "
    "check MOSAIC_MODEL / MOSAIC_EXTRA_MODELS and that their weights are present; the server "
    "log has the details."
)
NO_DISK_SPACE = (
    "The server does not have enough free disk space for this job: set a size cap, a larger "
    "interval or a smaller resolution, or try again later."
)
WRITE_FAILED = "Writing the result failed on the server: try again later."
PROCESSING_FAILED = "Processing failed on the server: try again, or try another video."
STOPPED = "Stopped."

# The pipeline's prefixes for errors whose text quotes a library or a server path.
_DRIVE_RAW = "Download from Google Drive failed ("
_NOT_FOUND = "Input file not found"
_NO_SPACE = "Not enough disk space"
_NETWORK_WORDS = ("connection", "timeout", "timed out", "resolve", "resolution", "maxretry",
                  "ssl", "proxy", "unreachable", "network")
# An absolute or home-relative path: a / or \ not preceded by a word character, ':' or '/'
# (so URLs stay whole), then path segments. Replaced by its last segment.
_PATH = re.compile(r"(?<![\w:/\\.~-])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"<>|()]+)+[/\\]?")


def without_paths(text: str) -> str:
    """`text` with every absolute path reduced to its file name."""
    return _PATH.sub(lambda m: m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1], text)


def public_message(err: MosaicError) -> str:
    """The one line a caller of the app sees for this error (plain text, not escaped)."""
    text = " ".join(str(err).split())
    if isinstance(err, Cancelled):
        return STOPPED
    if isinstance(err, SettingsError):  # our validation; it quotes only the caller's values
        return without_paths(text)
    if isinstance(err, ModelError):
        log.warning("model error: %s", text)
        return MODEL_FAILED
    if isinstance(err, OutputError):
        log.warning("output error: %s", text)
        return NO_DISK_SPACE if text.startswith(_NO_SPACE) else WRITE_FAILED
    if isinstance(err, DownloadError):
        if text.startswith(_DRIVE_RAW):  # the library's exception text: name the cause instead
            log.warning("drive download: %s", text)
            return DRIVE_UNREACHABLE if any(w in text.lower() for w in _NETWORK_WORDS) else DRIVE_FAILED
        return without_paths(text)
    if isinstance(err, InputError):
        if text.startswith(_NOT_FOUND):
            return UPLOAD_GONE
        return without_paths(text)
    log.warning("job failed: %s", text)
    return PROCESSING_FAILED
