"""What every sink shares: finished by close(), or by abort() when the work failed (nothing
half-written stays behind), and a with-block that does one or the other; and the encoders'
timestamps, which must increase."""
from __future__ import annotations


class Sink:
    """Subclasses give close() and abort(); `with Sink(...) as sink:` closes the sink when
    the block ends normally and aborts it when the block raises."""

    def close(self, *args, **kwargs):
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def next_pts(time_s: float, time_base, last: int | None) -> int:
    """A frame's timestamp in `time_base` units: its time, nudged one past `last` (the last
    frame's) when it would not come after it."""
    pts = round(time_s / time_base)
    return pts if last is None or pts > last else last + 1
