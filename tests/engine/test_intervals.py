"""Chunk arithmetic: planning, splitting, formatting, the owner rule."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesys_async._export import _subtract
from genesys_async._intervals import (
    Interval,
    OffsetOutOfRangeError,
    format_ms,
    parse_instant,
    plan,
    to_ms,
)

DAY = 86_400_000
HOUR = 3_600_000
BASE = to_ms(datetime(2026, 9, 1, tzinfo=timezone.utc))

instants = st.integers(min_value=BASE, max_value=BASE + 800 * DAY)


def test_plan_cuts_a_90_day_range_into_7_day_chunks_on_midnights() -> None:
    """Ninety days make twelve full weeks and a six-day tail."""
    chunks = plan(BASE, BASE + 90 * DAY, 7 * DAY)

    assert [c.length_ms // DAY for c in chunks] == [7] * 12 + [6]
    assert all(c.start_ms % DAY == 0 for c in chunks)


def test_plan_gives_a_short_first_chunk_when_the_range_starts_mid_day() -> None:
    """Boundaries after the first stay on midnights."""
    chunks = plan(BASE + 6 * HOUR, BASE + 3 * DAY, 1 * DAY)

    assert [str(c) for c in chunks] == [
        "2026-09-01T06:00:00.000Z/2026-09-02T00:00:00.000Z",
        "2026-09-02T00:00:00.000Z/2026-09-03T00:00:00.000Z",
        "2026-09-03T00:00:00.000Z/2026-09-04T00:00:00.000Z",
    ]


@given(
    start=instants,
    length=st.integers(min_value=1, max_value=120 * DAY),
    chunk=st.integers(min_value=HOUR, max_value=40 * DAY),
)
def test_plan_covers_every_instant_exactly_once(
    start: int, length: int, chunk: int
) -> None:
    """Chunks abut, stay inside the range and never exceed the chunk length."""
    chunks = plan(start, start + length, chunk)

    assert chunks[0].start_ms == start
    assert chunks[-1].end_ms == start + length
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(chunks))
    assert all(c.length_ms <= chunk for c in chunks)


@given(
    start=instants,
    length=st.integers(min_value=1, max_value=3 * DAY),
    # Down to the shortest chunk the options allow: twice 60 seconds.
    chunk=st.integers(min_value=120_000, max_value=HOUR - 1),
)
def test_plan_of_chunks_under_an_hour_covers_every_instant_exactly_once(
    start: int, length: int, chunk: int
) -> None:
    """Short chunks abut, stay inside the range and cut on multiples of their length."""
    chunks = plan(start, start + length, chunk)

    assert chunks[0].start_ms == start
    assert chunks[-1].end_ms == start + length
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(chunks))
    assert all(c.length_ms <= chunk for c in chunks)
    midnight = start - start % DAY
    assert all((c.start_ms - midnight) % chunk == 0 for c in chunks[1:])


@given(
    start=instants,
    cuts=st.lists(st.integers(min_value=1, max_value=30 * DAY - 1), max_size=30),
    finished=st.lists(st.booleans(), min_size=31, max_size=31),
)
def test_resume_gaps_and_finished_chunks_tile_the_range(
    start: int, cuts: list[int], finished: list[bool]
) -> None:
    """What a resume fetches plus what it kept covers the range once, no more."""
    whole = Interval(start, start + 30 * DAY)
    bounds = sorted({whole.start_ms, whole.end_ms, *(start + c for c in cuts)})
    pieces = [Interval(a, b) for a, b in itertools.pairwise(bounds)]
    done = [piece for piece, kept in zip(pieces, finished, strict=False) if kept]

    gaps = _subtract(whole, done)

    tiles = sorted(gaps + done)
    assert tiles[0].start_ms == whole.start_ms
    assert tiles[-1].end_ms == whole.end_ms
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(tiles))
    # Gaps are as few as can be: two never touch.
    assert all(a.end_ms < b.start_ms for a, b in itertools.pairwise(gaps))


@given(start=instants, length=st.integers(min_value=2, max_value=60 * DAY))
def test_halves_abut_and_cover_the_interval(start: int, length: int) -> None:
    """Splitting loses no instant and duplicates none."""
    interval = Interval(start, start + length)

    left, right = interval.halves()

    assert (left.start_ms, left.end_ms, right.end_ms) == (
        interval.start_ms,
        right.start_ms,
        interval.end_ms,
    )
    assert left.length_ms > 0
    assert right.length_ms > 0


def test_halves_cut_a_week_on_a_midnight() -> None:
    """A split of whole days stays on whole days."""
    left, right = Interval(BASE, BASE + 7 * DAY).halves()

    assert left.end_ms == BASE + 4 * DAY or left.end_ms == BASE + 3 * DAY
    assert right.start_ms % DAY == 0


@given(
    starts=st.lists(instants, min_size=1, max_size=50),
    cuts=st.lists(st.integers(min_value=1, max_value=800 * DAY), max_size=20),
)
def test_owner_rule_keeps_each_conversation_exactly_once(
    starts: list[int], cuts: list[int]
) -> None:
    """Whatever the chunking, each start has exactly one owning chunk."""
    bounds = sorted({BASE, BASE + 801 * DAY, *(BASE + c for c in cuts)})
    chunks = [Interval(a, b) for a, b in itertools.pairwise(bounds)]

    owners = [sum(chunk.owns(s) for chunk in chunks) for s in starts]

    assert owners == [1] * len(starts)


def test_format_and_parse_round_trip_with_milliseconds() -> None:
    """The API's instant form survives a round trip."""
    text = "2026-09-01T12:34:56.789Z"

    assert format_ms(parse_instant(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-01T02:00:00+02:00", "2026-09-01T00:00:00.000Z"),
        ("2026-09-01T00:00:00Z", "2026-09-01T00:00:00.000Z"),
        ("2026-09-01T00:00:00.5Z", "2026-09-01T00:00:00.500Z"),
        ("2026-08-31T19:00:00.000-0500", "2026-09-01T00:00:00.000Z"),
    ],
)
def test_parse_instant_converts_offsets_to_utc(text: str, expected: str) -> None:
    """Offsets and fraction lengths of every form are understood."""
    assert format_ms(parse_instant(text)) == expected


def test_parse_instant_refuses_a_time_without_offset() -> None:
    """A naive time is ambiguous, so it is refused."""
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant("2026-09-01T00:00:00")


@pytest.mark.parametrize("offset", ["+25:00", "+02:99", "-24:00", "+0260"])
def test_parse_instant_refuses_an_offset_out_of_range(offset: str) -> None:
    """A typo in an offset would shift the range silently; it is refused."""
    with pytest.raises(OffsetOutOfRangeError, match=re.escape(offset)):
        parse_instant(f"2026-09-01T08:00:00{offset}")


def test_to_ms_refuses_a_naive_datetime() -> None:
    """Library callers must say which zone they mean."""
    with pytest.raises(ValueError, match="no time zone"):
        to_ms(datetime(2026, 9, 1))
