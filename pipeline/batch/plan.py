"""Batch planning: which videos a batch covers, where each one's outputs go, and which are
already done. Nothing here runs a video except `run_item`, the one job every engine (this
process, local worker processes, Ray actors) calls per video.

    items = plan(expand(["videos/", "more/*.mov", "@list.txt"], out_dir), out_dir, make_video=True)

Inputs (`expand`):
  * a file: taken as given (a non-video is reported by the run, not filtered out);
  * a folder: every video inside, recursively, by extension (hidden files, files inside
    OUT_DIR and our own `*_mosaic.*` outputs are left out);
  * a glob (`"clips/*.mp4"`, `"**/*.avi"`): what the shell would have expanded;
  * `@list.txt`: one input per line (`#` comments, blank lines skipped), relative paths
    taken from the list file's folder;
  * a Google Drive folder (or file) link: listed with gdown (names only, nothing is
    downloaded here); each video is fetched by the worker that processes it.

Outputs (`plan`) mirror the input names in OUT_DIR: `<stem>_mosaic.zip` (and
`<stem>_mosaic.mp4` with --video), with a folder input's subfolders kept. Two inputs that
would get the same name (the same stem in two folders, `clip.mp4` beside `clip.avi`) are
told apart by their folders (`a/clip_mosaic.zip`, `b/clip_mosaic.zip`) or by their
extension (`clip.avi_mosaic.zip`), never by overwriting. Every planned output goes through
`outputs.check_outputs` (no output may be an input or another output, folders must be
writable), and an input whose complete output is already there is skipped (resume).
"""
from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import Cancelled, MosaicError, OutputError
from ..io.outputs import WORKING_SUFFIXES, check_outputs, files_written_for
from ..io.source import drive_file_id, looks_like_link, parse_drive_link

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
    ".wmv", ".flv", ".3gp", ".ogv", ".mxf", ".dv",
})
OUTPUT_TAG = "_mosaic"  # <stem>_mosaic.zip, as a single run names its ZIP
GLOB_CHARS = re.compile(r"[*?\[]")
FOLDER_PATH = re.compile(r"^/drive(?:/u/\d+)?/folders/([-\w]{10,})/?$")

