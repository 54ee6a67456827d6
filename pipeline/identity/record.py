"""The optional per-person record (`--people-record FOLDER`, off by default): each person's
best face picture and when they appear, in a folder of its own, never inside the ZIP or the
video a user shares. It holds unmasked faces, so its README and file names say it is
private. Descriptors are never in it.

    FOLDER/PRIVATE_README.txt        what this is, and that it is not for publishing
    FOLDER/people.csv                person,appearance,from_s,to_s,tracks
    FOLDER/person_003_PRIVATE.jpg    the person's best face view (<= 160 px)
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2

from ..errors import OutputError
from .people import People

README = """PRIVATE: NOT FOR PUBLISHING.
These pictures show people's faces UNMASKED. They were made by the video anonymizer's
optional per-person record ({video}) so that you can check who was grouped as whom.
Do not share this folder; share only the masked ZIP or video.

people.csv: each person's appearances (seconds from the start of the video) and tracks.
person_NNN_PRIVATE.jpg: the person's best face view.
"""


def check_record_folder(folder: Path, outputs: Sequence[Path]) -> None:
    """Before any work: the folder must be new (or empty), not an output, and creatable."""
    folder = Path(folder).expanduser()
    resolved = folder.resolve()
    for output in outputs:
        target = None if output is None else Path(output).resolve()
        if target is not None and (target == resolved or target.is_relative_to(resolved)):
            raise OutputError(f"The per-person record {folder} must be a folder of its own, not where the "
                              "outputs go")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OutputError(f"The per-person record needs a new or empty folder: {folder} is not one")
    parent = folder.parent if not folder.exists() else folder
    if not parent.is_dir():
        raise OutputError(f"Cannot make the per-person record {folder}: {parent} is not a folder")


def write_record(folder: Path, people: People, fps: float, video_name: str) -> Path:
    """Writes the record into a temporary folder beside `folder`, then moves it into place:
    a failed write leaves nothing half-done."""
    folder = Path(folder).expanduser()
    fps = fps or 25.0
    temp = Path(tempfile.mkdtemp(prefix=".people-record-", dir=folder.parent if not folder.exists() else folder))
    try:
        (temp / "PRIVATE_README.txt").write_text(README.format(video=video_name), encoding="utf-8")
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(["person", "appearance", "from_s", "to_s", "tracks"])
        for number in sorted(people.persons):
            person = people.persons[number]
            tracks = sorted((people.tracks[t] for t in person.tracks if people.tracks[t].first >= 0),
                            key=lambda t: t.first)
            for n, track in enumerate(tracks, 1):
                writer.writerow([number, n, f"{track.first / fps:.2f}", f"{track.last / fps:.2f}",
                                 ",".join(str(t) for t in sorted(person.tracks))])
            if person.crop is not None and person.crop.size:
                cv2.imwrite(str(temp / f"person_{number:03d}_PRIVATE.jpg"), person.crop)
        (temp / "people.csv").write_text(table.getvalue(), encoding="utf-8")
        if folder.exists():  # empty: move the files in
            for item in temp.iterdir():
                item.rename(folder / item.name)
            temp.rmdir()
        else:
            temp.rename(folder)
        return folder
    except OSError as err:
        raise OutputError(f"Cannot write the per-person record {folder}: {err.strerror or err}") from err
    finally:
        shutil.rmtree(temp, ignore_errors=True)
