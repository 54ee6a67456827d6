"""Video person anonymizer: decode -> detect people (YOLO11) -> mosaic -> streaming ZIP.

    from pipeline import Settings, run
    for event in run("clip.mp4", Settings(interval=5)):
        ...  # Progress events, then one Result
"""
from .errors import Cancelled, DownloadError, InputError, ModelError, MosaicError, OutputError, SettingsError
from .events import Progress, Result
from .runner import default_output, run, run_to_result
from .settings import Settings

__all__ = [
    "Cancelled", "DownloadError", "InputError", "ModelError", "MosaicError", "OutputError",
    "SettingsError", "Progress", "Result", "Settings", "default_output", "run", "run_to_result",
]
