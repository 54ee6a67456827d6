"""Batch planning: where each video's outputs go, and which are already done. Nothing here
runs a video except `run_item`, the one job every engine (this process, local worker
processes, Ray actors) calls per video.

    items = plan(expand(["videos/", "more/*.mov", "@list.txt"], out_dir), out_dir, make_video=True)

Outputs (`plan`) mirror the input names (inputs.py's `expand`) in OUT_DIR: `<stem>_mosaic.zip`
(and `<stem>_mosaic.mp4` with --video), with a folder input's subfolders kept. Two inputs that
would get the same name (the same stem in two folders, `clip.mp4` beside `clip.avi`) are
told apart by their folders (`a/clip_mosaic.zip`, `b/clip_mosaic.zip`) or by their
extension (`clip.avi_mosaic.zip`), never by overwriting. Every planned output goes through
`outputs.check_outputs` (no output may be an input or another output, folders must be
writable), and an input whose complete output is already there is skipped (resume).
"""
from __future__ import annotations

import contextlib
import os
import threading
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import Cancelled, MosaicError, OutputError
from ..io.outputs import WORKING_SUFFIXES, check_outputs, files_written_for
from ..io.source import looks_like_link
from .inputs import OUTPUT_TAG, Found, _absolute


@dataclass(frozen=True)
class Item:
    """One line of the batch: a video, its planned outputs, and what to do with it."""

    index: int  # position in the batch: summary lines come out in this order
    source: str
    label: str
    zip_path: Path | None
    video_path: Path | None = None
    state: str = "todo"  # todo | skipped (complete output found) | failed (not run at all)
    note: str = ""  # why skipped or failed

    def outputs(self) -> list[Path]:
        return [p for p in (self.zip_path, self.video_path) if p is not None]


# -- planning outputs -----------------------------------------------------------------------
def output_names(found: Sequence[Found]) -> list[tuple[str, ...] | None]:
    """One relative output name per input, none two alike (compared case-insensitively, for
    case-insensitive file systems): inputs that clash move up their ladder of names together
    until they differ."""
    level = [0] * len(found)
    names: list[tuple[str, ...] | None] = [None] * len(found)
    active = [i for i, f in enumerate(found) if f.error is None and f.names]
    while True:
        for i in active:
            names[i] = found[i].names[level[i]]
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in active:
            groups.setdefault(tuple(p.casefold() for p in names[i]), []).append(i)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            return names
        moved = False
        for group in clashes:
            for i in group:
                if level[i] + 1 < len(found[i].names):
                    level[i] += 1
                    moved = True
        if not moved:  # names exhausted (only case differs): number the later ones
            for group in clashes:
                for n, i in enumerate(group[1:], start=2):
                    *head, last = names[i]
                    names[i] = (*head, f"{last}~{n}")
            return names


def plan(found: Sequence[Found], out_dir: str | Path, make_video: bool = False) -> list[Item]:
    """Name every output in OUT_DIR, refuse the unsafe ones per video, and mark the videos
    whose complete output is already there as skipped. Raises OutputError when OUT_DIR
    itself cannot be written (nothing in the batch could be)."""
    out_dir = Path(os.path.abspath(Path(out_dir).expanduser()))  # workers may run elsewhere
    check_outputs([], [out_dir / ".mosaic-batch-probe"])  # OUT_DIR is a folder we can write in
    items = []
    for index, (entry, name) in enumerate(zip(found, output_names(found))):
        if entry.error is not None or name is None:
            items.append(Item(index, entry.source, entry.label, None, None, "failed", entry.error or "Nothing to do"))
            continue
        folder = out_dir.joinpath(*name[:-1])
        zip_path = folder / f"{name[-1]}{OUTPUT_TAG}.zip"
        video_path = folder / f"{name[-1]}{OUTPUT_TAG}.mp4" if make_video else None
        items.append(Item(index, entry.source, entry.label, zip_path, video_path))
    items = _refuse_unsafe(items)
    return [_resume_state(item) for item in items]


