"""Aggregates exports against the simulator over loopback: the counts and sums
per queue and bucket equal those read from the details records, across the end
of DST in Europe/Berlin, however the server splits or fails the queries."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_async._aggregates import export_aggregates, query_aggregates
from genesys_async._errors import ChunkTooSmallError, QueryRejectedError
from genesys_async._export import conversation_details
from genesys_async.simulator import FaultConfig
from genesys_async.simulator._config import AggregatesConfig

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
                client, truth.config.start, truth.end
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
    from datetime import datetime

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


async def test_a_single_bucket_longer_than_the_interval_limit_fails_naming_it(
    truth: Any, connect: Any, tmp_path: Path
) -> None:
    out = tmp_path / "aggregates.ndjson"
    async with connect(aggregates=AggregatesConfig(max_interval_days=1)) as (_, c):
        with pytest.raises(ChunkTooSmallError) as caught:
            await export_aggregates(
                c,
                truth.start,
                truth.end,
                metrics=["nOffered"],
                granularity="P1D",
                time_zone="Europe/Berlin",
                output=out,
            )

    assert caught.value.interval == "2026-10-24T22:00:00.000Z/2026-10-25T23:00:00.000Z"
    assert not out.exists()


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
