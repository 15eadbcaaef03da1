"""The official Genesys Python SDK, pointed at the simulator, reads every reply.

Skipped unless `PureCloudPlatformClientV2` is installed (the `sdk` extra): it is
large, so it stays out of the dev dependencies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from genesys_async.simulator import Simulator

sdk: Any = pytest.importorskip("PureCloudPlatformClientV2")

MakeSim = Callable[..., Awaitable[Simulator]]
DAY_MS = 86_400_000
# The simulated present: mid-afternoon of the last day of the data.
NOW = datetime(2026, 9, 14, 15, tzinfo=timezone.utc)


def _login(sim: Simulator) -> Any:
    # A host without "//api." makes the SDK use the same host for login.
    return sdk.ApiClient(host=sim.base_url).get_client_credentials_token(
        sim.client_id, sim.client_secret
    )


def _page_through(sim: Simulator, interval: str) -> tuple[int, list[Any]]:
    """Log in and page through `interval` with the SDK (blocking): (hits, records)."""
    client = _login(sim)
    analytics = sdk.AnalyticsApi(client)
    records: list[Any] = []
    page = 1
    while True:
        body = sdk.ConversationQuery()
        body.interval = interval
        body.order = "asc"
        body.order_by = "conversationStart"
        body.paging = sdk.PagingSpec()
        body.paging.page_size = 100
        body.paging.page_number = page
        reply = analytics.post_analytics_conversations_details_query(body)
        # The SDK turns enum values it does not know into this marker.
        serialised = str(client.sanitize_for_serialization(reply))
        assert "outdated_sdk_version" not in serialised
        if not reply.conversations:
            return reply.total_hits, records
        records.extend(reply.conversations)
        page += 1


def _segments(record: Any) -> list[Any]:
    return [
        segment
        for participant in record.participants
        for session in participant.sessions
        for segment in session.segments
    ]


class _RawReply:
    """Just enough of the SDK's REST response for `ApiClient.deserialize`."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def getheader(self, name: str, default: str | None = None) -> str:
        return "application/json"


def _refused_page_size(sim: Simulator) -> Any:
    """Ask for a page too large; the SDK's ErrorBody of the 400 (blocking)."""
    client = _login(sim)
    body = sdk.ConversationQuery()
    body.interval = "2026-09-03T00:00:00.000Z/2026-09-04T00:00:00.000Z"
    body.paging = sdk.PagingSpec()
    body.paging.page_size = 1000
    with pytest.raises(sdk.rest.ApiException) as raised:
        sdk.AnalyticsApi(client).post_analytics_conversations_details_query(body)
    assert raised.value.status == 400
    return client.deserialize(_RawReply(raised.value.body), "ErrorBody")


def _expected_ids(sim: Simulator, low: int, high: int) -> list[str]:
    data = sim.dataset
    return [data.conversation_id(i) for i in data.index_range(low, high)]


@pytest.mark.slow
async def test_official_sdk_logs_in_and_pages_through_the_details_query(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(now=NOW)
    interval = "2026-09-03T00:00:00.000Z/2026-09-04T00:00:00.000Z"

    total, records = await asyncio.to_thread(_page_through, sim, interval)

    low = sim.dataset.start_of_data_ms + 2 * DAY_MS
    expected = _expected_ids(sim, low, low + DAY_MS)
    assert [r.conversation_id for r in records] == expected
    assert total == len(expected)
    assert all(_segments(r) for r in records)


@pytest.mark.slow
async def test_official_sdk_reads_the_last_day_with_ongoing_conversations(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(now=NOW)
    interval = "2026-09-14T00:00:00.000Z/2026-09-15T00:00:00.000Z"

    total, records = await asyncio.to_thread(_page_through, sim, interval)

    ongoing = [r for r in records if r.conversation_end is None]
    open_segments = [s for r in ongoing for s in _segments(r) if s.segment_end is None]
    low = sim.dataset.start_of_data_ms + 13 * DAY_MS
    assert [r.conversation_id for r in records] == _expected_ids(sim, low, low + DAY_MS)
    assert total == len(records) > 0
    assert ongoing
    assert open_segments
    assert max(r.conversation_start for r in records) < NOW


@pytest.mark.slow
async def test_official_sdk_reads_conversations_crossing_midnight(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(now=NOW)
    interval = "2026-09-05T00:00:00.000Z/2026-09-06T00:00:00.000Z"
    midnight = datetime(2026, 9, 6, tzinfo=timezone.utc)

    _, records = await asyncio.to_thread(_page_through, sim, interval)

    crossing = [
        r for r in records if r.conversation_end and r.conversation_end > midnight
    ]
    later_segments = [
        s for r in crossing for s in _segments(r) if s.segment_end > midnight
    ]
    assert crossing
    assert later_segments


@pytest.mark.slow
async def test_official_sdk_parses_a_400_as_its_error_body(
    make_sim: MakeSim,
) -> None:
    sim = await make_sim(now=NOW)

    error = await asyncio.to_thread(_refused_page_size, sim)

    assert (error.status, error.code) == (400, "bad.request")
    assert "1000" in error.message
    assert error.context_id
    assert error.details[0].field_name == "paging.pageSize"
