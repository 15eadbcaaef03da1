"""Assemble the simulator's aiohttp application from its route modules."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from genesys_async.simulator import _aggregates, _auth, _details, _jobs
from genesys_async.simulator._config import SimulatorConfig
from genesys_async.simulator._middleware import api_middleware
from genesys_async.simulator._state import STATE_KEY, State

__all__ = ["create_app"]

# aiohttp's own size limit would answer 413 in its own words before the
# simulator's configurable limit could; set it far above any sensible limit.
_AIOHTTP_MAX_BODY = 256 * 1024 * 1024


def create_app(
    config: SimulatorConfig | None = None, *, clock: Callable[[], float] | None = None
) -> web.Application:
    """The simulator as an aiohttp application, serving token and API routes.

    Args:
        config: the simulator's configuration; None means the defaults.
        clock: monotonic seconds for token expiry and rate limits; None means
            `time.monotonic`.
    """
    state = State(config or SimulatorConfig(), clock)
    app = web.Application(
        middlewares=[api_middleware], client_max_size=_AIOHTTP_MAX_BODY
    )
    app[STATE_KEY] = state
    # One line per route module.
    _auth.register(app, state)
    _details.register(app, state)
    _aggregates.register(app, state)
    _jobs.register(app, state)
    return app
