"""End-to-end exports through details jobs against the simulator over loopback."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from genesys_async._errors import GenesysError, JobFailedError
from genesys_async._export import conversation_details, export_conversations
from genesys_async._intervals import Interval, format_instant
from genesys_async.simulator import FaultConfig
from genesys_async.simulator._config import JobsConfig

from .conftest import (
    FAST,
    START,
    SteppingClock,
    assert_exact,
    attributes,
    config,
    connected,
    read_lines,
    submits,
)

END = START + timedelta(days=21)


def _chunk_lines(out: Path) -> list[dict[str, object]]:
    manifest = out.with_name(out.name + ".manifest.jsonl")
    return [line for line in read_lines(manifest) if "chunk" in line]


async def test_jobs_mode_is_exact_and_deletes_every_job(tmp_path: Path) -> None:
    """Plain-overlap results pass the owner rule: each conversation once."""
    out = tmp_path / "out.ndjson"
    async with connected(config()) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=FAST
        )

        assert_exact(read_lines(out), simulator, START, END)
        deleted = simulator.counters[("details_job_delete", 204)]
        assert submits(simulator) == deleted
        assert simulator.counters[("details_query", 200)] == 0
    assert (
        report.api,
        report.chunks,
        report.provisional,
        report.warnings,
    ) == ("jobs", 3, (), ())
    assert [line["source"] for line in _chunk_lines(out)] == ["jobs"] * 3


async def test_failed_and_expired_jobs_are_resubmitted_and_stay_exact(
    tmp_path: Path,
) -> None:
    """Two FAILED then two EXPIRED jobs cost four more submits, nothing else."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(fail_first=2, expire_first=2))
    options = replace(FAST, max_jobs=1, resubmits=4)
    async with connected(settings) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=options
        )

        assert_exact(read_lines(out), simulator, START, END)
        assert report.chunks + 4 == submits(simulator)


async def test_a_job_failing_every_attempt_fails_naming_its_interval(
    tmp_path: Path,
) -> None:
    """Resubmits are bounded; the error names the chunk; no job is left behind."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(fail_first=100))
    options = replace(FAST, max_jobs=1, resubmits=1)
    async with connected(settings) as (simulator, client):
        with pytest.raises(JobFailedError) as caught:
            await export_conversations(
                client, START, END, out, api="jobs", jobs=options
            )

        deleted = simulator.counters[("details_job_delete", 204)]
        assert (submits(simulator), deleted) == (2, 2)
    first_chunk = str(Interval.of(START, START + timedelta(days=7)))
    assert first_chunk in str(caught.value)
    assert (caught.value.attempts, caught.value.state) == (2, "FAILED")
    assert not out.exists()


async def test_a_job_expiring_every_attempt_is_fetched_in_halves_and_stays_exact(
    tmp_path: Path,
) -> None:
    """Two EXPIRED attempts of the first chunk, then its two halves: exact."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(expire_first=2))
    options = replace(FAST, max_jobs=1, resubmits=1)
    async with connected(settings) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=options
        )

        assert_exact(read_lines(out), simulator, START, END)
        # 3 chunks, 2 expired attempts of the first, then its 2 halves.
        assert (report.chunks, submits(simulator)) == (3, 3 - 1 + 2 + 2)


async def test_halves_that_expire_too_fail_the_export_saying_so(
    tmp_path: Path,
) -> None:
    """The split is tried once: halves failing every attempt end the export."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(expire_first=100))
    options = replace(FAST, max_jobs=1, resubmits=1)
    async with connected(settings) as (simulator, client):
        with pytest.raises(JobFailedError) as caught:
            await export_conversations(
                client, START, END, out, api="jobs", jobs=options
            )

        assert submits(simulator) == 2 + 2
    first_chunk = str(Interval.of(START, START + timedelta(days=7)))
    assert (caught.value.interval, caught.value.state) == (first_chunk, "EXPIRED")
    assert (caught.value.attempts, "in halves too" in str(caught.value)) == (4, True)
    assert not out.exists()


async def test_client_keeps_to_max_jobs_so_the_server_limit_is_not_met(
    tmp_path: Path,
) -> None:
    """Two jobs at most in flight against a server taking two: no 429."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(pending_s=5, max_concurrent_jobs=2))
    async with connected(settings, clock=SteppingClock()) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=replace(FAST, max_jobs=2)
        )

        assert_exact(read_lines(out), simulator, START, END)
    assert report.requests.get(429, 0) == 0


