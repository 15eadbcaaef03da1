"""The official Genesys Python SDK reads the simulator's aggregates replies.

Skipped unless `PureCloudPlatformClientV2` is installed (the `sdk` extra).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from genesys_async._aggregates import query_aggregates

sdk: Any = pytest.importorskip("PureCloudPlatformClientV2")

METRICS = ["nOffered", "nConnected", "tAnswered", "tAbandon", "tTalk", "tHeld"]
METRICS += ["tAcw", "tHandle", "tAlert", "tWait"]
GROUP_BY = ["queueId", "userId", "mediaType", "direction", "originatingDirection"]
GROUP_BY += ["wrapUpCode", "divisionId"]
# The long Berlin day, 25 hours.
START = datetime(2026, 10, 24, 22, tzinfo=timezone.utc)
END = datetime(2026, 10, 25, 23, tzinfo=timezone.utc)
INTERVAL = "2026-10-24T22:00:00.000Z/2026-10-25T23:00:00.000Z"


def _sdk_query(base_url: str, client_id: str, secret: str) -> Any:
    """Log in and run one aggregates query with the SDK (blocking)."""
    client = sdk.ApiClient(host=base_url).get_client_credentials_token(
        client_id, secret
    )
    body = sdk.ConversationAggregationQuery()
    body.interval = INTERVAL
    body.granularity = "PT1H"
    body.time_zone = "Europe/Berlin"
    body.group_by = GROUP_BY
    body.metrics = METRICS
    return sdk.AnalyticsApi(client).post_analytics_conversations_aggregates_query(body)


def _stats(results: Any) -> list[tuple[Any, ...]]:
    """(group, interval, metric, count, sum) of every metric, sorted."""
    return sorted(
        (
            tuple(sorted(result["group"].items())),
            entry["interval"],
            metric["metric"],
            metric["stats"]["count"],
            metric["stats"].get("sum"),
        )
        for result in results
        for entry in result["data"]
        for metric in entry["metrics"]
    )


def _from_sdk(reply: Any) -> list[dict[str, Any]]:
    """The SDK's model objects as plain results, with count and sum only."""
    return [
        {
            "group": result.group,
            "data": [
                {
                    "interval": entry.interval,
                    "metrics": [_metric(m) for m in entry.metrics],
                }
                for entry in result.data
            ],
        }
        for result in reply.results
    ]


def _metric(model: Any) -> dict[str, Any]:
    stats = {"count": model.stats.count}
    if model.stats.sum is not None:
        stats["sum"] = int(model.stats.sum)
    return {"metric": model.metric, "stats": stats}


@pytest.mark.slow
async def test_the_sdk_reads_every_group_bucket_and_stat_the_client_reads(
    connect: Any,
) -> None:
    async with connect() as (simulator, client):
        reply = await asyncio.to_thread(
            _sdk_query, simulator.base_url, simulator.client_id, simulator.client_secret
        )
        ours = await query_aggregates(
            client,
            START,
            END,
            metrics=METRICS,
            group_by=GROUP_BY,
            granularity="PT1H",
            time_zone="Europe/Berlin",
        )

    read = _from_sdk(reply)
    assert _stats(ours) == _stats(read)
    assert len(read) > 10
