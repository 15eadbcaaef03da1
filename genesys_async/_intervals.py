"""Chunk arithmetic: plan a range into chunks, split one, format it, test ownership.

All instants are aware UTC datetimes or integer epoch milliseconds. A chunk is a
half-open interval ``[start, end)``; a plan covers its range with no gap and no
overlap, so the owner rule (a conversation belongs to the chunk that holds its
``conversationStart``) keeps every conversation exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ._errors import ConfigurationError

__all__ = [
    "Interval",
    "NaiveInstantError",
    "OffsetOutOfRangeError",
    "check_range",
    "format_instant",
    "parse_instant",
    "plan",
]

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# ISO-8601 as the API writes it: 2026-09-01T00:00:00.000Z, or with an offset,
# with or without a fraction of any length.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


class NaiveInstantError(ValueError):
    """An instant written without Z or an offset: which zone is meant?"""


class OffsetOutOfRangeError(ValueError):
    """An offset no clock shows, such as +25:00 or +02:99."""


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open interval ``[start_ms, end_ms)`` in epoch milliseconds."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError(f"empty interval: {self.start_ms} >= {self.end_ms}")

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Interval:
        """Build an interval from two aware datetimes."""
        return cls(to_ms(start), to_ms(end))

    @property
    def length_ms(self) -> int:
        """The length in milliseconds."""
        return self.end_ms - self.start_ms

    @property
    def start(self) -> datetime:
        """The start as an aware UTC datetime."""
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        """The end as an aware UTC datetime."""
        return from_ms(self.end_ms)

    def __str__(self) -> str:
        """The API's form: ``2026-09-01T00:00:00.000Z/2026-09-08T00:00:00.000Z``."""
        return f"{format_ms(self.start_ms)}/{format_ms(self.end_ms)}"

    def owns(self, instant_ms: int) -> bool:
        """Whether an instant lies in ``[start, end)``."""
        return self.start_ms <= instant_ms < self.end_ms

    def can_split(self, minimum_ms: int) -> bool:
        """Whether both halves would be at least ``minimum_ms`` long."""
        return self.length_ms >= 2 * minimum_ms

    def halves(self) -> tuple[Interval, Interval]:
        """Cut in two at the roundest instant near the middle.

        The cut lands on a UTC midnight when the interval spans two days or
        more, on a whole hour when it spans two hours or more, else on the
        millisecond; rounded cuts keep chunk names readable and day-aligned.
        """
        middle = self.start_ms + self.length_ms // 2
        for unit in (_DAY_MS, _HOUR_MS, 1000, 1):
            if self.length_ms >= 2 * unit:
                cut = round(middle / unit) * unit
                if self.start_ms < cut < self.end_ms:
                    return Interval(self.start_ms, cut), Interval(cut, self.end_ms)
        raise ValueError(f"interval {self} is too short to split")

    def pieces(self, max_length_ms: int) -> list[Interval]:
        """Cut into pieces no longer than ``max_length_ms``, on midnights."""
        return plan(self.start_ms, self.end_ms, max_length_ms)


def plan(start_ms: int, end_ms: int, max_length_ms: int) -> list[Interval]:
    """Cover ``[start_ms, end_ms)`` with chunks no longer than ``max_length_ms``.

    Boundaries fall on UTC midnights counted from the first midnight at or
    before ``start_ms``, so a range that starts mid-day gets a short first
    chunk and every later boundary is a midnight. A ``max_length_ms`` below one
    day cuts on multiples of it from that midnight instead.
    """
    if end_ms <= start_ms:
        raise ValueError("the range is empty")
    if max_length_ms <= 0:
        raise ValueError("the chunk length must be positive")

    step = max_length_ms
    if max_length_ms >= _DAY_MS:
        step = max_length_ms - max_length_ms % _DAY_MS
    anchor = start_ms - start_ms % _DAY_MS
    chunks = []
    cursor = start_ms
    while cursor < end_ms:
        boundary = anchor + ((cursor - anchor) // step + 1) * step
        chunks.append(Interval(cursor, min(boundary, end_ms)))
        cursor = boundary
    return chunks


def to_ms(instant: datetime) -> int:
    """Epoch milliseconds of an aware datetime; a naive one is refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"{instant.isoformat()} has no time zone: pass an aware datetime"
            " (for example with tzinfo=timezone.utc)"
        )
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(instant_ms: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=instant_ms)


def format_ms(instant_ms: int) -> str:
    """``2026-09-01T00:00:00.000Z``: the API's own form of an instant."""
    return format_instant(from_ms(instant_ms))


def format_instant(instant: datetime) -> str:
    """Format an aware datetime as UTC with milliseconds and a ``Z``."""
    utc = instant.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_instant(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 instant that carries Z or an offset.

    Raises:
        ValueError: the text is not such an instant (a missing offset included).
    """
    found = _ISO.match(text.strip())
    if found is None:
        raise ValueError(f"not an ISO-8601 instant: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    if zone is None:
        raise NaiveInstantError(
            f"{text!r} has no time zone: add Z or an offset like +02:00"
        )
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
    )
    offset_ms = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        # Real offsets run from -12:00 to +14:00; anything past 23:59 is a
        # typo that would otherwise shift the range silently.
        if hours > 23 or minutes > 59:
            raise OffsetOutOfRangeError(
                f"{text!r} has the offset {zone}, which is out of range"
                " (hours 00-23, minutes 00-59)"
            )
        offset_ms = sign * (hours * 60 + minutes) * 60_000
    naive_ms = to_ms(moment.replace(tzinfo=timezone.utc))
    return naive_ms + millis - offset_ms


def check_range(start: datetime, end: datetime) -> Interval:
    """The range ``[start, end)``, or a clear error for a naive, empty or future one.

    Raises:
        ConfigurationError: a datetime without a zone, an end not after the
            start, or an end in the future (the API holds nothing after now).
    """
    try:
        start_ms, end_ms = to_ms(start), to_ms(end)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    if end_ms <= start_ms:
        word = "empty" if end_ms == start_ms else "reversed"
        raise ConfigurationError(
            f"the range is {word}: start {start.isoformat()}"
            f" is not before end {end.isoformat()}"
        )
    now = datetime.now(timezone.utc)
    if end > now:
        raise ConfigurationError(
            f"the range ends in the future ({end.isoformat()}); the API holds"
            " nothing after now, so end the range at or before"
            f" {now.replace(microsecond=0).isoformat()}"
        )
    return Interval(start_ms, end_ms)
