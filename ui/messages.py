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

from pipeline.errors import Cancelled, DownloadError, InputError, ModelError, MosaicError, OutputError, SettingsError

from .i18n import DEFAULT_LANGUAGE, EN, tr

log = logging.getLogger("ui")

# The page's own texts for what it does not show as the pipeline words it (ui/i18n.py has
# them in every language; these are the English, for the API and the tests).
DRIVE_UNREACHABLE = tr("err.drive.unreachable")
DRIVE_FAILED = tr("err.drive.failed")
UPLOAD_GONE = tr("err.upload_gone")
MODEL_FAILED = tr("err.model_failed")
NO_DISK_SPACE = tr("err.no_disk_space")
WRITE_FAILED = tr("err.write_failed")
PROCESSING_FAILED = tr("err.processing_failed")
STOPPED = tr("err.stopped")

# The pipeline's prefixes for errors whose text quotes a library or a server path (errors
# made before they carried a key; a keyed error is told by its key).
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


def public_message(err: MosaicError, lang: str = DEFAULT_LANGUAGE) -> str:
    """The one line a caller of the app sees for this error (plain text, not escaped), in
    `lang` (the API's is English). An error with a key is said through the translation
    table; one without is its English text."""
    text = " ".join(str(err).split())
    key = getattr(err, "key", None)
    if isinstance(err, Cancelled):
        return tr("err.stopped", lang)
    if isinstance(err, ModelError):
        log.warning("model error: %s", text)
        return tr("err.int8_unavailable" if key == "err.int8_unavailable" else "err.model_failed", lang)
    if isinstance(err, OutputError):
        log.warning("output error: %s", text)
        no_space = key == "err.disk.not_enough" or text.startswith(_NO_SPACE)
        return tr("err.no_disk_space" if no_space else "err.write_failed", lang)
    if isinstance(err, DownloadError) and (key == "err.drive.raw" or text.startswith(_DRIVE_RAW)):
        # the library's exception text: name the cause instead
        log.warning("drive download: %s", text)
        unreachable = any(w in text.lower() for w in _NETWORK_WORDS)
        return tr("err.drive.unreachable" if unreachable else "err.drive.failed", lang)
    if isinstance(err, InputError) and (key == "err.not_found" or text.startswith(_NOT_FOUND)):
        return tr("err.upload_gone", lang)
    if isinstance(err, (SettingsError, DownloadError, InputError)):  # they quote only the caller's values
        if key in EN:
            return without_paths(" ".join(tr(key, lang, **err.values).split()))
        return without_paths(text)
    log.warning("job failed: %s", text)
    return tr("err.processing_failed", lang)
