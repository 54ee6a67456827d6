"""Leaving chosen people visible: the track ids a reviewer marked "leave unmasked".

The ids must be known before the run, so they come with a detections CSV (the ids the
reviewer saw); an id the CSV does not have is refused before any work starts. The filter
runs after the hold (a person's held and interpolated boxes are left uncovered too) and
before rendering, on each frame's Detections: a file run and a live stream call the same
function.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..detections import Detections
from ..errors import SettingsError


def parse_track_ids(text: str) -> tuple[int, ...]:
    """'3, 7' -> (3, 7). Raises ValueError naming the part that is not a whole number."""
    ids = []
    for part in str(text).replace(";", ",").split(","):
        if part.strip():
            if not part.strip().isdigit():
                raise ValueError(f"track ids are whole numbers separated by commas, not {part.strip()!r}")
            ids.append(int(part))
    return tuple(ids)


def check_unmask_tracks(unmask: Iterable[int], known: Iterable[int], csv_name: str) -> None:
    """One clear error naming every id to leave unmasked that the CSV does not have."""
    known = set(known)
    unknown = [int(t) for t in unmask if int(t) not in known]
    if unknown:
        have = ", ".join(str(t) for t in sorted(known)[:20]) + (", ..." if len(known) > 20 else "")
        raise SettingsError(
            f"Cannot leave track{'s' if len(unknown) > 1 else ''} {', '.join(map(str, unknown))} unmasked: "
            f"{csv_name} has no such track id ({f'its ids: {have}' if known else 'it has no track ids'})")


def without_tracks(detections: Detections, track_ids: Iterable[int]) -> Detections:
    """The detections minus every box of the given tracks (held and interpolated included)."""
    drop = np.fromiter((int(t) for t in track_ids), np.int64)
    if not len(drop) or not len(detections):
        return detections
    return detections[~np.isin(detections.track_id, drop)]
