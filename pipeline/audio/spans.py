"""`--mute-spans 12.5-14,61-63.2`: seconds of the video to silence (or bleep).

parse_spans turns the text into sorted (start, end) pairs and refuses what is not a span
(`abc`, `4-2`, a negative or empty span); overlapping or touching spans are merged, so a
sample is silenced once. check_spans refuses a span that starts past the video's end, once
the duration is known, before any work. Both raise SettingsError with one clear line.
"""
from __future__ import annotations

import math
import re

from ..errors import SettingsError

Span = tuple[float, float]
_NUMBER = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
_SPAN = re.compile(_NUMBER + "-" + _NUMBER)
# A span may reach a little past the end a player shows: the audio often outlasts the last
# frame by a fraction of a second, and a user reading a player's clock rounds up.
END_SLACK_S = 0.5


HOW = "write spans as START-END in seconds, comma-separated (e.g. 12.5-14,61-63.2)"


def _bad(text: str, why: str, key: str) -> SettingsError:
    """`key` (set.spans_format, set.spans_order) names the problem for a translation; the
    English line is the same for the CLI, the API and Settings' list of problems."""
    text = text[:40]
    return SettingsError(f"mute span '{text}' {why}; {HOW}", key=key, values={"span": text})


def parse_spans(text: str | None) -> tuple[Span, ...]:
    """'12.5-14, 61-63.2' -> ((12.5, 14.0), (61.0, 63.2)), sorted and merged; '' -> ()."""
    if text is None or not str(text).strip():
        return ()
    spans = []
    for part in str(text).split(","):
        if not part.strip():
            continue
        match = _SPAN.fullmatch(part)
        if match is None:
            raise _bad(part.strip(), "is not START-END", "set.spans_format")
        start, end = float(match.group(1)), float(match.group(2))
        if not (math.isfinite(start) and math.isfinite(end)):
            raise _bad(part.strip(), "is not START-END", "set.spans_format")
        if end <= start:
            raise _bad(part.strip(), "ends before it starts", "set.spans_order")
        spans.append((start, end))
    return merge_spans(spans)


def merge_spans(spans) -> tuple[Span, ...]:
    """Sorted, with overlapping or touching spans joined into one."""
    merged: list[list[float]] = []
    for start, end in sorted((float(a), float(b)) for a, b in spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)


def format_spans(spans) -> str:
    """The spans as the text parse_spans reads."""
    return ",".join(f"{a:g}-{b:g}" for a, b in spans)


def check_spans(spans, duration_s: float) -> None:
    """Refuse a span that ends past the video's end (with END_SLACK_S); an unknown
    duration (0) refuses nothing."""
    if not duration_s or duration_s <= 0:
        return
    for start, end in spans:
        if end > duration_s + END_SLACK_S:
            text = f"{start:g}-{end:g}"
            raise SettingsError(
                f"Invalid settings: mute span {text} ends past the end of the video ({duration_s:.2f} s).",
                key="err.mute_spans_end", values={"span": text, "duration": f"{duration_s:.2f}"})
