"""`Simulator`: run the application on a loopback port for a test or a script."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

from aiohttp import web

from genesys_async.simulator._app import create_app
from genesys_async.simulator._config import FaultConfig, SimulatorConfig
from genesys_async.simulator._data import Dataset
from genesys_async.simulator._state import STATE_KEY, State

__all__ = ["Simulator"]


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return int(moment.timestamp() * 1000)


class Simulator:
    """A running simulator: `async with Simulator(config) as sim: sim.base_url`.

    Args:
        config: the simulator's configuration; None means the defaults.
        host: address to listen on.
        port: port to listen on; 0 picks a free one.
        clock: monotonic seconds for token expiry and rate limits; None means
            `time.monotonic`.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.host = host
        self.port = port
        self.app = create_app(self.config, clock=clock)
        self.state: State = self.app[STATE_KEY]
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start serving; `base_url` is valid afterwards."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """ "http://host:port", serving both `/oauth/token` and `/api/v2/...`."""
        return f"http://{self.host}:{self.port}"

    @property
    def client_id(self) -> str:
        """The OAuth client id the simulator accepts."""
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        """The OAuth client secret the simulator accepts."""
        return self.config.client_secret

    @property
    def dataset(self) -> Dataset:
        """The conversations being served."""
        return self.state.dataset

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far, oldest first."""
        return self.state.issued_tokens

    @property
    def counters(self) -> Counter[tuple[str, int]]:
        """Requests by (route name, HTTP status); status 0 is a dropped connection.

        Route names: "oauth_token", "details_query", and "unknown" for no route.
        """
        return self.state.counters

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the faults from the next request on (reseeds their generator)."""
        self.state.set_faults(faults)

    def expire_tokens(self) -> None:
        """Invalidate every issued token, so the next API call answers 401."""
        self.state.expire_tokens()

    def ground_truth(self, start: datetime, end: datetime) -> set[str]:
        """Ids of the conversations whose conversationStart lies in [start, end)."""
        data = self.dataset
        return {data.conversation_id(i) for i in data.index_range(_ms(start), _ms(end))}

    def records(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """The records, as served, of conversations starting in [start, end)."""
        data = self.dataset
        for i in data.index_range(_ms(start), _ms(end)):
            yield data.record(i)
