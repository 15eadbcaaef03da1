"""Aggregates exports against the simulator over loopback: the counts and sums
per queue and bucket equal those read from the details records, across the end
of DST in Europe/Berlin, however the server splits or fails the queries."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from genesys_async._aggregates import export_aggregates, query_aggregates
from genesys_async._errors import QueryRejectedError
from genesys_async._export import conversation_details
from genesys_async.simulator import FaultConfig
from genesys_async.simulator._config import AggregatesConfig

BERLIN = ZoneInfo("Europe/Berlin")
METRICS = ["nOffered", "nConnected", "tAnswered", "tAbandon", "tTalk", "tHeld"]
METRICS += ["tAcw", "tHandle", "tAlert", "tWait"]


def _read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_half_hours_per_queue_equal_a_details_export_over_the_dst_change(
    truth: Any, connect: Any, tmp_path: Path
) -> None:
    out = tmp_path / "aggregates.ndjson"
    async with connect() as (_, client):
        records = [
            record
            async for record in conversation_details(
                client, truth.config.start, truth.end, api="query"
            )
        ]
        report = await export_aggregates(
            client,
            truth.start,
            truth.end,
            metrics=METRICS,
            group_by=["queueId"],
            granularity="PT30M",
            time_zone="Europe/Berlin",
            output=out,
        )

    from_details = truth.emitted_metrics(records)
    expected = truth.expected(METRICS, truth.half_hour, from_details)
    assert expected == truth.observed(_read_ndjson(out))
    assert len({queue for queue, _ in expected}) == report.groups


async def test_berlin_days_are_23_24_25_hours_and_hold_their_local_day(
    truth: Any, connect: Any
) -> None:
    async with connect() as (_, client):
        results = await query_aggregates(
            client,
            truth.start,
            truth.end,
            metrics=["nOffered", "tHandle"],
            group_by=["queueId"],
            granularity="P1D",
            time_zone="Europe/Berlin",
        )

    lengths = {
        entry["interval"]: _hours(entry["interval"])
        for result in results
        for entry in result["data"]
    }
    assert [lengths[k] for k in sorted(lengths)] == [24, 25, 24]
    expected = truth.expected(["nOffered", "tHandle"], truth.berlin_day)
    assert expected == truth.observed(results)


def _hours(interval: str) -> float:
    start, end = (
        datetime.fromisoformat(part.replace("Z", "+00:00"))
        for part in interval.split("/")
    )
    return (end - start).total_seconds() / 3600


async def test_interval_and_bucket_limits_split_chunks_without_changing_the_result(
    truth: Any, connect: Any, tmp_path: Path
) -> None:
    out = tmp_path / "aggregates.ndjson"
    limits = AggregatesConfig(max_interval_days=1, max_buckets=20)
    async with connect(aggregates=limits) as (_, client):
        report = await export_aggregates(
            client,
            truth.start,
            truth.end,
            metrics=METRICS,
            group_by=["queueId"],
            granularity="PT30M",
            time_zone="Europe/Berlin",
            output=out,
            chunk_days=7,
        )

    expected = truth.expected(METRICS, truth.half_hour)
    assert expected == truth.observed(_read_ndjson(out))
    assert report.splits >= 1
    # 146 half hours in chunks of at most 20 buckets.
    assert report.chunks >= 8


async def test_server_errors_and_dropped_connections_are_retried_to_the_same_result(
    truth: Any, connect: Any, tmp_path: Path
) -> None:
    out = tmp_path / "aggregates.ndjson"
    faults = FaultConfig(
        error_rates={500: 0.15, 503: 0.15, 504: 0.05},
        disconnect_rate=0.05,
        truncated_json_rate=0.05,
        seed=3,
    )
    limits = AggregatesConfig(max_interval_days=1, max_buckets=24)
    async with connect(faults=faults, aggregates=limits) as (simulator, client):
        await export_aggregates(
            client,
            truth.start,
            truth.end,
            metrics=METRICS,
            group_by=["queueId"],
            granularity="PT30M",
            time_zone="Europe/Berlin",
            output=out,
            concurrency=6,
        )
        failed = sum(
            count
            for (route, status), count in simulator.counters.items()
            if route == "aggregates_query" and status != 200
        )

    assert truth.expected(METRICS, truth.half_hour) == truth.observed(_read_ndjson(out))
    assert failed > 0


async def test_csv_has_one_row_per_group_bucket_and_metric_with_a_column_per_stat(
    truth: Any, connect: Any, tmp_path: Path
) -> None:
    out = tmp_path / "aggregates.csv"
    async with connect() as (_, client):
        report = await export_aggregates(
            client,
            truth.start,
            truth.end,
            metrics=["nOffered", "tHandle"],
            group_by=["queueId", "mediaType"],
            granularity="P1D",
            time_zone="Europe/Berlin",
            output=out,
            fmt="csv",
        )

    rows = list(csv.DictReader(out.read_text().splitlines()))
    header = ["queueId", "mediaType", "interval", "metric", "qualifier"]
    header += ["count", "sum", "min", "max"]
    assert header == list(rows[0])
    assert report.rows == len(rows)
    handled = sum(int(r["sum"]) for r in rows if r["metric"] == "tHandle")
    offered = sum(int(r["count"]) for r in rows if r["metric"] == "nOffered")
    expected = truth.expected(["nOffered", "tHandle"], truth.berlin_day)
    assert sum(v["tHandle"][1] for v in expected.values() if "tHandle" in v) == handled
    assert sum(v["nOffered"][0] for v in expected.values() if "nOffered" in v) == (
        offered
    )


async def test_a_single_bucket_longer_than_the_interval_limit_is_queried_in_parts(
    truth: Any, connect: Any, tmp_path: Path
) -> None:
    """The 25-hour Berlin day over a 1-day limit: parts merged into one bucket."""
    out = tmp_path / "aggregates.ndjson"
    limits = AggregatesConfig(max_interval_days=1)
    async with connect(aggregates=limits) as (_, client):
        report = await export_aggregates(
            client,
            truth.start,
            truth.end,
            metrics=["nOffered", "tHandle"],
            group_by=["queueId"],
            granularity="P1D",
            time_zone="Europe/Berlin",
            output=out,
        )

    results = _read_ndjson(out)
    expected = truth.expected(["nOffered", "tHandle"], truth.berlin_day)
    assert expected == truth.observed(results)
    long_day = "2026-10-24T22:00:00.000Z/2026-10-25T23:00:00.000Z"
    assert long_day in {entry["interval"] for r in results for entry in r["data"]}
    assert report.splits >= 1


async def test_a_berlin_october_by_month_is_one_bucket_equal_to_the_details(
    truth: Any, connect: Any
) -> None:
    """P1M over October in Berlin (31 days and an hour) with the default limits.

    The simulator refuses more than 31 days, so the client asks for the
    month in parts; the details start four days before the data's first
    metric, so every metric of the month is read from some record.
    """
    october = datetime(2026, 10, 1, tzinfo=BERLIN)
    november = datetime(2026, 11, 1, tzinfo=BERLIN)
    names = ["nOffered", "tHandle"]
    async with connect() as (_, client):
        records = [
            record
            async for record in conversation_details(
                client, truth.config.start, november, api="query"
            )
        ]
        results = await query_aggregates(
            client,
            october,
            november,
            metrics=names,
            group_by=["queueId"],
            granularity="P1M",
            time_zone="Europe/Berlin",
        )

    from_details = truth.emitted_metrics(records)
    expected = truth.expected(
        names,
        truth.berlin_month,
        from_details,
        start_ms=_ms(october),
        end_ms=_ms(november),
    )
    assert expected == truth.observed(results)
    month = "2026-09-30T22:00:00.000Z/2026-10-31T23:00:00.000Z"
    assert {month} == {entry["interval"] for r in results for entry in r["data"]}
    assert _handle_extremes(from_details) == _handle_extremes_of(results)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _handle_extremes(metrics: list[Any]) -> dict[str | None, tuple[int, int]]:
    """Per queue, the shortest and longest tHandle the records carry."""
    values: dict[str | None, list[int]] = {}
    for metric in metrics:
        if metric.name == "tHandle":
            values.setdefault(metric.queue_id, []).append(metric.value)
    return {queue: (min(v), max(v)) for queue, v in values.items()}


def _handle_extremes_of(
    results: list[dict[str, Any]],
) -> dict[str | None, tuple[int, int]]:
    """Per queue, min and max of tHandle in the (single) bucket."""
    found = {}
    for result in results:
        for entry in result["data"]:
            for metric in entry["metrics"]:
                if metric["metric"] == "tHandle":
                    stats = metric["stats"]
                    queue = result["group"].get("queueId")
                    found[queue] = (stats["min"], stats["max"])
    return found


async def test_a_refused_metric_fails_at_once_without_splitting(
    truth: Any, connect: Any
) -> None:
    async with connect() as (simulator, client):
        with pytest.raises(QueryRejectedError) as caught:
            await query_aggregates(
                client,
                truth.start,
                truth.end,
                metrics=["oServiceLevel"],
                granularity="PT1H",
                concurrency=1,
            )
        asked = sum(
            n
            for (route, _), n in simulator.counters.items()
            if route == "aggregates_query"
        )

    assert caught.value.status == 400
    assert asked == 1
