"""Helpers for end-to-end tests of details jobs against the simulator over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from genesys_async._client import GenesysClient
from genesys_async._http import RetryPolicy
from genesys_async._jobs import JobOptions
from genesys_async.simulator import Simulator, SimulatorConfig
from genesys_async.simulator._config import JobsConfig

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
# Jobs that never wait on the wall clock: the simulator's time is a SteppingClock.
FAST = JobOptions(poll_initial=0.0, poll_max=0.0, page_size=250)


class SteppingClock:
    """Monotonic seconds that move ``step`` every time they are read.

    A job PENDING for N seconds ends after a bounded number of requests, so
    tests wait on no wall-clock time and a client that polled without end
    would still see its jobs finish.
    """

    def __init__(self, step: float = 1.0) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def config(
    days: int = 30,
    conversations: int = 1_500,
    jobs: JobsConfig | None = None,
    **knobs: Any,
) -> SimulatorConfig:
    """A simulator holding data from a day before START to START + days."""
    knobs.setdefault("rate_limit", None)
    return SimulatorConfig(
        seed=7,
        start=START - timedelta(days=1),
        end=START + timedelta(days=days),
        conversations=conversations,
        jobs=jobs or JobsConfig(),
        **knobs,
    )


@asynccontextmanager
async def connected(
    settings: SimulatorConfig,
    clock: Callable[[], float] | None = None,
    **client_knobs: Any,
) -> AsyncIterator[tuple[Simulator, GenesysClient]]:
    """A running simulator and a client of it with zero-wait retries."""
    client_knobs.setdefault("retry", RetryPolicy.immediate(max_attempts=12))
    client_knobs.setdefault("rate_limit", 1_000_000)
    async with (
        Simulator(settings, clock=clock) as simulator,
        GenesysClient(
            simulator.client_id,
            simulator.client_secret,
            api_url=simulator.base_url,
            login_url=simulator.base_url,
            **client_knobs,
        ) as client,
    ):
        yield simulator, client


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of an NDJSON file (an output or a manifest)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def submits(simulator: Simulator) -> int:
    """Jobs the simulator accepted."""
    return simulator.counters[("details_jobs_submit", 202)]


def assert_exact(
    records: list[dict[str, Any]],
    simulator: Simulator,
    start: datetime,
    end: datetime,
) -> None:
    """No id missing, none extra, none twice, each record as served.

    The simulator's records are the query's; a job's record is the same plus
    its participants' ``attributes``, so those are left out of the comparison.
    """
    ids = [record["conversationId"] for record in records]
    served = {r["conversationId"]: r for r in simulator.records(start, end)}

    assert len(ids) == len(set(ids)), "a conversation appears twice"
    assert set(served) == set(ids)
    assert all(
        without_attributes(record) == served[record["conversationId"]]
        for record in records
    )


def without_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """The record with no ``participants[].attributes``: as the query serves it."""
    participants = [
        {key: value for key, value in participant.items() if key != "attributes"}
        for participant in record["participants"]
    ]
    return {**record, "participants": participants}


def attributes(record: dict[str, Any]) -> list[dict[str, str]]:
    """The ``attributes`` maps of the record's participants that have one."""
    return [p["attributes"] for p in record["participants"] if "attributes" in p]
