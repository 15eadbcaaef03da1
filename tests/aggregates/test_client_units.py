"""The client side of aggregates without a server: grid, splits, merge, output."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_async._aggregates import (
    Granularity,
    bucket_edges,
    export_aggregates,
    query_aggregates,
)
from genesys_async._errors import (
    ChunkTooSmallError,
    ConfigurationError,
    IntervalTooLongError,
    OutputError,
    QueryRejectedError,
    ServerError,
)
from genesys_async.simulator import _aggregates as server

UTC = timezone.utc
START = datetime(2026, 10, 24, tzinfo=UTC)


class FakeApi:
    """Answers aggregates queries from a function of the interval; logs them."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.intervals: list[str] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, str | int] | None = None,
        interval: str | None = None,
    ) -> Any:
        assert isinstance(json, dict)
        self.intervals.append(json["interval"])
        return self.answer(json["interval"])


def _stat(count: int, total: int, low: int, high: int) -> dict[str, Any]:
    return {
        "metric": "tHandle",
        "stats": {"count": count, "sum": total, "min": low, "max": high},
    }


@settings(max_examples=200, deadline=None)
@given(
    start_minutes=st.integers(0, 3 * 366 * 24 * 60),
    granularity=st.sampled_from(
        ["PT15M", "PT30M", "PT1H", "PT90M", "P1D", "P1W", "P1M", "P1DT6H"]
    ),
    zone=st.sampled_from(
        ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
    ),
)
def test_the_client_lays_out_the_same_buckets_as_the_simulator(
    start_minutes: int, granularity: str, zone: str
) -> None:
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
    start += start_minutes * 60_000
    end = start + 40 * 86_400_000
    tz = ZoneInfo(zone)

    client = bucket_edges(start, end, Granularity.parse(granularity), tz)
    simulator = server.bucket_edges(
        start, end, server.Granularity.parse(granularity), tz
    )

    assert simulator == client


@pytest.mark.parametrize("text", ["PT30S", "P0D", "1D", "PT", "P1H", "garbage"])
def test_granularity_that_is_not_whole_minutes_is_a_configuration_error(
    text: str,
) -> None:
    with pytest.raises(ConfigurationError):
        Granularity.parse(text)


async def test_a_bucket_returned_by_two_chunks_appears_once_with_stats_combined() -> (
    None
):
    # A server that labels a partial bucket with the whole bucket's interval.
    def answer(interval: str) -> dict[str, Any]:
        low = int(interval.startswith("2026-10-24T06"))
        return {
            "results": [
                {
                    "group": {"queueId": "q"},
                    "data": [
                        {
                            "interval": "2026-10-24T00:00:00Z/2026-10-25T00:00:00Z",
                            "metrics": [_stat(2, 10 + low, 3 + low, 7 - low)],
                        }
                    ],
                }
            ]
        }

    api = FakeApi(answer)

    results = await query_aggregates(
        api,
        START,
        START + timedelta(hours=12),
        metrics=["tHandle"],
        granularity="PT6H",
        chunk_days=0.25,
        concurrency=1,
    )

    assert [
        {
            "group": {"queueId": "q"},
            "data": [
                {
                    "interval": "2026-10-24T00:00:00Z/2026-10-25T00:00:00Z",
                    "metrics": [_stat(4, 21, 3, 7)],
                }
            ],
        }
    ] == results


async def test_a_bucket_limit_in_a_refusal_cuts_that_chunk_and_every_later_one() -> (
    None
):
    def answer(interval: str) -> dict[str, Any]:
        start, end = (
            datetime.fromisoformat(p.replace("Z", "+00:00"))
            for p in interval.split("/")
        )
        if end - start > timedelta(hours=10):
            raise QueryRejectedError(
                400,
                "The interval and granularity of the query produce more than the"
                " maximum of 10 buckets",
                code="bad.request",
            )
        return {}

    api = FakeApi(answer)

    results = await query_aggregates(
        api,
        START,
        START + timedelta(days=2),
        metrics=["nOffered"],
        granularity="PT1H",
        chunk_days=1,
        concurrency=1,
    )

    sizes = [_hours(i) for i in api.intervals]
    assert results == []
    # The first day is refused whole, then both days go in 10-hour pieces.
    assert sizes == [24, 10, 10, 4, 10, 10, 4]


def _hourly_counts(interval: str) -> dict[str, Any]:
    """One count per hour of ``interval``, one bucket per hour."""
    start, end = (
        datetime.fromisoformat(p.replace("Z", "+00:00")) for p in interval.split("/")
    )
    data = []
    while start < end:
        following = start + timedelta(hours=1)
        data.append(
            {
                "interval": f"{start.isoformat()}/{following.isoformat()}",
                "metrics": [{"metric": "nOffered", "stats": {"count": 1}}],
            }
        )
        start = following
    return {"results": [{"group": {}, "data": data}]}


