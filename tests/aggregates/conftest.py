"""Fixtures for aggregates tests: a small simulator over the end of DST in
Europe/Berlin (Sunday 2026-10-25), and ground truth read from details records.

pytest runs with --import-mode=importlib, so everything test modules share
comes through fixtures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from genesys_async._client import GenesysClient
from genesys_async._http import RetryPolicy
from genesys_async.simulator import Dataset, Simulator, SimulatorConfig

BERLIN = ZoneInfo("Europe/Berlin")
# Three Berlin days; the middle one has 25 hours.
RANGE_START = datetime(2026, 10, 24, tzinfo=BERLIN)
RANGE_END = datetime(2026, 10, 27, tzinfo=BERLIN)

# Data from four days before the range: longer than any conversation lasts,
# so every metric emitted in the range comes from a conversation in the data.
CONFIG = SimulatorConfig(
    seed=11,
    start=datetime(2026, 10, 19, 12, tzinfo=timezone.utc),
    end=datetime(2026, 10, 27, tzinfo=timezone.utc),
    conversations=3000,
    rate_limit=None,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Aggregates metric -> the name the details records carry it under.
RECORD_NAME = {"tWait": "tAcd"}


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def parse_ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


@dataclass(frozen=True)
class Emitted:
    """One metric of a details record, with the queue of its session."""

    name: str
    value: int
    emit_ms: int
    queue_id: str | None


def emitted_metrics(records: Iterable[dict[str, Any]]) -> list[Emitted]:
    """Every session metric of the records, read as a reporting user would."""
    found = []
    for record in records:
        for participant in record["participants"]:
            for session in participant["sessions"]:
                queues = [s["queueId"] for s in session["segments"] if "queueId" in s]
                queue = queues[0] if queues else None
                for metric in session.get("metrics", []):
                    emit = parse_ms(metric["emitDate"])
                    found.append(Emitted(metric["name"], metric["value"], emit, queue))
    return found


Table = dict[tuple[str | None, int], dict[str, tuple[int, ...]]]


def expected_table(
    metrics: Iterable[Emitted],
    names: Iterable[str],
    bucket_of: Callable[[int], int],
    start_ms: int,
    end_ms: int,
) -> Table:
    """(queueId, bucket start ms) -> metric -> (count,) or (count, sum)."""
    wanted = {RECORD_NAME.get(name, name): name for name in names}
    sums: dict[tuple[str | None, int], dict[str, list[int]]] = defaultdict(dict)
    for m in metrics:
        if m.name in wanted and start_ms <= m.emit_ms < end_ms:
            key = (m.queue_id, bucket_of(m.emit_ms))
            counted = sums[key].setdefault(wanted[m.name], [0, 0])
            counted[0] += 1
            counted[1] += m.value
    return {
        key: {n: (c[1],) if n.startswith("n") else tuple(c) for n, c in per.items()}
        for key, per in sums.items()
    }


def observed_table(results: Iterable[dict[str, Any]]) -> Table:
    """The same table from aggregates results grouped by queueId."""
    table: Table = {}
    for result in results:
        queue = result["group"].get("queueId")
        for entry in result["data"]:
            key = (queue, parse_ms(entry["interval"].split("/")[0]))
            assert key not in table, f"bucket {key} appears twice"
            table[key] = {
                m["metric"]: (m["stats"]["count"],)
                if m["metric"].startswith("n")
                else (m["stats"]["count"], m["stats"]["sum"])
                for m in entry["metrics"]
            }
    return table


def half_hour(emit_ms: int) -> int:
    """Start of the 30-minute bucket; Berlin's offsets are whole hours."""
    return emit_ms - emit_ms % 1_800_000


def berlin_day(emit_ms: int) -> int:
    """Start of the Berlin calendar day holding the instant."""
    local = (_EPOCH + timedelta(milliseconds=emit_ms)).astimezone(BERLIN)
    midnight = datetime(local.year, local.month, local.day, tzinfo=BERLIN)
    return to_ms(midnight)


def berlin_month(emit_ms: int) -> int:
    """Start of the Berlin calendar month holding the instant."""
    local = (_EPOCH + timedelta(milliseconds=emit_ms)).astimezone(BERLIN)
    return to_ms(datetime(local.year, local.month, 1, tzinfo=BERLIN))


class Truth:
    """Ground truth and helpers, handed to tests as one fixture."""

    config = CONFIG
    start = RANGE_START
    end = RANGE_END
    start_ms = to_ms(RANGE_START)
    end_ms = to_ms(RANGE_END)
    half_hour = staticmethod(half_hour)
    berlin_day = staticmethod(berlin_day)
    berlin_month = staticmethod(berlin_month)
    emitted_metrics = staticmethod(emitted_metrics)
    observed = staticmethod(observed_table)

    def __init__(self, metrics: list[Emitted]) -> None:
        self.metrics = metrics

    def expected(
        self,
        names: Iterable[str],
        bucket_of: Callable[[int], int],
        metrics: list[Emitted] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Table:
        """The table the range (or ``[start_ms, end_ms)``) should give."""
        chosen = self.metrics if metrics is None else metrics
        return expected_table(
            chosen,
            names,
            bucket_of,
            self.start_ms if start_ms is None else start_ms,
            self.end_ms if end_ms is None else end_ms,
        )


@pytest.fixture(scope="session")
def truth() -> Truth:
    """Metrics of every record of the simulator's data, built once."""
    data = Dataset(
        seed=CONFIG.seed,
        start=CONFIG.start,
        end=CONFIG.end,
        conversations=CONFIG.conversations,
        now=CONFIG.now,
    )
    return Truth(emitted_metrics(data.record(i) for i in range(len(data))))


Connect = Callable[..., AbstractAsyncContextManager[tuple[Simulator, GenesysClient]]]


@pytest.fixture
def connect() -> Connect:
    """`async with connect(**config_changes) as (simulator, client)`."""

    @asynccontextmanager
    async def connected(
        **changes: Any,
    ) -> AsyncIterator[tuple[Simulator, GenesysClient]]:
        settings = replace(CONFIG, **changes)
        async with (
            Simulator(settings) as simulator,
            GenesysClient(
                simulator.client_id,
                simulator.client_secret,
                api_url=simulator.base_url,
                login_url=simulator.base_url,
                retry=RetryPolicy.immediate(max_attempts=30),
                rate_limit=1_000_000,
            ) as client,
        ):
            yield simulator, client

    return connected
