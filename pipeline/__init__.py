"""Video person anonymizer: decode -> detect people (YOLO11) -> mosaic -> streaming ZIP.

    from pipeline import Settings, run
    for event in run("clip.mp4", Settings(interval=5)):
        ...  # Progress events, then one Result

Pass `cancel` (remove everything) or `finish` (stop and keep what is done, under
`kept_path()` names; Result.stop_reason == USER_STOP) to stop a run from another thread.
"""
from .errors import Cancelled, DownloadError, InputError, ModelError, MosaicError, OutputError, SettingsError
from .events import COMPLETED, IMAGE_CAP, NO_PERSON_WARNING, SIZE_CAP, USER_STOP, Progress, Result
from .io.outputs import kept_path
from .jobs.runner import default_output, run, run_to_result
from .settings import Settings

__all__ = [
    "Cancelled", "DownloadError", "InputError", "ModelError", "MosaicError", "OutputError",
    "SettingsError", "Progress", "Result", "Settings", "default_output", "run", "run_to_result",
    "COMPLETED", "SIZE_CAP", "IMAGE_CAP", "USER_STOP", "NO_PERSON_WARNING", "kept_path",
]
