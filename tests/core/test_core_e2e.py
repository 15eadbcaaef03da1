"""The client core against the simulator over loopback: real HTTP, real faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from genesys_async._client import GenesysClient
from genesys_async._errors import (
    AuthenticationError,
    IntervalTooLongError,
    PaginationCapError,
    PermissionDeniedError,
    RequestTooLargeError,
    ServerError,
)
from genesys_async._http import RetryPolicy
from genesys_async.simulator import FaultConfig, Simulator, SimulatorConfig

PATH = "/api/v2/analytics/conversations/details/query"
DAY = "2026-09-0{}T00:00:00.000Z/2026-09-0{}T00:00:00.000Z"


def query(day: int = 1, days: int = 1, page: int = 1, size: int = 50) -> dict[str, Any]:
    return {
        "interval": DAY.format(day, day + days),
        "order": "asc",
        "orderBy": "conversationStart",
        "paging": {"pageSize": size, "pageNumber": page},
    }


def ids(reply: dict[str, Any]) -> list[str]:
    return [c["conversationId"] for c in reply.get("conversations", [])]


@pytest.fixture
async def start_sim(vtime) -> AsyncIterator[Callable[..., Any]]:
    """Start simulators on loopback that share the test's virtual clock."""
    running: list[Simulator] = []

    async def start(**settings: Any) -> Simulator:
        settings.setdefault("conversations", 3000)
        sim = Simulator(SimulatorConfig(**settings), clock=vtime.clock)
        await sim.start()
        running.append(sim)
        return sim

    yield start
    for sim in running:
        await sim.stop()


@pytest.fixture
async def connect(vtime) -> AsyncIterator[Callable[..., GenesysClient]]:
    """Build clients of a simulator, on the virtual clock, closed after the test."""
    made: list[GenesysClient] = []

    def connect(
        sim: Simulator, secret: str | None = None, **kwargs: Any
    ) -> GenesysClient:
        settings: dict[str, Any] = {
            "api_url": sim.base_url,
            "retry": RetryPolicy.immediate(max_attempts=30),
            "rate_limit": 100_000,
            # The limiter runs on the loop's real clock, and the client paces
            # at the server's inin-ratelimit-allowed taken per this period:
            # per second, the simulator's 300 leave the tests unhurried.
            "rate_period": 1.0,
            "_sleep": vtime.sleep,
            "_clock": vtime.clock,
        }
        settings.update(kwargs)
        client = GenesysClient(sim.client_id, secret or sim.client_secret, **settings)
        made.append(client)
        return client

    yield connect
    for client in made:
        await client.close()


async def test_a_query_returns_the_simulators_conversations(start_sim, connect) -> None:
    """The first page holds the first conversations of the day, with one token."""
    sim = await start_sim()
    client = connect(sim)

    reply = await client.request("POST", PATH, json=query(size=20))

    expected = (20, 1, {("oauth_token", 200): 1, ("details_query", 200): 1})
    assert expected == (
        len(ids(reply)),
        client.stats.token_requests,
        dict(sim.counters),
    )


