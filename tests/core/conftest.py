"""Fixtures for the client core: virtual time and a mocked Genesys Cloud."""

from __future__ import annotations

import asyncio
import inspect
import selectors
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from yarl import URL

from genesys_async._client import GenesysClient
from genesys_async._http import RetryPolicy


class VirtualTime:
    """A clock and a sleep that record waits and jump ahead instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Concurrent sleepers share one timeline: each wakes at its own target.
        target = self.now + seconds
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        self.now = max(self.now, target)


T = TypeVar("T")


_TURN = 1e-6


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Moves its loop's clock to the next timer instead of blocking until it."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            raise RuntimeError("virtual loop: nothing scheduled, it would wait forever")
        # Each turn of the loop takes a microsecond, as on a real clock: a
        # timer due "now" within float rounding (aiolimiter recomputes its
        # wake-up from the clock) is then always reached.
        self._loop.now += max(_TURN, timeout)
        return super().select(0)


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: a timeline as exact as the real one's.

    Unlike VirtualTime, concurrent sleepers wake in the order of their targets,
    so tests of the rate limiter and of pauses can count sends in a window.
    """

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self.now


class FakeGenesys:
    """aioresponses routes for one region, plus clients wired to virtual time."""

    client_id = "client-id-1"
    secret = "s3cr3t-client-secret-value"
    token = "issued-access-token-0001"
    api = "https://api.mypurecloud.com"
    token_url = "https://login.mypurecloud.com/oauth/token"
    query_path = "/api/v2/analytics/conversations/details/query"
    query_url = api + query_path
    interval = "2026-09-01T00:00:00.000Z/2026-09-08T00:00:00.000Z"

    def __init__(self, mock: aioresponses, vtime: VirtualTime) -> None:
        self.mock = mock
        self.vtime = vtime
        self.clients: list[GenesysClient] = []

    def client(self, **kwargs: Any) -> GenesysClient:
        """Return a client on us-east-1 that retries at once and never sleeps."""
        settings: dict[str, Any] = {
            "region": "us-east-1",
            "retry": RetryPolicy.immediate(),
            "rate_limit": 100_000,
            # The full limit, so tests can reason about exact slots.
            "rate_headroom": 0.0,
            "_sleep": self.vtime.sleep,
            "_clock": self.vtime.clock,
        }
        settings.update(kwargs)
        client = GenesysClient(self.client_id, self.secret, **settings)
        self.clients.append(client)
        return client

    def grant(
        self, token: str | None = None, expires_in: int = 86400, **kwargs: Any
    ) -> None:
        """Register one successful token grant."""
        payload = {
            "access_token": token or self.token,
            "token_type": "bearer",
            "expires_in": expires_in,
        }
        self.mock.post(self.token_url, payload=payload, **kwargs)

    def calls(self, method: str, url: str) -> list[Any]:
        """Return the requests received for one method and URL."""
        key = (method, aioresponses_core.normalize_url(URL(url)))
        return list(self.mock.requests.get(key, []))

    def token_calls(self) -> int:
        return len(self.calls("POST", self.token_url))

    def query_calls(self) -> int:
        return len(self.calls("POST", self.query_url))


class VirtualGenesys(FakeGenesys):
    """FakeGenesys whose clients run on a VirtualLoop, inside `run`."""

    def client(self, **kwargs: Any) -> GenesysClient:
        """Return a client on the running VirtualLoop's clock and sleep."""
        kwargs.setdefault("_clock", asyncio.get_running_loop().time)
        kwargs.setdefault("_sleep", asyncio.sleep)
        return super().client(**kwargs)

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run `main()` on a fresh VirtualLoop; close its clients after it."""

        async def wrapped() -> T:
            try:
                return await main()
            finally:
                for client in self.clients:
                    await client.close()

        loop = VirtualLoop()
        try:
            return loop.run_until_complete(wrapped())
        finally:
            loop.close()


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


class _MockedResponse(aiohttp.ClientResponse):
    """A ClientResponse that aioresponses 0.7.x can build under aiohttp 3.14+.

    aiohttp 3.14 made `stream_writer` a required argument that aioresponses
    does not pass (pnuckowski/aioresponses#289); a sent request has only its
    output size read from it.
    """

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


_NEEDS_STREAM_WRITER = (
    "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters
)


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    if _NEEDS_STREAM_WRITER:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _MockedResponse)
    with aioresponses() as m:
        yield m


@pytest.fixture
async def genesys(mock: aioresponses, vtime: VirtualTime) -> AsyncIterator[FakeGenesys]:
    fake = FakeGenesys(mock, vtime)
    yield fake
    for client in fake.clients:
        await client.close()


@pytest.fixture
def virtual_genesys(mock: aioresponses, vtime: VirtualTime) -> VirtualGenesys:
    """A mocked Genesys Cloud for sync tests that drive a VirtualLoop."""
    return VirtualGenesys(mock, vtime)
