"""Planning and checking a run's output paths before any work starts.

For a privacy tool the input is often the only copy of the footage: an output that is the
input (under any spelling: `./clip.mp4`, a symlink, a hard link) would replace it, and two
outputs that are one file would overwrite each other. Both are refused up front, as are
folders that cannot be written, so a run never fails after minutes of work on a path that
was wrong from the start. The checks take lists so a batch of jobs can pass every output
it plans at once.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import OutputError

KEPT_SUFFIX = "_partial"  # marks what "stop and keep" saved: clip_mosaic.zip -> clip_mosaic_partial.zip
# Working files the sinks write beside an output before renaming (zip_sink, video_sink).
WORKING_SUFFIXES = (".partial", ".video.partial")


class OutputCollision(OutputError):
    """An output would be the same file as an input or as another output of the run."""


def kept_path(path: str | Path) -> Path:
    """Where "stop and keep what is done" puts an output: `<stem>_partial<suffix>` beside it,
    so a cut-short result never passes for a whole one nor replaces a previous whole one."""
    path = Path(path)
    return path.with_name(f"{path.stem}{KEPT_SUFFIX}{path.suffix}")


def files_written_for(path: str | Path) -> list[Path]:
    """Every file a run may write for the output `path`: the output, the name it gets when
    the user stops and keeps, and the working files of both."""
    path = Path(path)
    finals = [path, kept_path(path)]
    return finals + [p.with_name(p.name + suffix) for p in finals for suffix in WORKING_SUFFIXES]


def check_outputs(inputs: Sequence[str | Path], outputs: Sequence[str | Path]) -> list[Path]:
    """Refuse, with one line naming both paths, an output that is the same file as an input
    or as another output, an output that is a folder, and an output whose folder cannot be
    written. Returns the outputs as absolute paths. Creates nothing (missing folders are
    made when the output is opened); the write probe is removed at once."""
    planned = [(Path(out), _absolute(out)) for out in outputs]
    for given, _ in planned:
        for source in inputs:
            for written in files_written_for(given):
                if _same_file(written, source):
                    role = "" if written == given else f" (its working file {written.name})"
                    raise OutputCollision(
                        f"The output {given}{role} is the same file as the input {source}: choose "
                        "another output name; an input is never overwritten."
                    )
    for i, (given, absolute) in enumerate(planned):
        for other, _ in planned[:i]:
            if any(_same_file(a, b) for a in files_written_for(given) for b in files_written_for(other)):
                raise OutputCollision(
                    f"Two outputs of this run are the same file: {other} and {given}; give each its own name."
                )
    try:
        for given, absolute in planned:
            if absolute.is_dir():
                raise OutputError(f"Cannot write {given}: it is a folder; give a file name.")
        for folder, given in _folders_to_probe(planned):
            _ensure_writable(folder, given)
    except OSError as err:  # a name too long, a loop of links, ...: still one clear line
        raise OutputError(f"Cannot write {err.filename or outputs[0]}: {err.strerror or err}.") from err
    return [absolute for _, absolute in planned]


def _absolute(path: str | Path) -> Path:
    """The path with `~`, `.` and `..` and every existing symlink resolved."""
    path = Path(path).expanduser()
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of links: compare the spelled-out path
        return Path(os.path.abspath(path))


def _same_file(a: str | Path, b: str | Path) -> bool:
    """One file under two spellings: equal once resolved, or (when both exist) the same
    inode, which also catches hard links and case-insensitive file systems."""
    if _absolute(a) == _absolute(b):
        return True
    try:
        return os.path.samefile(Path(a).expanduser(), Path(b).expanduser())
    except OSError:  # one of them does not exist (yet): resolved paths were the whole answer
        return False


def _folders_to_probe(planned: Iterable[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """(nearest existing ancestor of each output, that output), one entry per folder."""
    seen: dict[Path, Path] = {}
    for given, absolute in planned:
        folder = next((p for p in absolute.parents if p.exists()), Path(absolute.anchor))
        seen.setdefault(folder, given)
    return list(seen.items())


def _ensure_writable(folder: Path, output: Path) -> None:
    """`folder` is where the output's missing folders will be made (or its own folder).
    Permission bits alone do not answer (root ignores them, a read-only mount does not show
    in them), so a probe file is also created and removed; its error names the cause."""
    if not folder.is_dir():
        raise OutputError(f"Cannot write {output}: {folder} is a file, not a folder.")
    reason = None if os.access(folder, os.W_OK | os.X_OK) else "no permission to write there"
    try:
        handle, probe = tempfile.mkstemp(prefix=".mosaic-write-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or str(err)
    if reason:
        raise OutputError(f"Cannot write {output}: the folder {folder} is not writable ({reason}).")


@contextlib.contextmanager
def as_output_error():
    """A raw OS error from opening an output (NotADirectoryError, PermissionError, ...)
    becomes our OutputError: one clear line, never a traceback."""
    try:
        yield
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise OutputError(f"Cannot write{where}: {err.strerror or err}") from err
