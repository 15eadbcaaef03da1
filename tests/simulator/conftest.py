"""Fixtures: a small simulator on loopback and an HTTP session to talk to it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from genesys_async.simulator import Simulator, SimulatorConfig

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
END = datetime(2026, 9, 15, tzinfo=timezone.utc)
QUERY_PATH = "/api/v2/analytics/conversations/details/query"

# Small and fast; rate limiting off unless a test turns it on.
SMALL = SimulatorConfig(
    seed=7, start=START, end=END, conversations=4000, rate_limit=None
)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def basic(client_id: str, secret: str) -> str:
    raw = f"{client_id}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


async def get_token(http: aiohttp.ClientSession, sim: Simulator) -> str:
    async with http.post(
        sim.base_url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(sim.client_id, sim.client_secret)},
    ) as reply:
        assert reply.status == 200
        body = await reply.json()
    token: str = body["access_token"]
    return token


async def query(
    http: aiohttp.ClientSession, sim: Simulator, token: str, body: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    """POST a details query; (status, JSON body, headers)."""
    async with http.post(
        sim.base_url + QUERY_PATH,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as reply:
        return reply.status, await reply.json(content_type=None), reply.headers


def config(**changes: Any) -> SimulatorConfig:
    return replace(SMALL, **changes)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SMALL) as running:
        yield running


@pytest.fixture
async def token(http: aiohttp.ClientSession, sim: Simulator) -> str:
    return await get_token(http, sim)
