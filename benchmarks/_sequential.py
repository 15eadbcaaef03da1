"""The sequential baseline: an export written the way the original tutorial does it.

One request at a time on one aiohttp session: fixed 30-day chunks; a chunk the
server refuses as longer than its interval limit is cut into pieces of the
length the message names; each piece is paged one page after another until a
page comes back short or without `conversations`. A 429 sleeps `Retry-After`
and tries again. Records are kept by the same owner rule as genesys-async
(start inside the piece, first sighting of the id), so both export the same
data.

Run as `python -m benchmarks._sequential '<spec as JSON>'` (keys: base_url,
start, end, output, page_size); prints one JSON line of figures.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import orjson

_CHUNK = timedelta(days=30)
_QUERY = "/api/v2/analytics/conversations/details/query"
_LIMIT = re.compile(r"does not exceed (\d+) days")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _start_of(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["conversationStart"].replace("Z", "+00:00"))


class Baseline:
    """One sequential export; counts every request it sends."""

    def __init__(self, session: aiohttp.ClientSession, spec: dict[str, Any]) -> None:
        self.session = session
        self.base_url = spec["base_url"]
        self.page_size = int(spec.get("page_size", 100))
        self.requests = 0
        self.statuses: dict[str, int] = {}
        self.token = ""
        self.seen: set[str] = set()

    async def login(self) -> None:
        auth = aiohttp.BasicAuth(
            os.environ["GENESYSCLOUD_OAUTHCLIENT_ID"],
            os.environ["GENESYSCLOUD_OAUTHCLIENT_SECRET"],
        )
        async with self.session.post(
            self.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=auth,
        ) as reply:
            reply.raise_for_status()
            self.token = (await reply.json())["access_token"]

    async def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Send one query; sleep and resend on 429."""
        while True:
            self.requests += 1
            async with self.session.post(
                self.base_url + _QUERY,
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as reply:
                status = reply.status
                payload = orjson.loads(await reply.read())
                retry_after = float(reply.headers.get("Retry-After", "1"))
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if status != 429:
                return status, payload
            await asyncio.sleep(retry_after)

    async def export(self, start: datetime, end: datetime, out: Any) -> None:
        """Export [start, end) in 30-day chunks, splitting where refused."""
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + _CHUNK, end)
            await self.chunk(chunk_start, chunk_end, out)
            chunk_start = chunk_end

    async def chunk(self, start: datetime, end: datetime, out: Any) -> None:
        """Page through one interval; cut it in pieces if the server refuses it."""
        page = 1
        while True:
            body = {
                "interval": f"{_iso(start)}/{_iso(end)}",
                "order": "asc",
                "orderBy": "conversationStart",
                "paging": {"pageSize": self.page_size, "pageNumber": page},
            }
            status, reply = await self.post(body)
            if status == 400 and (found := _LIMIT.search(reply.get("message", ""))):
                step = timedelta(days=int(found.group(1)))
                piece = start
                while piece < end:
                    await self.chunk(piece, min(piece + step, end), out)
                    piece += step
                return
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {reply}")

            conversations = reply.get("conversations") or []
            for record in conversations:
                owned = start <= _start_of(record) < end
                if owned and record["conversationId"] not in self.seen:
                    self.seen.add(record["conversationId"])
                    out.write(orjson.dumps(record) + b"\n")
            if len(conversations) < self.page_size:
                return
            page += 1


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the baseline export; return its figures."""
    cpu_before = time.process_time()
    began = time.monotonic()
    async with aiohttp.ClientSession() as session:
        baseline = Baseline(session, spec)
        await baseline.login()
        with open(spec["output"], "wb") as out:
            await baseline.export(
                datetime.fromisoformat(spec["start"]),
                datetime.fromisoformat(spec["end"]),
                out,
            )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "conversations": len(baseline.seen),
        "requests_sent": baseline.requests,
        "responses": baseline.statuses,
        "wall_s": round(time.monotonic() - began, 3),
        "export_cpu_s": round(time.process_time() - cpu_before, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    """Run the baseline of the JSON spec in argv[1]; print the figures as JSON."""
    spec = orjson.loads(sys.argv[1])
    print(orjson.dumps(asyncio.run(run(spec))).decode(), flush=True)


if __name__ == "__main__":
    main()
