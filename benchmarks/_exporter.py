"""One genesys-async export in a process of its own, measured from inside.

Run as `python -m benchmarks._exporter '<spec as JSON>'`; prints one JSON line:
the export's report, CPU seconds, peak RSS, and a sample every tenth of a second of
the requests sent so far and of the resident memory.

Spec keys: base_url, start, end (ISO-8601), output (a path), rate_limit and
rate_period (the client's limiter), concurrency, max_connections, page_size.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from datetime import datetime
from typing import Any

import orjson
import psutil

from genesys_async._client import GenesysClient
from genesys_async._export import ExportOptions, export_conversations

SAMPLE_S = 0.1


async def _sample(
    client: GenesysClient, began: float, into: list[dict[str, float]]
) -> None:
    """Every SAMPLE_S seconds, note the requests sent and the resident memory."""
    me = psutil.Process()
    while True:
        into.append(
            {
                "t": round(time.monotonic() - began, 3),
                "requests": client.stats.requests,
                "rss_mb": round(me.memory_info().rss / 2**20, 1),
            }
        )
        await asyncio.sleep(SAMPLE_S)


async def export(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the export the spec describes; return its figures."""
    client = GenesysClient(
        os.environ["GENESYSCLOUD_OAUTHCLIENT_ID"],
        os.environ["GENESYSCLOUD_OAUTHCLIENT_SECRET"],
        api_url=spec["base_url"],
        rate_limit=spec["rate_limit"],
        rate_period=spec["rate_period"],
        rate_headroom=spec.get("rate_headroom", 0.02),
        max_connections=spec["max_connections"],
    )
    options = ExportOptions(
        concurrency=spec["concurrency"], page_size=spec.get("page_size", 100)
    )
    samples: list[dict[str, float]] = []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_before = time.process_time()
    began = time.monotonic()
    sampler = asyncio.create_task(_sample(client, began, samples))
    async with client:
        report = await export_conversations(
            client,
            datetime.fromisoformat(spec["start"]),
            datetime.fromisoformat(spec["end"]),
            spec["output"],
            options=options,
            restart=True,
            # The scenarios measure the synchronous query against its limits;
            # left to itself, the library would take jobs for this old range.
            api="query",
        )
    wall = time.monotonic() - began
    cpu = time.process_time() - cpu_before
    sampler.cancel()
    samples.append(
        {"t": round(wall, 3), "requests": client.stats.requests, "rss_mb": None}
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "report": report.as_dict(),
        "requests_sent": client.stats.requests,
        "token_requests": client.stats.token_requests,
        "pauses": client.stats.pauses,
        "wall_s": round(wall, 3),
        "export_cpu_s": round(cpu, 3),
        "process_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rss_before_export_mb": round(rss_before, 1),
        "samples": samples,
    }


def main() -> None:
    """Run the export of the JSON spec in argv[1]; print the figures as JSON."""
    spec = orjson.loads(sys.argv[1])
    result = asyncio.run(export(spec))
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
