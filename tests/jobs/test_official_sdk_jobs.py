"""The official Genesys Python SDK reads every reply of the simulator's jobs routes.

Skipped unless `PureCloudPlatformClientV2` is installed (the `sdk` extra).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from genesys_async.simulator import Simulator
from genesys_async.simulator._config import JobsConfig

from .conftest import START, config

sdk: Any = pytest.importorskip("PureCloudPlatformClientV2")

INTERVAL = "2026-09-03T00:00:00.000Z/2026-09-04T00:00:00.000Z"


def _drive_a_job(simulator: Simulator) -> dict[str, Any]:
    """Availability, submit, status, every results page, delete (blocking)."""
    # A host without "//api." makes the SDK use the same host for login.
    client = sdk.ApiClient(host=simulator.base_url).get_client_credentials_token(
        simulator.client_id, simulator.client_secret
    )
    analytics = sdk.AnalyticsApi(client)
    seen: dict[str, Any] = {}

    availability = analytics.get_analytics_conversations_details_jobs_availability()
    seen["availability"] = availability.data_availability_date
    body = sdk.AsyncConversationQuery()
    body.interval = INTERVAL
    body.order = "asc"
    body.order_by = "conversationStart"
    job = analytics.post_analytics_conversations_details_jobs(body)
    status = analytics.get_analytics_conversations_details_job(job.job_id)
    seen["state"] = status.state
    seen["dates"] = (status.submission_date, status.completion_date)

    ids: list[str] = []
    customers: list[dict[str, str]] = []
    cursor = None
    while True:
        kwargs = {"page_size": 100, **({"cursor": cursor} if cursor else {})}
        page = analytics.get_analytics_conversations_details_job_results(
            job.job_id, **kwargs
        )
        # The SDK turns enum values it does not know into this marker.
        serialised = str(client.sanitize_for_serialization(page))
        assert "outdated_sdk_version" not in serialised
        ids += [conversation.conversation_id for conversation in page.conversations]
        customers += [
            participant.attributes
            for conversation in page.conversations
            for participant in conversation.participants
            if participant.purpose == "customer"
        ]
        cursor = page.cursor
        if not cursor:
            break
    seen["ids"] = ids
    seen["customers"] = customers
    analytics.delete_analytics_conversations_details_job(job.job_id)
    return seen


@pytest.mark.slow
async def test_official_sdk_drives_a_details_job_from_submit_to_delete() -> None:
    """Every jobs reply deserializes into the SDK's models, values intact."""
    settings = config(days=10, jobs=JobsConfig(availability=START + timedelta(days=5)))
    async with Simulator(settings) as simulator:
        seen = await asyncio.to_thread(_drive_a_job, simulator)

        deleted = simulator.counters[("details_job_delete", 204)]
        day = simulator.ground_truth(
            START + timedelta(days=2), START + timedelta(days=3)
        )

    assert seen["state"] == "FULFILLED"
    assert seen["availability"].isoformat().startswith("2026-09-06T00:00:00")
    assert all(seen["dates"])
    assert day <= set(seen["ids"])
    assert deleted == 1
    assert seen["customers"]
    assert all(isinstance(a, dict) and a["language"] for a in seen["customers"])


def _sdk_analytics(simulator: Simulator) -> Any:
    """The SDK's AnalyticsApi, logged in to the simulator (blocking)."""
    client = sdk.ApiClient(host=simulator.base_url).get_client_credentials_token(
        simulator.client_id, simulator.client_secret
    )
    return sdk.AnalyticsApi(client)


def _submit(analytics: Any, interval: str) -> str:
    body = sdk.AsyncConversationQuery()
    body.interval = interval
    return str(analytics.post_analytics_conversations_details_jobs(body).job_id)


def _ended_jobs(simulator: Simulator) -> list[tuple[str, Any, bool]]:
    """Submit a FAILED and an EXPIRED job; (state, errorMessage, has dates)."""
    analytics = _sdk_analytics(simulator)
    found = []
    for _ in range(2):
        status = analytics.get_analytics_conversations_details_job(
            _submit(analytics, INTERVAL)
        )
        dates = bool(status.completion_date and status.expiration_date)
        found.append((status.state, status.error_message, dates))
    return found


@pytest.mark.slow
async def test_official_sdk_reads_failed_and_expired_status_replies() -> None:
    """FAILED carries its errorMessage, EXPIRED none; both are known states."""
    settings = config(days=10, jobs=JobsConfig(fail_first=1, expire_first=1))
    async with Simulator(settings) as simulator:
        found = await asyncio.to_thread(_ended_jobs, simulator)

    assert found == [
        ("FAILED", "The job failed on an internal error", True),
        ("EXPIRED", None, True),
    ]


def _empty_page(simulator: Simulator) -> tuple[Any, Any, Any]:
    """Results of a job whose interval holds no conversation (blocking)."""
    analytics = _sdk_analytics(simulator)
    job_id = _submit(analytics, "2026-01-01T00:00:00.000Z/2026-01-02T00:00:00.000Z")
    page = analytics.get_analytics_conversations_details_job_results(job_id)
    return page.conversations, page.cursor, page.data_availability_date


@pytest.mark.slow
async def test_official_sdk_reads_an_empty_results_page() -> None:
    """No conversations key and no cursor: the SDK sees an empty last page."""
    settings = config(days=10, jobs=JobsConfig(availability=START + timedelta(days=5)))
    async with Simulator(settings) as simulator:
        conversations, cursor, available = await asyncio.to_thread(
            _empty_page, simulator
        )

    assert (conversations or [], cursor) == ([], None)
    assert available.isoformat().startswith("2026-09-06T00:00:00")
