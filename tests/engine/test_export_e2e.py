"""End-to-end exports against the simulator: exact whatever the server refuses."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import pytest

from genesys_async import _sinks
from genesys_async._errors import (
    ChunkTooSmallError,
    ManifestMismatchError,
    OutputError,
    ServerError,
)
from genesys_async._export import (
    ExportOptions,
    conversation_details,
    export_conversations,
)
from genesys_async._intervals import parse_instant
from genesys_async._jobs import JobOptions
from genesys_async._queries import ConversationFilters
from genesys_async._sinks import ChunkSpool
from genesys_async.simulator import FaultConfig

from .conftest import START, assert_exact, config, connected, read_output

END = START + timedelta(days=90)


def _days(interval: str) -> float:
    start, end = (parse_instant(part) for part in interval.split("/"))
    return (end - start) / 86_400_000


async def test_ninety_days_with_default_limits_is_exact(tmp_path: Path) -> None:
    """7-day chunks under the real limits export every conversation once."""
    out = tmp_path / "out.ndjson"
    async with connected(config()) as (simulator, client):
        report = await export_conversations(client, START, END, out, api="query")

        assert_exact(read_output(out), simulator, START, END)
    assert report.conversations == len(read_output(out))
    assert report.chunks == 13
    assert report.splits == 0


async def test_low_pagination_cap_met_midway_splits_and_stays_exact(
    tmp_path: Path,
) -> None:
    """A cap the client does not know, met on page 6, ends in an exact export."""
    out = tmp_path / "out.ndjson"
    settings = config(days=21, pagination_cap=500)
    async with connected(settings) as (simulator, client):
        report = await export_conversations(
            client, START, START + timedelta(days=21), out, api="query"
        )

        assert_exact(read_output(out), simulator, START, START + timedelta(days=21))
    assert report.splits > 0
    assert report.requests[400] >= 1


async def test_413_mode_splits_until_chunks_are_small_enough(tmp_path: Path) -> None:
    """The tutorial's server: 413 for intervals holding too many conversations."""
    out = tmp_path / "out.ndjson"
    end = START + timedelta(days=30)
    async with connected(config(too_large_threshold=400)) as (simulator, client):
        report = await export_conversations(client, START, end, out, api="query")

        assert_exact(read_output(out), simulator, START, end)
    assert report.requests[413] == report.splits


async def test_long_chunks_are_replanned_to_the_interval_the_server_names(
    tmp_path: Path,
) -> None:
    """30-day chunks (the tutorial's) meet the 7-day limit and are re-cut."""
    out = tmp_path / "out.ndjson"
    async with connected(config()) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, options=ExportOptions(chunk_days=30), api="query"
        )

        assert_exact(read_output(out), simulator, START, END)
    manifest = read_output(out.with_name("out.ndjson.manifest.jsonl"))
    lengths = [_days(line["chunk"]) for line in manifest if "chunk" in line]
    assert max(lengths) <= 7
    assert report.requests[400] >= 1


async def test_faults_are_retried_and_the_export_stays_exact(tmp_path: Path) -> None:
    """5% 5xx and 2% dropped connections lose and duplicate nothing."""
    out = tmp_path / "out.ndjson"
    faults = FaultConfig(
        error_rates={500: 0.02, 502: 0.01, 503: 0.01, 504: 0.01},
        disconnect_rate=0.02,
        seed=3,
    )
    end = START + timedelta(days=30)
    async with connected(config(faults=faults)) as (simulator, client):
        report = await export_conversations(client, START, end, out, api="query")

        assert_exact(read_output(out), simulator, START, end)
    assert sum(report.retries.values()) > 0


async def test_filters_reach_the_server_and_the_output_matches_them(
    tmp_path: Path,
) -> None:
    """Shortcut filters export only the matching conversations, exactly."""
    out = tmp_path / "out.ndjson"
    end = START + timedelta(days=14)
    filters = ConversationFilters(media_types=["chat", "email"], direction="inbound")

    def wanted(record: dict[str, object]) -> bool:
        medias = {
            session["mediaType"]
            for participant in record["participants"]  # type: ignore[attr-defined]
            for session in participant["sessions"]
        }
        inbound = record["originatingDirection"] == "inbound"
        return inbound and bool(medias & {"chat", "email"})

    async with connected(config()) as (simulator, client):
        await export_conversations(
            client, START, end, out, filters=filters, api="query"
        )

        records = read_output(out)
        assert_exact(records, simulator, START, end, keep=wanted)
    assert records


async def test_json_format_holds_the_same_records(tmp_path: Path) -> None:
    """--format json writes one array of the same records."""
    out = tmp_path / "out.json"
    end = START + timedelta(days=7)
    async with connected(config()) as (simulator, client):
        await export_conversations(client, START, end, out, fmt="json", api="query")

        assert_exact(orjson.loads(out.read_bytes()), simulator, START, end)


async def test_chunk_refused_below_the_minimum_names_its_interval(
    tmp_path: Path,
) -> None:
    """A server that refuses everything fails the export with a clear error."""
    out = tmp_path / "out.ndjson"
    options = ExportOptions(min_chunk_seconds=86_400)
    async with connected(config(too_large_threshold=1)) as (_, client):
        with pytest.raises(ChunkTooSmallError, match=r"2026-09-0\d") as caught:
            await export_conversations(
                client,
                START,
                START + timedelta(days=2),
                out,
                options=options,
                api="query",
            )

    assert "/" in caught.value.interval
    assert not out.exists()