# list_drive(link) -> [(path inside the shared folder, Drive file id)]; tests inject their own.
DriveLister = Callable[[str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Found:
    """One input video as found, before its outputs are named."""

    source: str  # a local path, or a Drive file link the worker downloads
    label: str  # how the summary line names it (the path as given or found)
    names: tuple[tuple[str, ...], ...]  # candidate relative output names, shortest first
    key: object  # identity: the same video reached twice is processed once
    error: str | None = None  # an input that could not be expanded (missing, empty folder, ...)


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


# -- expanding inputs ---------------------------------------------------------------------
def expand(specs: Sequence[str], out_dir: str | Path | None = None,
           list_drive: DriveLister | None = None) -> list[Found]:
    """Every video the inputs name, in input order (a folder's files sorted by path), each
    once. An input that names nothing comes back as a Found with `error` set."""
    exclude = _absolute(out_dir) if out_dir is not None else None
    found: list[Found] = []
    for spec in specs:
        found.extend(_expand_one(str(spec), exclude, list_drive or list_drive_link, Path.cwd(), True))
    seen: set = set()
    unique = []
    for item in found:
        if item.error is None and item.key in seen:
            continue
        seen.add(item.key)
        unique.append(item)
    return unique


def _expand_one(spec: str, exclude: Path | None, list_drive: DriveLister, here: Path,
                lists_allowed: bool) -> list[Found]:
    text = spec.strip()
    if not text:
        return []
    if text.startswith("@") and lists_allowed:
        list_path = Path(text[1:]).expanduser()
        return _expand_list(list_path if list_path.is_absolute() else here / list_path, text, exclude, list_drive)
    if looks_like_link(text):
        return _expand_drive(text, list_drive)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = here / path
    if path.is_dir():
        return _expand_folder(path, text, exclude)
    if path.exists() or not GLOB_CHARS.search(text):
        return [_file(path, text, None)]
    matches = sorted(glob.glob(str(path), recursive=True))
    if not matches:
        return [_error(text, f"No file matches {text}")]
    out: list[Found] = []
    for match in matches:
        match_path = Path(match)
        shown = os.path.relpath(match, here) if not Path(text).is_absolute() else match
        if match_path.is_dir():
            out.extend(_expand_folder(match_path, shown, exclude))
        else:
            out.append(_file(match_path, shown, None))
    return out


def _expand_list(list_path: Path, spec: str, exclude: Path | None, list_drive: DriveLister) -> list[Found]:
    try:
        lines = list_path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        return [_error(spec, f"Cannot read the list {list_path}: {reason}")]
    out: list[Found] = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            out.extend(_expand_one(line, exclude, list_drive, list_path.parent, False))
    return out or [_error(spec, f"The list {list_path} names no input")]


def _expand_folder(folder: Path, shown: str, exclude: Path | None) -> list[Found]:
    base = Path(os.path.abspath(folder))
    files = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        root_path = Path(root)
        kept_dirs = []
        for name in sorted(dirs):
            if name.startswith(".") or (exclude is not None and _absolute(root_path / name) == exclude):
                continue
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in names:
            path = root_path / name
            if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            if Path(name).stem.endswith(OUTPUT_TAG):  # our own masked video from an earlier run
                continue
            files.append(path)
    if not files:
        return [_error(shown, f"No video ({', '.join(sorted(VIDEO_EXTENSIONS))}) in the folder {shown}")]
    files.sort(key=lambda p: [part.casefold() for part in p.relative_to(folder).parts])
    return [_file(path, os.path.join(shown, str(path.relative_to(folder))), base) for path in files]


def _file(path: Path, shown: str, base: Path | None) -> Found:
    absolute = Path(os.path.abspath(path))
    if base is not None:
        inner = absolute.relative_to(base).parts if _inside(absolute, base) else (absolute.name,)
        outer = base.parts[1:]
    else:
        inner, outer = (absolute.name,), absolute.parent.parts[1:]
    return Found(source=str(path), label=shown, names=_candidates(inner, outer), key=_identity(path))


def _expand_drive(link: str, list_drive: DriveLister) -> list[Found]:
    try:
        folder = drive_folder_id(link) or "drive"  # refuses every host but Google Drive's first
        listing = list_drive(link)
    except MosaicError as err:
        return [_error(link, str(err))]
    except Exception as err:  # noqa: BLE001 - gdown and requests raise many types; say it in one line
        text = " ".join(str(err).split())[:200]
        return [_error(link, f"Cannot list the Google Drive link ({type(err).__name__}: {text})")]
    videos = [(path, file_id) for path, file_id in listing
              if Path(path).suffix.lower() in VIDEO_EXTENSIONS and not Path(path).name.startswith(".")]
    if not videos:
        return [_error(link, "No video in the Google Drive folder")]
    out = []
    for path, file_id in sorted(videos, key=lambda entry: entry[0].casefold()):
        inner = tuple(_safe_part(part) for part in Path(path).parts if part not in ("", ".", ".."))
        out.append(Found(
            source=f"https://drive.google.com/uc?id={file_id}", label=f"{link} {path}",
            names=_candidates(inner or (file_id,), (folder,)), key=("drive", file_id),
        ))
    return out


def _error(spec: str, message: str) -> Found:
    return Found(source=spec, label=spec, names=(), key=("error", spec), error=message)


def _candidates(inner: tuple[str, ...], outer: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Output names from shortest to longest: the stem, then the name with its extension,
    then each again under one more of the folders above."""
    *inside, name = inner
    stem = Path(name).stem or name
    out = []
    for depth in range(len(outer) + 1):
        prefix = tuple(outer[len(outer) - depth:]) + tuple(inside)
        out.append(prefix + (stem,))
        if stem != name:
            out.append(prefix + (name,))
    return tuple(out)


def _identity(path: Path) -> object:
    try:
        stat = path.stat()
        return ("inode", stat.st_dev, stat.st_ino)
    except OSError:
        return ("path", str(_absolute(path)))


def _absolute(path: str | Path) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(Path(path).expanduser()))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _safe_part(part: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", part).strip() or "_"


# -- Google Drive -------------------------------------------------------------------------
def drive_folder_id(link: str) -> str | None:
    """The folder id of a Google Drive folder link (drive/folders/ID, drive/u/0/folders/ID),
    None for any other Drive link. A link to any other host is refused, as for files."""
    parsed = parse_drive_link(link)
    match = FOLDER_PATH.match(parsed.path)
    return match.group(1) if match else None


def list_drive_link(link: str) -> list[tuple[str, str]]:
    """(path inside the folder, file id) for every file of a shared Drive folder, listed by
    gdown without downloading; a Drive file link lists as its one file."""
    folder_id = drive_folder_id(link)
    import gdown

    if folder_id is None:  # a file link: its name decides the output name
        file_id = drive_file_id(link)
        entry = gdown.download(id=file_id, skip_download=True, quiet=True)
        name = getattr(entry, "path", None) or f"{file_id}.mp4"
        return [(Path(name).name, file_id)]
    entries = gdown.download_folder(id=folder_id, skip_download=True, quiet=True) or []
    return [(entry.path, entry.id) for entry in entries]


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
