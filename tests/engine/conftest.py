"""Helpers for end-to-end export tests against the simulator over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from genesys_async._client import GenesysClient
from genesys_async._http import RetryPolicy
from genesys_async.simulator import Simulator, SimulatorConfig

START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def config(days: int = 90, conversations: int = 6_000, **knobs: Any) -> SimulatorConfig:
    """A simulator holding data from a day before START to START + days."""
    knobs.setdefault("rate_limit", None)
    return SimulatorConfig(
        seed=7,
        start=START - timedelta(days=1),
        end=START + timedelta(days=days),
        conversations=conversations,
        **knobs,
    )


@asynccontextmanager
async def connected(
    settings: SimulatorConfig, **client_knobs: Any
) -> AsyncIterator[tuple[Simulator, GenesysClient]]:
    """A running simulator and a client of it with zero-wait retries."""
    client_knobs.setdefault("retry", RetryPolicy.immediate(max_attempts=12))
    client_knobs.setdefault("rate_limit", 1_000_000)
    async with (
        Simulator(settings) as simulator,
        GenesysClient(
            simulator.client_id,
            simulator.client_secret,
            api_url=simulator.base_url,
            login_url=simulator.base_url,
            **client_knobs,
        ) as client,
    ):
        yield simulator, client


def read_output(path: Path) -> list[dict[str, Any]]:
    """The records of an NDJSON output."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def assert_exact(
    records: list[dict[str, Any]],
    simulator: Simulator,
    start: datetime,
    end: datetime,
    keep: Callable[[dict[str, Any]], bool] = lambda record: True,
) -> None:
    """No id missing, none extra, none twice, each record as served."""
    ids = [record["conversationId"] for record in records]
    served = {r["conversationId"]: r for r in simulator.records(start, end) if keep(r)}

    assert len(ids) == len(set(ids)), "a conversation appears twice"
    assert set(ids) == set(served)
    assert all(record == served[record["conversationId"]] for record in records)
