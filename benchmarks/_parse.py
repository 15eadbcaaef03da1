"""The CPU cost of only parsing the replies an export receives, for comparison.

Run as `python -m benchmarks._parse '<spec as JSON>'` (keys: base_url, start,
end, page_size). Fetches every page of the range's 7-day chunks as raw bytes,
then measures the CPU seconds of `orjson.loads` over all of them, and of
`orjson.loads` plus `orjson.dumps` of each record (what any exporter that
writes records one a line must do at least). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import orjson

_QUERY = "/api/v2/analytics/conversations/details/query"
_CHUNK = timedelta(days=7)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def _token(session: aiohttp.ClientSession, base_url: str) -> str:
    auth = aiohttp.BasicAuth(
        os.environ["GENESYSCLOUD_OAUTHCLIENT_ID"],
        os.environ["GENESYSCLOUD_OAUTHCLIENT_SECRET"],
    )
    async with session.post(
        base_url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
    ) as reply:
        reply.raise_for_status()
        return str((await reply.json())["access_token"])


async def fetch_pages(spec: dict[str, Any]) -> list[bytes]:
    """Every reply body of the range's 7-day chunks, page by page."""
    base_url, size = spec["base_url"], int(spec.get("page_size", 100))
    start = datetime.fromisoformat(spec["start"])
    end = datetime.fromisoformat(spec["end"])
    bodies: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {await _token(session, base_url)}"}

        async def page(interval: str, number: int) -> bytes:
            body = {
                "interval": interval,
                "order": "asc",
                "orderBy": "conversationStart",
                "paging": {"pageSize": size, "pageNumber": number},
            }
            async with session.post(
                base_url + _QUERY, json=body, headers=headers
            ) as reply:
                reply.raise_for_status()
                return await reply.read()

        while start < end:
            interval = f"{_iso(start)}/{_iso(min(start + _CHUNK, end))}"
            first = await page(interval, 1)
            bodies.append(first)
            pages = math.ceil(orjson.loads(first).get("totalHits", 0) / size)
            for number in range(2, pages + 1):
                bodies.append(await page(interval, number))
            start += _CHUNK
    return bodies


def measure(bodies: list[bytes]) -> dict[str, Any]:
    """CPU seconds of parsing the bodies, and of parsing and re-serialising."""
    began = time.process_time()
    records = 0
    for body in bodies:
        records += len(orjson.loads(body).get("conversations", ()))
    parse = time.process_time() - began

    began = time.process_time()
    for body in bodies:
        for record in orjson.loads(body).get("conversations", ()):
            orjson.dumps(record)
    parse_dump = time.process_time() - began
    return {
        "pages": len(bodies),
        "bytes": sum(len(body) for body in bodies),
        "records_served": records,
        "parse_cpu_s": round(parse, 4),
        "parse_and_dump_cpu_s": round(parse_dump, 4),
    }


def main() -> None:
    """Fetch and measure for the JSON spec in argv[1]; print the figures as JSON."""
    spec = orjson.loads(sys.argv[1])
    bodies = asyncio.run(fetch_pages(spec))
    print(orjson.dumps(measure(bodies)).decode(), flush=True)


if __name__ == "__main__":
    main()