def _refuse_unsafe(items: list[Item]) -> list[Item]:
    """check_outputs on every planned output, called only where a clash is possible (outputs
    sharing a file identity with an input or another output, or one call per output folder
    for the write probe), so a batch of thousands is not checked pair by pair."""
    inputs = {i.index: Path(i.source) for i in items if i.state == "todo" and not looks_like_link(i.source)}
    by_key: dict[object, list[tuple[int, Path]]] = {}
    for index, path in inputs.items():
        for key in _keys(path):
            by_key.setdefault(key, []).append((index, path))
    problems: dict[int, str] = {}
    written_keys: dict[object, int] = {}
    for item in items:
        if item.state != "todo":
            continue
        related: list[Path] = []
        clashing: set[int] = set()
        for output in item.outputs():
            for written in files_written_for(output):
                for key in _keys(written):
                    related.extend(path for _, path in by_key.get(key, ()))
                    other = written_keys.setdefault(key, item.index)
                    if other != item.index:
                        clashing.add(other)
        inputs_to_check = list(dict.fromkeys(related))
        outputs_to_check = [p for other in sorted(clashing) for p in items[other].outputs()] + item.outputs()
        if inputs_to_check or clashing:
            try:
                check_outputs(inputs_to_check, outputs_to_check)
            except OutputError as err:
                problems[item.index] = str(err)
    folders: dict[Path, list[int]] = {}
    for item in items:
        if item.state == "todo" and item.index not in problems:
            for output in item.outputs():
                folders.setdefault(_absolute(output.parent), []).append(item.index)
    for members in folders.values():
        first = items[members[0]]
        try:
            check_outputs([], [first.outputs()[0].parent / ".mosaic-batch-probe"])
        except OutputError as err:
            for index in members:
                problems.setdefault(index, str(err))
    return [replace(item, state="failed", note=problems[item.index]) if item.index in problems else item
            for item in items]


def _keys(path: Path) -> list[object]:
    keys: list[object] = [("path", str(_absolute(path)))]
    with contextlib.suppress(OSError):
        stat = path.stat()
        keys.append(("inode", stat.st_dev, stat.st_ino))
    return keys


# -- resume -------------------------------------------------------------------------------
def is_complete(item: Item) -> bool:
    """The outputs are all there under their final names (the sinks rename only a finished
    file) and the ZIP's central directory reads back."""
    if item.zip_path is None or not item.zip_path.is_file():
        return False
    if item.video_path is not None and not (item.video_path.is_file() and item.video_path.stat().st_size > 0):
        return False
    try:
        with zipfile.ZipFile(item.zip_path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _resume_state(item: Item) -> Item:
    if item.state != "todo":
        return item
    if is_complete(item):
        done = " and ".join(str(p) for p in item.outputs())
        return replace(item, state="skipped",
                       note=f"Skipped: the complete output is already there ({done}); delete it to redo this video.")
    remove_working_files(item)  # a partial output of an earlier, interrupted batch: redone
    return item


def remove_working_files(item: Item) -> None:
    """The `.partial` files a run writes beside its outputs (left by a killed worker)."""
    for output in item.outputs():
        for path in files_written_for(output):
            if path.name.endswith(WORKING_SUFFIXES):
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)


# -- summary lines --------------------------------------------------------------------------
def skipped_line(item: Item) -> dict:
    return {"input": item.label, "status": "skipped", "zip": str(item.zip_path),
            "video": str(item.video_path) if item.video_path else None, "message": item.note}


def failed_line(item: Item, error: str) -> dict:
    return {"input": item.label, "status": "failed", "error": error}


def line_for_planned(item: Item) -> dict | None:
    """The summary line of an item the plan already settled (skipped or failed), else None."""
    if item.state == "skipped":
        return skipped_line(item)
    if item.state == "failed":
        return failed_line(item, item.note)
    return None


# -- one video (every engine calls this, in whatever process holds the model) -------------------
@dataclass
class JobOptions:
    """What every video of a batch shares besides the Settings."""

    max_download_bytes: int | None = None
    work_dir: str | None = None  # where runs make their temporary folders (default: the system's)


def run_item(item: Item, settings, options: JobOptions | None = None,
             cancel: threading.Event | None = None,
             on_progress: Callable[[int, int, int], None] | None = None, detector=None) -> dict:
    """Run one video to its planned outputs and return its summary line. Errors of the
    video become a `failed` line (the batch goes on); Cancelled and KeyboardInterrupt are
    raised (the batch stops). `on_progress(index, frames_read, frames_total)`."""
    from ..events import Progress, Result
    from ..jobs.runner import run

    options = options or JobOptions()
    if hasattr(item, "run"):  # a segment of one long video (segments.py): its own job
        return item.run(settings, options, cancel, on_progress, detector)
    try:
        result = None
        events = run(item.source, settings, output=item.zip_path, video_output=item.video_path,
                     cancel=cancel, detector=detector, work_dir=options.work_dir,
                     max_download_bytes=options.max_download_bytes)
        with contextlib.closing(events):
            for event in events:
                if isinstance(event, Result):
                    result = event
                elif isinstance(event, Progress) and on_progress is not None and event.stage == "processing":
                    on_progress(item.index, event.frames_read, event.frames_total)
        if result is None:
            return failed_line(item, "The run ended without a result")
        return {"input": item.label, "status": "done", **result.summary()}
    except Cancelled:
        raise
    except MosaicError as err:
        return failed_line(item, str(err))
    except Exception as err:  # noqa: BLE001 - one video's bug must not end the whole batch
        return failed_line(item, f"Unexpected {type(err).__name__}: {' '.join(str(err).split())[:300]}")


def count_failed(lines: Iterable[dict]) -> int:
    return sum(1 for line in lines if line.get("status") == "failed")
