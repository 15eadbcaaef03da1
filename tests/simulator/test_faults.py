"""Seeded faults: server errors, dropped connections, spoiled replies, latency."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from genesys_async.simulator import FaultConfig, Simulator

MakeSim = Callable[..., Awaitable[Simulator]]
BODY = {"interval": "2026-09-02T00:00:00Z/2026-09-02T02:00:00Z"}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "internal.server.error"),
        (502, "bad.gateway"),
        (503, "service.unavailable"),
        (504, "request.timeout"),
    ],
)
async def test_error_rate_one_answers_that_status_with_its_real_code(
    api: Any, sim: Simulator, token: str, status: int, code: str
) -> None:
    sim.set_faults(FaultConfig(error_rates={status: 1.0}))

    reply = await api.query(sim, token, BODY)

    assert (status, code) == (reply.status, reply.body["code"])


async def test_dropped_connection_gives_no_reply_and_counts_status_zero(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(FaultConfig(disconnect_rate=1.0))

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.query(sim, token, BODY)

    assert sim.counters[("details_query", 0)] == 1


async def test_html_error_page_comes_with_502(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(FaultConfig(html_error_rate=1.0))

    reply = await api.query(sim, token, BODY)

    assert reply.status == 502
    assert reply.body.startswith(b"<html>")


async def test_truncated_json_comes_with_200(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(FaultConfig(truncated_json_rate=1.0))

    reply = await api.query(sim, token, BODY)

    assert reply.status == 200
    assert isinstance(reply.body, bytes)
    assert reply.body.startswith(b"{")


async def test_empty_body_comes_with_200(api: Any, sim: Simulator, token: str) -> None:
    sim.set_faults(FaultConfig(empty_body_rate=1.0))

    reply = await api.query(sim, token, BODY)

    assert (reply.status, reply.raw) == (200, b"")


async def test_faults_can_be_turned_off_at_runtime(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(FaultConfig(error_rates={503: 1.0}))
    during = await api.query(sim, token, BODY)
    sim.set_faults(FaultConfig())
    after = await api.query(sim, token, BODY)

    assert (during.status, after.status) == (503, 200)


async def test_same_fault_seed_gives_the_same_sequence_of_faults(
    api: Any, sim: Simulator, token: str
) -> None:
    faults = FaultConfig(error_rates={500: 0.3, 503: 0.3}, seed=42)
    runs = []

    for _ in range(2):
        sim.set_faults(faults)
        runs.append([(await api.query(sim, token, BODY)).status for _ in range(20)])

    assert runs[0] == runs[1]
    assert {200, 500, 503} == set(runs[0])


async def test_faults_from_the_config_apply_from_the_start(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(faults=FaultConfig(error_rates={504: 1.0}))
    token = await api.token(sim)

    reply = await api.query(sim, token, BODY)

    assert reply.status == 504


async def test_token_route_is_never_faulted(api: Any, sim: Simulator) -> None:
    sim.set_faults(FaultConfig(error_rates={500: 1.0}, disconnect_rate=0.0))

    token = await api.token(sim)

    assert token


async def test_latency_has_a_base_and_a_per_record_part(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(FaultConfig(latency_ms=30, latency_per_record_ms=1))
    body = {
        "interval": "2026-09-02T00:00:00Z/2026-09-03T00:00:00Z",
        "paging": {"pageSize": 40},
    }

    began = time.perf_counter()
    reply = await api.query(sim, token, body)
    elapsed = time.perf_counter() - began

    assert len(reply.body["conversations"]) == 40
    assert elapsed >= 0.07


async def test_latency_tail_multiplies_the_delay(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(
        FaultConfig(
            latency_ms=20, latency_tail_probability=1.0, latency_tail_multiplier=5
        )
    )

    began = time.perf_counter()
    await api.query(sim, token, BODY)
    elapsed = time.perf_counter() - began

    assert elapsed >= 0.1


async def test_token_error_rate_answers_503_on_the_token_route_only(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.set_faults(FaultConfig(token_error_rate=1.0))
    auth = api.basic(sim.client_id, sim.client_secret)

    login = await api.post_token(sim, auth, "client_credentials")
    query = await api.query(sim, token, BODY)

    assert (login.status, login.body["error"]) == (503, "temporarily_unavailable")
    assert query.status == 200


async def test_a_partial_token_error_rate_lets_a_retried_login_through(
    api: Any, sim: Simulator
) -> None:
    sim.set_faults(FaultConfig(token_error_rate=0.5, seed=5))
    auth = api.basic(sim.client_id, sim.client_secret)

    statuses = [
        (await api.post_token(sim, auth, "client_credentials")).status
        for _ in range(20)
    ]

    assert {200, 503} == set(statuses)


@pytest.mark.parametrize(
    ("faults", "complaint"),
    [
        ({"error_rates": {418: 0.5}}, "must be one of"),
        ({"error_rates": {503: -0.1}}, r"probability in \[0, 1\]"),
        ({"error_rates": {503: 1.5}}, r"probability in \[0, 1\]"),
        ({"error_rates": {500: 0.6, 503: 0.6}}, "at most 1"),
        ({"disconnect_rate": 0.5, "empty_body_rate": 0.6}, "at most 1"),
        ({"html_error_rate": -0.01}, r"probability in \[0, 1\]"),
        ({"token_error_rate": 2.0}, r"probability in \[0, 1\]"),
        ({"latency_ms": -1}, "must not be negative"),
        ({"latency_tail_multiplier": 0}, "must be positive"),
    ],
)
def test_impossible_faults_are_refused(faults: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        FaultConfig(**faults)
