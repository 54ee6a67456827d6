"""Streaming ZIP output: each image goes into the archive as soon as it is encoded.

The archive is written as `<name>.partial` and renamed only when finished, so a failed or
cancelled run never leaves something that looks like a result. A size cap is enforced on
the final file size, central directory and detections.csv included: an image that would
push the finished ZIP over the cap is refused, and the caller stops there.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
import zipfile
from pathlib import Path

from ..errors import OutputError
from .detections_csv import CSV_HEADER
from .sink import Sink

_LOCAL_HEADER = 30  # fixed part of a local file header (zipfile.sizeFileHeader)
_CENTRAL_HEADER = 46  # fixed part of a central directory entry
_END_RECORDS = 22 + 56 + 20  # end record, plus zip64 end records in case they are needed
_CSV_NAME = "detections.csv"


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def _deflate_bound(raw: int) -> int:
    """Deflate never grows data by more than this (stored blocks: 5 bytes per 16 KiB)."""
    return raw + 5 * (raw // 16384 + 1) + 64


class ZipSink(Sink):
    """`with ZipSink(path, max_bytes) as sink: sink.add_image(name, data, rows)`.
    Leaving the block normally finalizes the ZIP; leaving it by an exception removes it."""

    def __init__(self, path: str | Path, max_bytes: int | None = None, temp_dir: str | Path | None = None):
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + ".partial")
        self.max_bytes = max_bytes
        self.images = 0
        self.rows = 0  # detections.csv rows (one per masked box) so far, header not counted
        self._central_bytes = 0  # central directory entries for what is written so far
        self._csv_raw_bytes = 0
        self._zip = self._csv_file = None
        try:
            self.partial_path.parent.mkdir(parents=True, exist_ok=True)
            self._zip = zipfile.ZipFile(self.partial_path, "w", zipfile.ZIP_STORED, allowZip64=True)
            self._csv_file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=temp_dir)
            self._add_csv_text(_csv_text([list(CSV_HEADER)]))
        except OSError as err:
            self.abort()  # the .partial may already exist: never leave it behind
            raise OutputError(f"Cannot write {self.path}: {err.strerror or err}") from err
        except BaseException:  # Ctrl-C while opening: no one holds this sink to abort it
            self.abort()
            raise

    def _add_csv_text(self, text: str) -> None:
        self._csv_file.write(text)
        self._csv_raw_bytes += len(text.encode("utf-8"))

    def _final_size(self, extra_entry: tuple[str, int] | None = None, extra_csv: int = 0) -> int:
        """Size the finished ZIP would have, with optionally one more entry and CSV text."""
        size = self._zip.fp.tell() + self._central_bytes + _END_RECORDS
        if extra_entry:
            name, data_len = extra_entry
            name_len = len(name.encode("utf-8"))
            size += _LOCAL_HEADER + name_len + data_len + _CENTRAL_HEADER + name_len
        csv_name = len(_CSV_NAME)
        size += _LOCAL_HEADER + _CENTRAL_HEADER + 2 * csv_name + 16
        size += _deflate_bound(self._csv_raw_bytes + extra_csv)
        return size

    @property
    def bytes_written(self) -> int:
        """Bytes the archive takes if finished now (what counts against the cap)."""
        return self._final_size()

    def add_image(self, name: str, data: bytes, rows: list[list[str]]) -> bool:
        """Store one encoded image (already compressed: stored, not deflated) and its CSV
        rows. Returns False, writing nothing, when it would break the size cap."""
        text = _csv_text(rows)
        if self.max_bytes is not None:
            if self._final_size((name, len(data)), len(text.encode("utf-8"))) > self.max_bytes:
                return False
        try:
            self._zip.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        except OSError as err:
            raise OutputError(f"Writing {self.path.name} failed: {err.strerror or err}") from err
        self._central_bytes += _CENTRAL_HEADER + len(name.encode("utf-8"))
        self._add_csv_text(text)
        self.images += 1
        self.rows += len(rows)
        return True

    def add_rows(self, rows: list[list[str]]) -> bool:
        """CSV rows of a frame that has no image here (it is only in the video). False when
        they would break the size cap."""
        text = _csv_text(rows)
        if self.max_bytes is not None and rows:
            if self._final_size(None, len(text.encode("utf-8"))) > self.max_bytes:
                return False
        self._add_csv_text(text)
        self.rows += len(rows)
        return True

    def close(self, dest: str | Path | None = None) -> Path:
        """Add detections.csv, finish the archive and move it into place: `self.path`, or
        `dest` (a run stopped by the user keeps its ZIP under a name marked partial)."""
        dest = self.path if dest is None else Path(dest)
        try:
            self._csv_file.seek(0)
            info = zipfile.ZipInfo(_CSV_NAME, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with self._zip.open(info, "w") as entry:
                while chunk := self._csv_file.read(1 << 16):
                    entry.write(chunk.encode("utf-8"))
            self._zip.close()
            self._csv_file.close()
            os.replace(self.partial_path, dest)
        except OSError as err:
            self.abort()
            raise OutputError(f"Finishing {dest.name} failed: {err.strerror or err}") from err
        return dest

    def abort(self) -> None:
        """Drop the partial archive; safe to call more than once, never raises (it runs on
        the way out of another error, which must stay the one reported)."""
        for handle in (self._zip, self._csv_file):
            if handle is not None:
                with contextlib.suppress(Exception):
                    handle.close()
        with contextlib.suppress(Exception):
            self.partial_path.unlink(missing_ok=True)
