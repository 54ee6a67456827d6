"""Where the video comes from: a local path, or a Google Drive share link fetched with gdown
into the job's own folder. Only Google Drive hosts are ever contacted."""
from __future__ import annotations

import os
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import Cancelled, DownloadError, InputError, Message

DRIVE_HOSTS = ("drive.google.com", "docs.google.com", "drive.usercontent.google.com")
LINK_HELP = Message("Use a Google Drive share link such as https://drive.google.com/file/d/FILE_ID/view",
                    "err.drive.link_help")


def looks_like_link(text: str) -> bool:
    return "://" in text or text.strip().lower().startswith(("www.", "drive.google", "docs.google"))


def parse_drive_link(link: str) -> urllib.parse.ParseResult:
    """The link parsed, when it is an http(s) link to a Google Drive host (a missing scheme
    means https); anything else, credentials or an odd port included, is refused."""
    text = link.strip()
    if not text.lower().startswith(("http://", "https://")):
        text = "https://" + text
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme not in ("http", "https") or (parsed.hostname or "") not in DRIVE_HOSTS:
        raise DownloadError(f"Only Google Drive links are accepted, not '{link.strip()[:100]}'. {LINK_HELP}",
                            key="err.drive.not_drive", values={"link": link.strip()[:100], "help": LINK_HELP})
    if parsed.username or parsed.password or parsed.port not in (None, 443, 80):
        raise DownloadError(f"Unexpected Google Drive link '{link.strip()[:100]}'. {LINK_HELP}",
                            key="err.drive.unexpected", values={"link": link.strip()[:100], "help": LINK_HELP})
    return parsed


def drive_file_id(link: str) -> str:
    """The Drive file id of a share link (/file/d/ID/view, open?id=ID, uc?id=ID, ...).
    Anything that is not an http(s) link to a Google Drive host is refused."""
    import gdown.parse_url

    parsed = parse_drive_link(link)
    text = parsed.geturl()
    file_id = None
    if parsed.hostname == "drive.usercontent.google.com":  # download/uc?id=ID form
        file_id = (urllib.parse.parse_qs(parsed.query).get("id") or [None])[0]
    else:
        file_id, _ = gdown.parse_url.parse_url(text)
    if not file_id or not all(c.isalnum() or c in "-_" for c in file_id):
        raise DownloadError(f"No file id in '{link.strip()[:100]}'. {LINK_HELP}",
                            key="err.drive.no_id", values={"link": link.strip()[:100], "help": LINK_HELP})
    return file_id


@dataclass
class DownloadState:
    """Shared between the download thread and the progress loop."""

    bytes_done: int = 0
    bytes_total: int | None = None
    path: Path | None = None
    error: BaseException | None = None
    finished: bool = False


def download_message(state: DownloadState) -> Message:
    """How far a download is, for people: MB so far, of the total when Drive gave it."""
    done_mb = state.bytes_done / 1e6
    if state.bytes_total:
        total_mb = state.bytes_total / 1e6
        return Message(f"Downloading from Google Drive: {done_mb:.1f} MB of {total_mb:.1f} MB",
                       "progress.download_of", done_mb=done_mb, total_mb=total_mb)
    return Message(f"Downloading from Google Drive: {done_mb:.1f} MB", "progress.download", done_mb=done_mb)


def _gdown_fetch(file_id: str, dest_dir: Path, progress: Callable[[int, int | None], None],
                 cancel: threading.Event) -> Path:
    import gdown

    output = gdown.download(
        id=file_id, output=str(dest_dir) + os.sep, quiet=True, progress=progress,
        timeout=(15, 60), retries=2, cancel=cancel,
    )
    if not output:
        raise DownloadError("Google Drive returned nothing for this link", key="err.drive.nothing")
    return Path(output)


def download_drive_video(
    link: str,
    dest_dir: Path,
    state: DownloadState,
    cancel: threading.Event,
    max_bytes: int | None = None,
    fetch: Callable[..., Path] = _gdown_fetch,
) -> None:
    """Download into dest_dir, updating `state`; meant to run in its own thread. Errors are
    stored in state.error as our own types with one clear line."""
    try:
        file_id = drive_file_id(link)

        def on_progress(done: int, total: int | None) -> None:
            state.bytes_done, state.bytes_total = done, total
            if cancel.is_set():
                raise Cancelled("Download cancelled")
            if max_bytes is not None and max(done, total or 0) > max_bytes:
                raise DownloadError(
                    f"The Drive file is larger than the {max_bytes / 1e6:.0f} MB download limit",
                    key="err.drive.too_large", values={"limit_mb": max_bytes / 1e6},
                )

        path = fetch(file_id, dest_dir, on_progress, cancel)
        _reject_web_page(path)
        state.path = path
    except (DownloadError, InputError, Cancelled) as err:
        state.error = err
    except Exception as err:  # gdown and requests raise many types; say it in one line
        state.error = _explain(err)
    finally:
        state.finished = True


def _explain(err: Exception) -> DownloadError:
    name = type(err).__name__
    text = " ".join(str(err).split())[:200]
    if "Cancel" in name:
        return Cancelled("Download cancelled")
    if name == "FileURLRetrievalError" or "permission" in text.lower():
        return DownloadError(
            "Google Drive would not give this file: it is private, deleted, or over its download "
            "quota. Share it as 'Anyone with the link' and try again.", key="err.drive.refused"
        )
    # the library's own words: the page names the cause instead (ui/messages.py)
    return DownloadError(f"Download from Google Drive failed ({name}: {text})", key="err.drive.raw",
                         values={"name": name, "text": text})


def _reject_web_page(path: Path) -> None:
    """Drive answers some failures (quota, sign-in, virus scan) with an HTML page."""
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise DownloadError(
            "Google Drive returned a web page instead of the video (sign-in, quota or a "
            "private file). Share it as 'Anyone with the link' and try again.", key="err.drive.web_page"
        )
    if not head:
        raise InputError("The downloaded file is empty", key="err.download_empty")
