"""Errors of our own types: the CLI and the UI turn each into one clear line.

`str(err)` is that line in English, as the CLI and the API show it. An error the page's users
meet also carries a translation `key` and the `values` its text is made of, so the page can
say it in the reader's language (ui/i18n.py holds the texts); without a key the page shows
the English line. `Message` does the same for texts that are not errors (warnings, progress
notes, the parts of a settings error)."""
from __future__ import annotations

from typing import Any


class Message(str):
    """An English text that also carries a translation key and its values. It is a plain
    `str` everywhere else (joined, printed, compared), so callers that only want English
    need not know about it."""

    key: str | None
    values: dict[str, Any]

    def __new__(cls, text: str, key: str | None = None, **values: Any) -> "Message":
        message = super().__new__(cls, text)
        message.key = key
        message.values = values
        return message

    def __reduce__(self):  # pickled with its key and values, not as a bare str
        return (_message, (str(self), self.key, self.values))


def _message(text: str, key: str | None, values: dict[str, Any]) -> Message:
    return Message(text, key, **values)


class MosaicError(Exception):
    """Base for every failure a user can act on. `str(err)` is the English message to show;
    `key` and `values`, when given, say the same for a translation."""

    def __init__(self, *args: Any, key: str | None = None, values: dict[str, Any] | None = None):
        super().__init__(*args)
        self.key = key
        self.values = dict(values or {})


class SettingsError(MosaicError):
    """A setting is out of range; raised before any work starts."""


class InputError(MosaicError):
    """The input is not a readable video (missing, not a video, truncated, no frames)."""


class DownloadError(MosaicError):
    """A Google Drive link could not be fetched as a video."""


class ModelError(MosaicError):
    """The detection model could not be loaded or run."""


class OutputError(MosaicError):
    """The result could not be written (disk full, unwritable folder)."""


class Cancelled(MosaicError):
    """The run was cancelled by the user; partial output has been removed."""
