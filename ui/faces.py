"""Face photos from the page and the API ("Keep visible: photos of faces" / "Hide only:
photos of faces") to Settings.keep_faces / only_faces. Only uploads are taken: a path on
the server typed into the API is refused, like a video's. The photos are read once, at the
start of the job; their descriptors never leave the run's memory (pipeline/identity/)."""
from __future__ import annotations

from pathlib import Path

from pipeline import Settings
from pipeline.errors import InputError

from .i18n import tr
from .sources import _as_upload


def face_photos(files) -> tuple[Path, ...]:
    """Gradio's value of a multiple-file input (None, a path, file objects or paths) as
    upload paths; anything that is not an upload is one InputError."""
    if files is None or files == "":
        return ()
    if not isinstance(files, (list, tuple)):
        files = [files]
    paths = []
    for item in files:
        path = item if isinstance(item, (str, Path)) else getattr(item, "name", None) or getattr(item, "path", None)
        if not path:
            continue
        upload = _as_upload(str(path))
        if upload is None:
            raise InputError(tr("err.face_photo_upload"), key="err.face_photo_upload")
        paths.append(upload)
    return tuple(paths)


def with_faces(settings: Settings, keep_files=None, only_files=None) -> Settings:
    """The settings with the uploaded photos of people to keep visible / to hide only
    (both at once: Settings refuses it)."""
    keep, only = face_photos(keep_files), face_photos(only_files)
    if not keep and not only:
        return settings
    return settings.replace(keep_faces=keep, only_faces=only)
