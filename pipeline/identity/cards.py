"""The review's cards by person: the tracks the person column groups, one card each.

A person seen in two shots is two tracks (a cut ends every track) but one card: one tick
leaves every track of theirs unmasked. A track without a person number (an old CSV, or
grouping off) is a card of its own, as before.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PersonCard:
    person: int  # 0: a track without a person number
    track_ids: tuple[int, ...]
    spans: tuple[tuple[float, float], ...]  # (first_s, last_s) of each track, in time order
    boxes: int  # rows over all its tracks
    best_track: int  # whose largest view the card shows

    @property
    def value(self) -> str:
        """The tick's value: its track ids, "3,7"."""
        return ",".join(str(t) for t in self.track_ids)

    def spans_text(self) -> str:
        return ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in self.spans)


def person_cards(tracks: Sequence, person_of: dict[int, int]) -> list[PersonCard]:
    """`tracks`: pipeline.review.TrackSummary (track_id, first_s, last_s, boxes, best_box),
    in any order; cards come in order of first appearance."""
    groups: dict[tuple[int, int], list] = {}
    for track in tracks:
        person = person_of.get(track.track_id, 0)
        groups.setdefault((person, track.track_id if not person else 0), []).append(track)
    cards = []
    for (person, _), members in groups.items():
        members = sorted(members, key=lambda t: (t.first_s, t.track_id))
        best = max(members, key=lambda t: (t.best_box[2] - t.best_box[0]) * (t.best_box[3] - t.best_box[1]))
        cards.append(PersonCard(person, tuple(t.track_id for t in members),
                                tuple((t.first_s, t.last_s) for t in members),
                                sum(t.boxes for t in members), best.track_id))
    return sorted(cards, key=lambda c: (c.spans[0][0], c.track_ids[0]))


def track_ids_of(values) -> list[int]:
    """The ticked cards' values ("3,7", or a plain track id) as sorted track ids."""
    ids = set()
    for value in values or ():
        ids.update(int(part) for part in str(value).split(",") if part.strip())
    return sorted(ids)