async def test_a_chunk_that_keeps_timing_out_is_halved_to_the_same_result() -> None:
    """A 504 after the retries cuts the chunk in two, as the details export does."""

    def answer(interval: str) -> dict[str, Any]:
        if _hours(interval) > 6:
            raise ServerError(504, "The request timed out", code="request.timeout")
        return _hourly_counts(interval)

    api = FakeApi(answer)

    results = await query_aggregates(
        api,
        START,
        START + timedelta(days=1),
        metrics=["nOffered"],
        granularity="PT1H",
        chunk_days=1,
        concurrency=1,
    )

    counts = [entry["metrics"][0]["stats"]["count"] for entry in results[0]["data"]]
    assert counts == [1] * 24
    assert [_hours(i) for i in api.intervals] == [24, 12, 12, 6, 6, 6, 6]


async def test_another_server_error_after_the_retries_fails_without_splitting() -> None:
    """Only a timeout says the chunk may be too big; a 503 is an outage."""

    def answer(interval: str) -> dict[str, Any]:
        raise ServerError(503, "Service unavailable", code="service.unavailable")

    api = FakeApi(answer)

    with pytest.raises(ServerError) as caught:
        await query_aggregates(
            api,
            START,
            START + timedelta(days=1),
            metrics=["nOffered"],
            granularity="PT1H",
            concurrency=1,
        )

    assert (caught.value.status, len(api.intervals)) == (503, 1)


async def test_a_refused_single_bucket_is_asked_in_parts_with_stats_combined() -> None:
    """A day refused as over 12 hours: two parts, one bucket, stats merged."""

    def answer(interval: str) -> dict[str, Any]:
        if _hours(interval) > 12:
            raise IntervalTooLongError(
                400, "The query interval is too long", code="bad.request"
            )
        morning = interval.startswith("2026-10-24T00")
        stats = _stat(2, 10, 1, 8) if morning else _stat(3, 30, 2, 20)
        return {
            "results": [
                {
                    "group": {"queueId": "q"},
                    "data": [{"interval": interval, "metrics": [stats]}],
                }
            ]
        }

    api = FakeApi(answer)

    results = await query_aggregates(
        api,
        START,
        START + timedelta(days=1),
        metrics=["tHandle"],
        granularity="P1D",
        concurrency=1,
    )

    day = "2026-10-24T00:00:00.000Z/2026-10-25T00:00:00.000Z"
    expected = [
        {
            "group": {"queueId": "q"},
            "data": [{"interval": day, "metrics": [_stat(5, 40, 1, 20)]}],
        }
    ]
    assert expected == results
    assert [_hours(i) for i in api.intervals] == [24, 12, 12]


async def test_a_part_of_a_bucket_under_two_minutes_is_too_small_to_split() -> None:
    """Parts halve down to whole minutes; a refused minute fails naming it."""

    def answer(interval: str) -> dict[str, Any]:
        raise ServerError(504, "The request timed out", code="request.timeout")

    api = FakeApi(answer)

    with pytest.raises(ChunkTooSmallError) as caught:
        await query_aggregates(
            api,
            START,
            START + timedelta(minutes=2),
            metrics=["nOffered"],
            granularity="PT2M",
            concurrency=1,
        )

    assert caught.value.interval == "2026-10-24T00:00:00.000Z/2026-10-24T00:01:00.000Z"
    assert len(api.intervals) == 2


def _hours(interval: str) -> float:
    start, end = (
        datetime.fromisoformat(p.replace("Z", "+00:00")) for p in interval.split("/")
    )
    return (end - start) / timedelta(hours=1)


async def test_an_output_folder_that_does_not_exist_fails_before_any_query(
    tmp_path: Path,
) -> None:
    api = FakeApi(lambda interval: {})

    with pytest.raises(OutputError):
        await export_aggregates(
            api,
            START,
            START + timedelta(days=1),
            metrics=["nOffered"],
            granularity="PT1H",
            output=tmp_path / "missing" / "out.ndjson",
        )

    assert api.intervals == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"start": datetime(2026, 10, 24)}, "time zone"),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"metrics": []}, "metrics"),
        ({"end": START}, "the range is empty"),
    ],
)
async def test_bad_arguments_are_configuration_errors(
    changes: dict[str, Any], words: str
) -> None:
    arguments: dict[str, Any] = {
        "start": START,
        "end": START + timedelta(days=1),
        "metrics": ["nOffered"],
        "granularity": "PT1H",
    }
    arguments.update(changes)

    with pytest.raises(ConfigurationError, match=words):
        await query_aggregates(FakeApi(lambda interval: {}), **arguments)
