"""Errors of our own types: the CLI and the UI turn each into one clear line."""


class MosaicError(Exception):
    """Base for every failure a user can act on. `str(err)` is the message to show."""


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