async def test_concurrent_job_limit_429s_are_waited_out(tmp_path: Path) -> None:
    """A server taking one job at a time refuses the others until it is done."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(pending_s=5, max_concurrent_jobs=1))
    async with connected(settings, clock=SteppingClock()) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=replace(FAST, max_jobs=3)
        )

        assert_exact(read_lines(out), simulator, START, END)
    assert report.requests[429] > 0


async def test_too_many_results_splits_the_chunk_without_resubmitting(
    tmp_path: Path,
) -> None:
    """A job failed for its size is split at once, not submitted again."""
    out = tmp_path / "out.ndjson"
    settings = config(jobs=JobsConfig(max_results=150))
    async with connected(settings) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=FAST
        )

        assert_exact(read_lines(out), simulator, START, END)
        assert report.chunks + report.splits == submits(simulator)
    assert report.splits > 0


async def test_server_errors_on_every_jobs_route_are_retried(tmp_path: Path) -> None:
    """5xx on submits, polls, pages and deletes: the export is still exact."""
    out = tmp_path / "out.ndjson"
    faults = FaultConfig(error_rates={500: 0.1, 502: 0.05, 503: 0.1, 504: 0.05})
    async with connected(config(faults=replace(faults, seed=3))) as (
        simulator,
        client,
    ):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=FAST
        )

        assert_exact(read_lines(out), simulator, START, END)
    assert sum(report.retries.values()) > 0


async def test_jobs_past_the_availability_date_warn_and_mark_the_tail(
    tmp_path: Path,
) -> None:
    """Jobs leave out what the datalake lacks; the report says where."""
    out = tmp_path / "out.ndjson"
    end = START + timedelta(days=30)
    available = end - timedelta(hours=6)
    async with connected(config()) as (simulator, client):
        report = await export_conversations(
            client, START, end, out, api="jobs", jobs=FAST
        )

        assert_exact(read_lines(out), simulator, START, available)
    tail = Interval.of(START + timedelta(days=28), end)
    assert (str(tail),) == report.provisional
    assert format_instant(available) == report.data_availability
    assert len(report.warnings) == 1
    assert format_instant(available) in report.warnings[0]


async def test_auto_mode_uses_jobs_before_availability_and_query_after(
    tmp_path: Path,
) -> None:
    """History through jobs, the recent part through the query, all exact."""
    out = tmp_path / "out.ndjson"
    end = START + timedelta(days=30)
    available = START + timedelta(days=20, hours=12)
    settings = config(jobs=JobsConfig(availability=available))
    async with connected(settings) as (simulator, client):
        report = await export_conversations(
            client, START, end, out, api="auto", jobs=FAST
        )

        records = read_lines(out)
        assert_exact(records, simulator, START, end)
    assert (str(Interval.of(available, end)),) == report.provisional
    assert report.warnings == ()
    # Job records carry participant attributes; the query's do not.
    cut = format_instant(available)
    assert all(
        bool(attributes(record)) == (record["conversationStart"] < cut)
        for record in records
    )
    lines = _chunk_lines(out)
    before = [line for line in lines if line["source"] == "jobs"]
    after = [line for line in lines if line["source"] == "query"]
    assert {False} == {line["provisional"] for line in before}
    assert {True} == {line["provisional"] for line in after}
    last_job_end = max(str(line["chunk"]).split("/")[1] for line in before)
    first_query_start = min(str(line["chunk"]).split("/")[0] for line in after)
    assert [format_instant(available)] * 2 == [last_job_end, first_query_start]


async def test_resume_does_not_resubmit_finished_chunks(tmp_path: Path) -> None:
    """A run stopped by a failed job leaves a manifest the next run trusts."""
    out = tmp_path / "out.ndjson"
    # Jobs 0 and 1 are FULFILLED, job 2 FAILED (seeded rolls).
    failing = config(jobs=JobsConfig(fail_rate=0.5, seed=0))
    options = replace(FAST, max_jobs=1, resubmits=0)
    async with connected(failing) as (_, client):
        with pytest.raises(JobFailedError):
            await export_conversations(
                client, START, END, out, api="jobs", jobs=options, origin="sim"
            )

    async with connected(config()) as (simulator, client):
        report = await export_conversations(
            client, START, END, out, api="jobs", jobs=options, origin="sim"
        )

        assert_exact(read_lines(out), simulator, START, END)
        assert submits(simulator) == 1
    assert (report.chunks_resumed, report.chunks) == (2, 3)


async def test_iterator_in_auto_mode_yields_each_conversation_once() -> None:
    """conversation_details takes the same modes as the file export."""
    end = START + timedelta(days=10)
    available = START + timedelta(days=6)
    settings = config(days=12, jobs=JobsConfig(availability=available))
    async with connected(settings) as (simulator, client):
        records = [
            record
            async for record in conversation_details(
                client, START, end, api="auto", jobs=FAST
            )
        ]

        assert_exact(records, simulator, START, end)
        assert submits(simulator) > 0


async def test_a_refused_submit_is_the_export_error(tmp_path: Path) -> None:
    """A submit the server refuses outright (403) fails the export at once."""
    out = tmp_path / "out.ndjson"
    settings = config(permissions=frozenset())
    async with connected(settings) as (_, client):
        with pytest.raises(GenesysError, match="analytics:conversationDetail:view"):
            await export_conversations(client, START, END, out, api="jobs", jobs=FAST)


@pytest.mark.parametrize(
    ("days_ago", "expected"), [(60, "auto"), (10, "query")], ids=["old", "recent"]
)
async def test_without_an_api_an_old_range_goes_auto_and_a_recent_one_query(
    tmp_path: Path, days_ago: int, expected: str
) -> None:
    """The library picks the API by the query's reach, as the CLI does."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0)
    start = today.replace(microsecond=0) - timedelta(days=days_ago)
    end = start + timedelta(days=2)
    settings = replace(
        config(conversations=300),
        start=start - timedelta(days=1),
        end=end,
        jobs=JobsConfig(availability=end),
    )
    async with connected(settings) as (simulator, client):
        report = await export_conversations(
            client, start, end, tmp_path / "out.ndjson", jobs=FAST
        )
        streamed = conversation_details(client, start, end, jobs=FAST)
        async with contextlib.aclosing(streamed):
            ids = {record["conversationId"] async for record in streamed}

        truth = simulator.ground_truth(start, end)
    assert expected == report.api
    assert truth == ids
    assert len(truth) == report.conversations
