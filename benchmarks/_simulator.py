"""Serve the simulator in a process of its own for the benchmarks.

Run as `python -m benchmarks._simulator '<SimulatorConfig fields as JSON>'`. It
prints one JSON line with the base URL once it listens, then serves until
SIGTERM, SIGINT or the closing of its standard input (so it never outlives
the benchmark that started it).

The simulator builds each record from its seed, which costs about half a
millisecond per record on the benchmark machine: serving 100 records a page at
50 pages a second would need more than one core. So that the benchmarks
measure the exporter and not the simulator, records are recycled: every
conversation keeps its own id, start and end (all that the exporter reads),
and takes the rest of its body (participants, sessions, segments, metrics)
from one of a pool of real records built once. Sizes and shapes are those of
real records; which conversations match a query is the simulator's own logic.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime
from typing import Any

import orjson

from genesys_async.simulator import FaultConfig, Simulator, SimulatorConfig
from genesys_async.simulator._records import format_ms

_POOL = 1000


def config_from_json(spec: dict[str, Any]) -> SimulatorConfig:
    """A SimulatorConfig from JSON fields (dates as ISO-8601, faults as a dict)."""
    fields = dict(spec)
    for name in ("start", "end", "now"):
        if fields.get(name):
            fields[name] = datetime.fromisoformat(fields[name])
    faults = dict(fields.pop("faults", {}))
    if "error_rates" in faults:
        faults["error_rates"] = {int(k): v for k, v in faults["error_rates"].items()}
    return SimulatorConfig(**fields, faults=FaultConfig(**faults))


def recycle_records(sim: Simulator) -> None:
    """Serve each conversation's id and times on a body from a pool of records."""
    data = sim.dataset
    size = len(data)
    if size == 0:
        return
    step = max(1, size // _POOL)
    pool = [data.record(i) for i in range(0, size, step)][:_POOL]

    def record(i: int) -> dict[str, Any]:
        body = dict(pool[i % len(pool)])
        body["conversationId"] = data.conversation_id(i)
        body["conversationStart"] = format_ms(data.start_ms(i))
        end = data.end_ms(i)
        if end is None:
            body.pop("conversationEnd", None)
        else:
            body["conversationEnd"] = format_ms(end)
        return body

    # An instance attribute shadows the method for this one dataset.
    data.record = record  # type: ignore[method-assign]


async def serve(config: SimulatorConfig, recycle: bool) -> None:
    """Serve until a signal or the end of standard input."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_reader(sys.stdin.fileno(), stop.set)

    async with Simulator(config) as sim:
        if recycle:
            recycle_records(sim)
        line = {"base_url": sim.base_url, "conversations": len(sim.dataset)}
        print(orjson.dumps(line).decode(), flush=True)
        await stop.wait()


def main() -> None:
    """Parse the JSON config in argv[1] and serve."""
    spec = orjson.loads(sys.argv[1])
    recycle = bool(spec.pop("recycle", True))
    asyncio.run(serve(config_from_json(spec), recycle))


if __name__ == "__main__":
    main()
