"""What a batch covers: its inputs (files, folders, globs, @lists, Drive links) expanded
into the videos found, each with the candidate output names plan.py chooses from.

  * a file: taken as given (a non-video is reported by the run, not filtered out);
  * a folder: every video inside, recursively, by extension (hidden files, files inside
    OUT_DIR and our own `*_mosaic.*` outputs are left out);
  * a glob (`"clips/*.mp4"`, `"**/*.avi"`): what the shell would have expanded;
  * `@list.txt`: one input per line (`#` comments, blank lines skipped), relative paths
    taken from the list file's folder;
  * a Google Drive folder (or file) link: listed with gdown (names only, nothing is
    downloaded here); each video is fetched by the worker that processes it.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import MosaicError
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
