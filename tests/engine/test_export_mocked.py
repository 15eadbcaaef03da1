"""What the simulator does not do, through a mocked Genesys Cloud; option bounds."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest
from aioresponses import CallbackResult, aioresponses
from aioresponses import core as aioresponses_core

from genesys_async._client import GenesysClient
from genesys_async._errors import (
    ChunkTooSmallError,
    ConfigurationError,
    IntervalTooLongError,
)
from genesys_async._export import ExportOptions, export_conversations
from genesys_async._http import RetryPolicy

API = "https://api.mypurecloud.com"
TOKEN_URL = "https://login.mypurecloud.com/oauth/token"
QUERY_URL = API + "/api/v2/analytics/conversations/details/query"
START = datetime(2026, 9, 1, tzinfo=timezone.utc)


class _MockedResponse(aiohttp.ClientResponse):
    """A ClientResponse aioresponses 0.7.x can build under aiohttp 3.14+.

    aiohttp 3.14 made ``stream_writer`` required and aioresponses does not
    pass it (pnuckowski/aioresponses#289).
    """

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    signature = inspect.signature(aiohttp.ClientResponse.__init__)
    if "stream_writer" in signature.parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _MockedResponse)
    with aioresponses() as m:
        m.post(
            TOKEN_URL,
            # Long enough that redacting it from server text changes nothing.
            payload={
                "access_token": "issued-access-token-0001",
                "token_type": "bearer",
                "expires_in": 86400,
            },
            repeat=True,
        )
        yield m


@pytest.fixture
async def client(mock: aioresponses) -> AsyncIterator[GenesysClient]:
    async with GenesysClient(
        "client-id-1",
        "s3cr3t-client-secret-value",
        region="us-east-1",
        retry=RetryPolicy.immediate(),
        rate_limit=1_000_000,
    ) as client:
        yield client


def _query_calls(mock: aioresponses) -> int:
    return sum(
        len(calls)
        for (method, url), calls in mock.requests.items()
        if method == "POST" and str(url) == QUERY_URL
    )


async def test_interval_refusal_of_a_chunk_within_the_limit_ends_by_name(
    mock: aioresponses, client: GenesysClient, tmp_path: Path
) -> None:
    """A chunk already shorter than the named limit is halved, not re-asked."""
    mock.post(
        QUERY_URL,
        status=400,
        payload={"message": "The interval exceeds the maximum of 31 days"},
        repeat=True,
    )
    options = ExportOptions(chunk_days=1 / 24, concurrency=1, min_chunk_seconds=600)

    export = export_conversations(
        client,
        START,
        START + timedelta(hours=1),
        tmp_path / "o.ndjson",
        options=options,
        api="query",
    )

    with pytest.raises(ChunkTooSmallError) as raised:
        # A safety net only: the bug this guards against never ends.
        await asyncio.wait_for(export, timeout=60)

    # One hour halves to 30 then 15 minutes; 15 minutes is under 2 x 10.
    assert isinstance(raised.value.cause, IntervalTooLongError)
    assert re.search(r"2026-09-01T00:\d\d:00\.000Z/", raised.value.interval)
    assert _query_calls(mock) <= 7
    assert not (tmp_path / "o.ndjson").exists()


@pytest.mark.parametrize(
    "knobs",
    [
        {"chunk_days": float("nan")},
        {"chunk_days": float("inf")},
        {"chunk_days": 1e-7},
        {"min_chunk_seconds": float("inf")},
        {"chunk_days": 1 / 24, "min_chunk_seconds": 1801},
    ],
)
def test_export_options_refuse_what_the_cli_refuses(knobs: dict[str, float]) -> None:
    """Library users get the same bounds: finite, and chunks that can split."""
    with pytest.raises(ConfigurationError):
        ExportOptions(**knobs)  # type: ignore[arg-type]


async def test_chunk_well_short_of_its_total_hits_is_a_warning(
    mock: aioresponses, client: GenesysClient, tmp_path: Path
) -> None:
    """totalHits 250, then 100 records and empty pages: the report says so."""

    def reply(url: Any, **kwargs: Any) -> CallbackResult:
        number = orjson.loads(kwargs["data"])["paging"]["pageNumber"]
        records = [
            {
                "conversationId": f"c{n}",
                "conversationStart": f"2026-09-01T00:{n // 10:02d}:00.000Z",
            }
            for n in range(100)
            if number == 1
        ]
        return CallbackResult(payload={"totalHits": 250, "conversations": records})

    mock.post(QUERY_URL, callback=reply, repeat=True)
    out = tmp_path / "o.ndjson"

    report = await export_conversations(
        client, START, START + timedelta(hours=1), out, api="query"
    )

    assert report.conversations == 100
    assert len(report.warnings) == 1
    assert "2026-09-01T00:00:00.000Z/2026-09-01T01:00:00.000Z" in report.warnings[0]
    assert "brought 100 records" in report.warnings[0]
    assert "250" in report.warnings[0]
