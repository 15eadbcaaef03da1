"""Fixtures: small simulators on loopback and an HTTP helper to talk to them.

pytest runs with --import-mode=importlib, so test modules cannot import this file:
everything they share comes through fixtures.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from genesys_async.simulator import Simulator, SimulatorConfig

QUERY_PATH = "/api/v2/analytics/conversations/details/query"

# Small and fast; rate limiting off unless a test turns it on.
SMALL = SimulatorConfig(
    seed=7,
    start=datetime(2026, 9, 1, tzinfo=timezone.utc),
    end=datetime(2026, 9, 15, tzinfo=timezone.utc),
    conversations=4000,
    rate_limit=None,
)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Reply:
    """What a test needs from one HTTP reply."""

    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes = b""


class Api:
    """Talks HTTP to a simulator over loopback."""

    query_path = QUERY_PATH

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    @staticmethod
    def basic(client_id: str, secret: str) -> str:
        raw = f"{client_id}:{secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    async def post_token(
        self, sim: Simulator, authorization: str | None, grant: str
    ) -> Reply:
        headers = {} if authorization is None else {"Authorization": authorization}
        async with self.http.post(
            sim.base_url + "/oauth/token",
            data={"grant_type": grant},
            headers=headers,
        ) as reply:
            return Reply(reply.status, await reply.json(), dict(reply.headers))

    async def token(self, sim: Simulator) -> str:
        auth = self.basic(sim.client_id, sim.client_secret)
        reply = await self.post_token(sim, auth, "client_credentials")
        assert reply.status == 200
        token: str = reply.body["access_token"]
        return token

    async def post(
        self, sim: Simulator, token: str | None, data: bytes, path: str = QUERY_PATH
    ) -> Reply:
        """POST raw bytes; the body is parsed as JSON when it is JSON."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(sim.base_url + path, data=data, headers=headers) as r:
            raw = await r.read()
            try:
                body: Any = await r.json(content_type=None)
            except ValueError:
                body = raw
            return Reply(r.status, body, dict(r.headers), raw)

    async def query(self, sim: Simulator, token: str | None, body: Any) -> Reply:
        import json

        return await self.post(sim, token, json.dumps(body).encode())


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session)


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Awaitable[Simulator]]]:
    """Start a simulator from SMALL with changes: `await make_sim(clock=c, seed=2)`."""
    async with AsyncExitStack() as stack:

        async def start(
            clock: Callable[[], float] | None = None, **changes: Any
        ) -> Simulator:
            sim = Simulator(replace(SMALL, **changes), clock=clock)
            return await stack.enter_async_context(sim)

        yield start


@pytest.fixture
async def sim(make_sim: Callable[..., Awaitable[Simulator]]) -> Simulator:
    return await make_sim()


@pytest.fixture
async def token(api: Api, sim: Simulator) -> str:
    return await api.token(sim)