async def test_every_fault_is_retried_into_the_fault_free_answer(
    start_sim, connect
) -> None:
    """5xx, dropped connections, HTML, truncated and empty bodies: same pages."""
    sim = await start_sim()
    client = connect(sim)
    pages = [query(day=1 + i % 7, page=1 + i // 7, size=20) for i in range(28)]
    expected = [ids(await client.request("POST", PATH, json=p)) for p in pages]
    faults = FaultConfig(
        error_rates={500: 0.08, 502: 0.08, 503: 0.08, 504: 0.08},
        disconnect_rate=0.08,
        html_error_rate=0.05,
        truncated_json_rate=0.05,
        empty_body_rate=0.05,
        seed=7,
    )
    sim.set_faults(faults)

    replies = await asyncio.gather(
        *(client.request("POST", PATH, json=p) for p in pages)
    )

    assert expected == [ids(r) for r in replies]
    reasons = set(client.stats.retries)
    assert {"500", "502", "503", "504", "connection", "malformed"} <= reasons


async def test_disconnects_alone_are_retried_as_connection_errors(
    start_sim, connect
) -> None:
    """A server that hangs up mid-request costs retries, not results."""
    sim = await start_sim(faults=FaultConfig(disconnect_rate=0.3, seed=3))
    client = connect(sim)

    replies = await asyncio.gather(
        *(client.request("POST", PATH, json=query(day=d)) for d in range(1, 8))
    )

    dropped = sum(n for (route, status), n in sim.counters.items() if status == 0)
    expected = (7, dropped)
    assert expected == (len(replies), client.stats.retries["connection"])


@pytest.mark.parametrize("style", ["seconds", "http-date", "omit"])
async def test_429s_pause_everyone_until_the_bucket_refills(
    start_sim, connect, vtime, style: str
) -> None:
    """Five per minute allowed, twelve asked at once: all answered, after pauses."""
    sim = await start_sim(rate_limit=5, rate_limit_period_s=60.0, retry_after=style)
    # The client's limiter runs on the loop's real clock: a one-second period
    # keeps its pace, once lowered to the server's allowed 5, quick to wait out.
    client = connect(
        sim, retry=RetryPolicy(max_attempts=30, max_time=3600), rate_period=1.0
    )
    started = vtime.now

    replies = await asyncio.gather(
        *(client.request("POST", PATH, json=query(day=1 + i % 7)) for i in range(12))
    )

    assert len(replies) == 12
    assert client.stats.pauses >= 1
    # Seven requests beyond the burst of five refill at one per 12 s.
    assert vtime.now - started >= 7 * 12 - 12


async def test_a_short_lived_token_is_renewed_before_it_expires(
    start_sim, connect, vtime
) -> None:
    """Inside the refresh margin the client asks anew and never meets a 401."""
    sim = await start_sim(token_lifetime_s=300)
    client = connect(sim)
    await client.request("POST", PATH, json=query())
    vtime.now += 280

    await client.request("POST", PATH, json=query())

    expected = (2, 0)
    assert expected == (
        client.stats.token_requests,
        sim.counters[("details_query", 401)],
    )


async def test_a_token_past_its_lifetime_costs_one_401_and_a_replay(
    start_sim, connect
) -> None:
    """Revoked tokens: the server says 401, the client renews once and replays."""
    sim = await start_sim()
    client = connect(sim)
    first = await client.request("POST", PATH, json=query())
    sim.expire_tokens()

    reply = await client.request("POST", PATH, json=query())

    expected = (ids(first), 2, 1)
    actual = (
        ids(reply),
        client.stats.token_requests,
        sim.counters[("details_query", 401)],
    )
    assert expected == actual


async def test_a_wrong_secret_is_an_authentication_error(start_sim, connect) -> None:
    """One grant, refused, in the server's words, never retried."""
    sim = await start_sim()
    client = connect(sim, secret="not-the-secret")

    with pytest.raises(AuthenticationError, match="bad secret"):
        await client.request("POST", PATH, json=query())

    assert sim.counters[("oauth_token", 401)] == 1


async def test_a_role_without_the_permission_is_told_which_it_lacks(
    start_sim, connect
) -> None:
    """403 names analytics:conversationDetail:view."""
    sim = await start_sim(permissions=frozenset())
    client = connect(sim)

    with pytest.raises(PermissionDeniedError) as caught:
        await client.request("POST", PATH, json=query())

    assert caught.value.permission == "analytics:conversationDetail:view"


async def test_the_servers_limits_become_their_own_errors(start_sim, connect) -> None:
    """Interval length, pagination cap and body size, each parsed, none retried."""
    sim = await start_sim(pagination_cap=100, max_request_bytes=2000)
    client = connect(sim)
    padded = {**query(), "padding": "x" * 3000}

    with pytest.raises(IntervalTooLongError) as too_long:
        await client.request("POST", PATH, json=query(days=8), interval="8 days")
    with pytest.raises(PaginationCapError) as capped:
        await client.request("POST", PATH, json=query(page=3))
    with pytest.raises(RequestTooLargeError) as too_large:
        await client.request("POST", PATH, json=padded)

    expected = (7, "8 days", 100, 2000, {})
    actual = (
        too_long.value.max_days,
        too_long.value.interval,
        capped.value.limit,
        too_large.value.max_bytes,
        dict(client.stats.retries),
    )
    assert expected == actual


async def test_no_secret_or_token_reaches_the_log_at_debug(
    start_sim, connect, caplog
) -> None:
    """Grants, a 401 replay and faults: our log lines never hold a credential."""
    caplog.set_level(logging.DEBUG, logger="genesys_async")
    sim = await start_sim(faults=FaultConfig(error_rates={503: 0.3}, seed=1))
    client = connect(sim)
    await client.request("POST", PATH, json=query())
    sim.expire_tokens()
    await client.request("POST", PATH, json=query())

    ours = [r.getMessage() for r in caplog.records if r.name == "genesys_async"]
    credentials = [sim.client_secret, *sim.issued_tokens]
    leaked = [line for line in ours for c in credentials if c in line]
    assert (len(sim.issued_tokens), leaked) == (2, [])
    assert all(c not in repr(client) for c in credentials)


async def test_many_requests_after_expiry_share_one_refresh(
    start_sim, connect, vtime
) -> None:
    """Past the simulator's token lifetime, 50 requests at once cause one grant."""
    sim = await start_sim(token_lifetime_s=300)
    client = connect(sim)
    await client.request("POST", PATH, json=query())
    vtime.now += 400

    await asyncio.gather(
        *(client.request("POST", PATH, json=query(day=1 + i % 7)) for i in range(50))
    )

    expected = (2, 2, 0)
    actual = (
        client.stats.token_requests,
        sim.counters[("oauth_token", 200)],
        sim.counters[("details_query", 401)],
    )
    assert expected == actual


async def test_many_requests_meeting_a_revoked_token_share_one_refresh(
    start_sim, connect
) -> None:
    """Every request of a burst meets 401; one new grant serves all replays."""
    sim = await start_sim()
    client = connect(sim)
    await client.request("POST", PATH, json=query())
    sim.expire_tokens()

    replies = await asyncio.gather(
        *(client.request("POST", PATH, json=query(day=1 + i % 7)) for i in range(20))
    )

    expected = (20, 2)
    assert expected == (len(replies), sim.counters[("oauth_token", 200)])


async def test_a_server_always_503_is_given_up_after_max_attempts(
    start_sim, connect
) -> None:
    """Four tries allowed: four requests reach the server, then ServerError."""
    sim = await start_sim(faults=FaultConfig(error_rates={503: 1.0}))
    client = connect(sim, retry=RetryPolicy.immediate(max_attempts=4))

    with pytest.raises(ServerError) as caught:
        await client.request("POST", PATH, json=query(), interval="d/1")

    expected = (503, "service.unavailable", "d/1", 4, {"503": 3})
    actual = (
        caught.value.status,
        caught.value.code,
        caught.value.interval,
        sim.counters[("details_query", 503)],
        dict(client.stats.retries),
    )
    assert expected == actual


async def test_a_server_always_503_is_given_up_within_max_time(
    start_sim, connect, vtime
) -> None:
    """Backoff up to 8 s within 30 s allowed: ServerError before 30 s pass."""
    sim = await start_sim(faults=FaultConfig(error_rates={503: 1.0}))
    policy = RetryPolicy(max_attempts=1000, max_time=30.0, max_backoff=8.0)
    client = connect(sim, retry=policy)
    started = vtime.now

    with pytest.raises(ServerError):
        await client.request("POST", PATH, json=query())

    tries = sim.counters[("details_query", 503)]
    assert (vtime.now - started <= 30.0, tries > 3) == (True, True)
