"""The official Genesys Python SDK, pointed at the simulator, reads every reply.

Skipped unless `PureCloudPlatformClientV2` is installed (the `sdk` extra): it is
large, so it stays out of the dev dependencies.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from genesys_async.simulator import Simulator

sdk: Any = pytest.importorskip("PureCloudPlatformClientV2")


def _page_through(base_url: str, client_id: str, secret: str) -> tuple[int, list[str]]:
    """Log in and page through one day with the SDK (blocking): (hits, ids)."""
    # A host without "//api." makes the SDK use the same host for login.
    client = sdk.ApiClient(host=base_url).get_client_credentials_token(
        client_id, secret
    )
    analytics = sdk.AnalyticsApi(client)
    ids: list[str] = []
    total = 0
    page = 1
    while True:
        body = sdk.ConversationQuery()
        body.interval = "2026-09-03T00:00:00.000Z/2026-09-04T00:00:00.000Z"
        body.order = "asc"
        body.order_by = "conversationStart"
        body.paging = sdk.PagingSpec()
        body.paging.page_size = 100
        body.paging.page_number = page
        reply = analytics.post_analytics_conversations_details_query(body)
        total = reply.total_hits
        # The SDK turns enum values it does not know into this marker.
        serialised = str(client.sanitize_for_serialization(reply))
        assert "outdated_sdk_version" not in serialised
        if not reply.conversations:
            return total, ids
        for conversation in reply.conversations:
            for participant in conversation.participants:
                for session in participant.sessions:
                    assert session.segments
            ids.append(conversation.conversation_id)
        page += 1


@pytest.mark.slow
async def test_official_sdk_logs_in_and_pages_through_the_details_query(
    sim: Simulator,
) -> None:
    total, ids = await asyncio.to_thread(
        _page_through, sim.base_url, sim.client_id, sim.client_secret
    )

    data = sim.dataset
    low = int(data.start_of_data_ms + 2 * 86_400_000)
    expected = [
        data.conversation_id(i) for i in data.index_range(low, low + 86_400_000)
    ]
    assert ids == expected
    assert total == len(expected)