async def test_server_that_keeps_failing_fails_the_export_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """After the retries, a 503 storm is an error, never a silent gap."""
    out = tmp_path / "out.ndjson"
    faults = FaultConfig(error_rates={503: 1.0})
    async with connected(config(faults=faults)) as (_, client):
        with pytest.raises(ServerError, match="503"):
            await export_conversations(
                client, START, START + timedelta(days=7), out, api="query"
            )

    assert not out.exists()


async def test_iterator_yields_every_conversation_once() -> None:
    """The async iterator API holds the same contract as the file export."""
    end = START + timedelta(days=21)
    async with connected(config(pagination_cap=500)) as (simulator, client):
        records = [
            r async for r in conversation_details(client, START, end, api="query")
        ]

        assert_exact(records, simulator, START, end)


async def test_iterator_left_early_stops_the_export() -> None:
    """Breaking out of the loop cancels the workers and cleans up."""
    end = START + timedelta(days=21)
    async with connected(config()) as (_, client):
        taken = []
        records = conversation_details(client, START, end, api="query")
        async with contextlib.aclosing(records):
            async for record in records:
                taken.append(record)
                if len(taken) == 10:
                    break
        sent = client.stats.requests
        for _ in range(20):
            await asyncio.sleep(0)

        assert len(taken) == 10
        assert client.stats.requests == sent


async def test_a_reader_leaving_during_a_handover_leaves_no_spool_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled while a finished chunk is copied off the loop: spools closed."""
    spools: list[ChunkSpool] = []
    entered, release = threading.Event(), threading.Event()
    opened = ChunkSpool.__init__
    ordered = ChunkSpool.write_ordered

    def tracked(self: ChunkSpool, path: Path) -> None:
        opened(self, path)
        spools.append(self)

    def held(self: ChunkSpool, target: Path) -> tuple[int, int]:
        entered.set()
        release.wait(timeout=30)
        return ordered(self, target)

    monkeypatch.setattr(ChunkSpool, "__init__", tracked)
    monkeypatch.setattr(ChunkSpool, "write_ordered", held)
    async with connected(config()) as (_, client):
        records = conversation_details(
            client, START, START + timedelta(days=14), api="query"
        )
        first = asyncio.ensure_future(anext(records))
        try:
            await asyncio.to_thread(entered.wait, 30)
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first
            await records.aclose()
        finally:
            release.set()

    assert entered.is_set()
    assert spools
    assert all(spool.closed for spool in spools)


async def test_resume_without_an_api_keeps_the_one_the_manifest_records(
    tmp_path: Path,
) -> None:
    """The default API moves with the clock; a resume must not be refused for it."""
    out = tmp_path / "out.ndjson"
    manifest = tmp_path / "out.ndjson.manifest.jsonl"
    end = START + timedelta(days=3)
    # Today the query reaches the range; tomorrow (a shorter reach) it would not.
    today, tomorrow = (
        JobOptions(query_reach_days=36_500),
        JobOptions(query_reach_days=1),
    )
    async with connected(config()) as (simulator, client):
        await export_conversations(client, START, end, out, jobs=today)
        # A crash before the output: the manifest without its closing line.
        lines = manifest.read_bytes().splitlines(keepends=True)
        manifest.write_bytes(b"".join(lines[:-1]))
        out.unlink()

        resumed = await export_conversations(client, START, end, out, jobs=tomorrow)
        with pytest.raises(ManifestMismatchError, match="source"):
            await export_conversations(
                client, START, end, out, api="auto", jobs=tomorrow
            )

        assert_exact(read_output(out), simulator, START, end)
    assert resumed.api == "query"
    assert not resumed.already_complete


async def test_same_range_in_another_format_is_another_export(tmp_path: Path) -> None:
    """--format changes the output's bytes, so it is part of the manifest."""
    out = tmp_path / "out"
    end = START + timedelta(days=2)
    async with connected(config()) as (_, client):
        await export_conversations(client, START, end, out, api="query")

        with pytest.raises(ManifestMismatchError, match='format was "ndjson"'):
            await export_conversations(client, START, end, out, fmt="json", api="query")


class _FillingDisk:
    """A file whose writes fail as on a full disk once ``full()`` says so."""

    def __init__(self, file: IO[bytes], full: Callable[[], bool]) -> None:
        self._file = file
        self._full = full

    def write(self, data: bytes) -> int:
        if self._full():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


async def test_full_disk_is_an_output_error_and_the_export_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC on a spool write names the file; the rerun completes the export."""
    out = tmp_path / "out.ndjson"
    manifest = tmp_path / "out.ndjson.manifest.jsonl"
    end = START + timedelta(days=14)
    options = ExportOptions(concurrency=1)

    def first_chunk_committed() -> bool:
        return b'"chunk"' in manifest.read_bytes()

    def filling_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        # The disk fills up once the first of the two chunks is safe.
        file = open(path, mode, *args, **kwargs)  # noqa: SIM115 (the caller's)
        if str(path).endswith(".spool"):
            return _FillingDisk(file, first_chunk_committed)
        return file

    async with connected(config()) as (simulator, client):
        monkeypatch.setattr(_sinks, "open", filling_open, raising=False)
        with pytest.raises(OutputError, match="No space left on device"):
            await export_conversations(
                client, START, end, out, options=options, api="query"
            )
        monkeypatch.undo()
        resumed = await export_conversations(
            client, START, end, out, options=options, api="query"
        )

        assert_exact(read_output(out), simulator, START, end)
    assert resumed.chunks_resumed == 1
