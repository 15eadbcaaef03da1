"""DetailsJobs and the simulator's jobs routes, one behaviour at a time."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from typing import Any

import pytest

from genesys_async._errors import JobFailedError, QueryRejectedError
from genesys_async._intervals import Interval, format_instant, parse_instant
from genesys_async._jobs import (
    DETAILS_JOBS_PATH,
    DetailsJobs,
    JobOptions,
    default_api,
)
from genesys_async._queries import ConversationFilters
from genesys_async.simulator._cli import config_from_args, configure_parser
from genesys_async.simulator._config import JobsConfig

from .conftest import (
    START,
    SteppingClock,
    attributes,
    config,
    connected,
    submits,
    without_attributes,
)

DAY_SPAN = (START + timedelta(days=2), START + timedelta(days=3))
DAY = Interval.of(*DAY_SPAN)


class _Pages:
    """A sink that keeps every record it is given."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.discarded = False

    def add(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def discard(self) -> None:
        self.discarded = True


class _Unused:
    """A client that must not be called."""

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no request expected")


class _Budget:
    """A client that fails a test polling without end instead of hanging it."""

    def __init__(self, client: Any, requests: int) -> None:
        self.client = client
        self.left = requests

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        self.left -= 1
        if self.left < 0:
            raise AssertionError("too many requests: polling without a wait")
        return await self.client.request(*args, **kwargs)


async def _job_ids(client: Any, body: dict[str, Any], page_size: int) -> list[str]:
    """Submit a job and read all its results by cursor (the simulator is instant)."""
    job = await client.request("POST", DETAILS_JOBS_PATH, json=body)
    path = f"{DETAILS_JOBS_PATH}/{job['jobId']}/results"
    ids: list[str] = []
    params: dict[str, str | int] = {"pageSize": page_size}
    while True:
        reply = await client.request("GET", path, params=params)
        ids += [c["conversationId"] for c in reply.get("conversations", [])]
        if "cursor" not in reply:
            return ids
        params["cursor"] = reply["cursor"]


async def test_status_checks_wait_twice_as_long_each_time_up_to_the_maximum() -> None:
    """Polling a long job grows 1, 2, 4, 8 s and stays at 8: never busy."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    settings = config(jobs=JobsConfig(pending_s=60))
    async with connected(settings, clock=SteppingClock()) as (_, client):
        options = JobOptions(poll_initial=1.0, poll_max=8.0)
        jobs = DetailsJobs(client, ConversationFilters(), options, sleep=sleep)
        await jobs.fetch(DAY, _Pages)

    assert waits[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert max(waits) == 8.0


async def test_a_job_pending_past_the_longest_wait_fails_with_timeout() -> None:
    """A job that never ends is given up after max_wait, on every attempt."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    settings = config(jobs=JobsConfig(pending_s=1e9))
    async with connected(settings, clock=SteppingClock()) as (_, client):
        options = JobOptions(poll_initial=1.0, poll_max=4.0, max_wait=10, resubmits=1)
        jobs = DetailsJobs(client, ConversationFilters(), options, sleep=sleep)
        with pytest.raises(JobFailedError, match="TIMEOUT") as caught:
            await jobs.fetch(DAY, _Pages)

    assert caught.value.attempts == 2
    assert waits == [1.0, 2.0, 4.0, 4.0] * 2


async def test_a_first_poll_of_zero_still_waits_longer_each_time_and_times_out() -> (
    None
):
    """--job-poll 0 8: at once, then 1, 2, 4, 8 s; max_wait still applies."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    settings = config(jobs=JobsConfig(pending_s=1e9))
    async with connected(settings, clock=SteppingClock()) as (_, client):
        options = JobOptions(poll_initial=0, poll_max=8.0, max_wait=20, resubmits=0)
        budget = _Budget(client, requests=50)
        jobs = DetailsJobs(budget, ConversationFilters(), options, sleep=sleep)
        with pytest.raises(JobFailedError, match="TIMEOUT"):
            await jobs.fetch(DAY, _Pages)

    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_first_poll_of_zero_waits_no_longer_than_the_maximum() -> None:
    """--job-poll 0 0.25: the one-second floor never passes poll_max."""
    jobs = DetailsJobs(
        _Unused(), ConversationFilters(), JobOptions(poll_initial=0, poll_max=0.25)
    )

    waits = [jobs._next_delay(0.0), jobs._next_delay(0.25)]

    assert waits == [0.25, 0.25]


async def test_a_cancelled_fetch_still_deletes_its_job() -> None:
    """Cleanup runs on cancellation: no job is left on the server."""
    polls = asyncio.Event()

    async def sleep(seconds: float) -> None:
        polls.set()
        await asyncio.sleep(0)

    settings = config(jobs=JobsConfig(pending_s=1e9))
    async with connected(settings) as (simulator, client):
        jobs = DetailsJobs(client, ConversationFilters(), sleep=sleep)
        sink = _Pages()
        task = asyncio.create_task(jobs.fetch(DAY, lambda: sink))
        await polls.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        assert simulator.counters[("details_job_delete", 204)] == 1
    assert sink.discarded


async def test_jobs_match_by_plain_overlap_unless_start_of_day_matching() -> None:
    """A day's job holds conversations from days before; the flag drops them."""
    async with connected(config()) as (simulator, client):
        body: dict[str, Any] = {"interval": str(DAY)}
        overlap = await _job_ids(client, body, page_size=1000)
        same_day = await _job_ids(
            client, {**body, "startOfDayIntervalMatching": True}, page_size=1000
        )
        owned = simulator.ground_truth(DAY.start, DAY.end)

    assert owned < set(overlap)
    assert set(same_day) <= set(overlap)
    assert set(same_day) >= owned


async def test_results_come_in_cursor_pages_until_a_page_has_no_cursor() -> None:
    """Small pages and one big page hold the same records in the same order."""
    async with connected(config()) as (_, client):
        body = {"interval": str(DAY)}
        small = await _job_ids(client, body, page_size=7)
        whole = await _job_ids(client, body, page_size=1000)

    assert small == whole


async def test_job_records_carry_participant_attributes_the_query_lacks() -> None:
    """Customers get a string map, the same for a conversation in every job."""
    async with connected(config()) as (simulator, client):
        jobs = DetailsJobs(
            client, ConversationFilters(), JobOptions(poll_initial=0, poll_max=0)
        )
        first = (await jobs.fetch(DAY, _Pages)).records
        again = (await jobs.fetch(DAY, _Pages)).records
        queried = {r["conversationId"]: r for r in simulator.records(*DAY_SPAN)}

    maps = [m for record in first for m in attributes(record)]
    assert len(maps) == len(first)
    assert all(
        isinstance(k, str) and isinstance(v, str) for m in maps for k, v in m.items()
    )
    assert first == again
    assert len({m["language"] for m in maps}) > 1
    assert not any(attributes(record) for record in queried.values())
    assert all(
        without_attributes(record) == queried[record["conversationId"]]
        for record in first
        if record["conversationId"] in queried
    )


async def test_results_of_a_pending_job_are_refused_with_400() -> None:
    """Results exist only once a job is FULFILLED."""
    settings = config(jobs=JobsConfig(pending_s=1e9))
    async with connected(settings) as (_, client):
        job = await client.request(
            "POST", DETAILS_JOBS_PATH, json={"interval": str(DAY)}
        )
        with pytest.raises(QueryRejectedError) as caught:
            await client.request("GET", f"{DETAILS_JOBS_PATH}/{job['jobId']}/results")

    assert (caught.value.status, "PENDING" in caught.value.message) == (400, True)


async def test_a_job_is_queued_then_pending_then_fulfilled_on_the_clock() -> None:
    """queued_s then pending_s of simulator time; dates only once it ends."""
    clock = _ManualClock()
    settings = config(jobs=JobsConfig(queued_s=10, pending_s=20))
    async with connected(settings, clock=clock) as (_, client):
        job = await client.request(
            "POST", DETAILS_JOBS_PATH, json={"interval": str(DAY)}
        )
        path = f"{DETAILS_JOBS_PATH}/{job['jobId']}"
        seen = []
        for step in (0, 9, 2, 18, 1):
            clock.now += step
            status = await client.request("GET", path)
            seen.append((status["state"], "completionDate" in status))

    assert seen == [
        ("QUEUED", False),
        ("QUEUED", False),
        ("PENDING", False),
        ("PENDING", False),
        ("FULFILLED", True),
    ]


async def test_expire_rate_ends_that_share_of_jobs_expired_by_seed() -> None:
    """A seeded coin per job: some EXPIRED, the rest FULFILLED, none FAILED."""

    async def states(seed: int) -> list[str]:
        settings = config(jobs=JobsConfig(expire_rate=0.5, seed=seed))
        async with connected(settings) as (_, client):
            found = []
            for _ in range(20):
                job = await client.request(
                    "POST", DETAILS_JOBS_PATH, json={"interval": str(DAY)}
                )
                path = f"{DETAILS_JOBS_PATH}/{job['jobId']}"
                found.append((await client.request("GET", path))["state"])
            return found

    first, again = await states(seed=3), await states(seed=3)

    assert first == again
    assert set(first) == {"EXPIRED", "FULFILLED"}


async def test_a_results_page_size_over_the_maximum_is_refused_with_400() -> None:
    """pageSize above max_page_size names the allowed range; the job stays."""
    settings = config(jobs=JobsConfig(max_page_size=50))
    async with connected(settings) as (_, client):
        job = await client.request(
            "POST", DETAILS_JOBS_PATH, json={"interval": str(DAY)}
        )
        path = f"{DETAILS_JOBS_PATH}/{job['jobId']}"
        with pytest.raises(QueryRejectedError) as caught:
            await client.request("GET", path + "/results", params={"pageSize": 51})
        largest = await client.request(
            "GET", path + "/results", params={"pageSize": 50}
        )

    assert (caught.value.status, caught.value.code) == (400, "bad.request")
    assert "pageSize must be between 1 and 50" in caught.value.message
    assert len(largest["conversations"]) == 50


async def test_a_deleted_job_is_not_found() -> None:
    """DELETE forgets the job: its status is then a 404."""
    async with connected(config()) as (_, client):
        job = await client.request(
            "POST", DETAILS_JOBS_PATH, json={"interval": str(DAY)}
        )
        path = f"{DETAILS_JOBS_PATH}/{job['jobId']}"
        await client.request("DELETE", path)
        with pytest.raises(QueryRejectedError) as caught:
            await client.request("GET", path)

    assert caught.value.status == 404


async def test_results_leave_out_conversations_started_after_availability() -> None:
    """Past the dataAvailabilityDate results are partial, without an error."""
    available = START + timedelta(days=2, hours=12)
    settings = config(jobs=JobsConfig(availability=available))
    async with connected(settings) as (simulator, client):
        jobs = DetailsJobs(client, ConversationFilters(), JobOptions(poll_initial=0))
        sink = await jobs.fetch(DAY, _Pages)
        cutoff = await jobs.availability()
        started = {parse_instant(r["conversationStart"]) for r in sink.records}
        wanted = simulator.ground_truth(DAY.start, available)

    assert cutoff == parse_instant(format_instant(available))
    assert max(started) < cutoff
    assert wanted <= {r["conversationId"] for r in sink.records}


class _ManualClock:
    """Monotonic seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_results_that_expire_mid_paging_are_fetched_again_by_a_new_job() -> None:
    """The first attempt's results expire after its first page: a resubmit works."""
    clock = _ManualClock()
    made: list[_Pages] = []

    class _ExpiringAfterOnePage(_Pages):
        def add(self, records: list[dict[str, Any]]) -> None:
            super().add(records)
            if len(made) == 1:
                clock.now += 120  # past results_ttl_s: the job turns EXPIRED

    def new_sink() -> _Pages:
        made.append(_ExpiringAfterOnePage())
        return made[-1]

    settings = config(jobs=JobsConfig(results_ttl_s=60))
    async with connected(settings, clock=clock) as (simulator, client):
        options = JobOptions(poll_initial=0, poll_max=0, page_size=20)
        sink = await DetailsJobs(client, ConversationFilters(), options).fetch(
            DAY, new_sink
        )
        whole = await _job_ids(client, {"interval": str(DAY)}, page_size=1000)

    assert (len(made), made[0].discarded, submits(simulator)) == (2, True, 3)
    assert whole == [r["conversationId"] for r in sink.records]


async def test_a_failed_job_is_not_split_after_its_resubmits() -> None:
    """FAILED says nothing about the chunk's size: no halves, the failure."""
    settings = config(jobs=JobsConfig(fail_first=100))
    async with connected(settings) as (simulator, client):
        options = JobOptions(poll_initial=0, poll_max=0, resubmits=1)
        jobs = DetailsJobs(client, ConversationFilters(), options)
        with pytest.raises(JobFailedError) as caught:
            await jobs.fetch(DAY, _Pages)

    assert (caught.value.state, caught.value.attempts, submits(simulator)) == (
        "FAILED",
        2,
        2,
    )


async def test_a_job_lost_every_attempt_is_fetched_in_halves_into_one_sink() -> None:
    """Results expiring mid-paging each time: the halves hold the same records."""
    clock = _ManualClock()
    made: list[_Pages] = []

    class _ExpiringTwice(_Pages):
        def add(self, records: list[dict[str, Any]]) -> None:
            super().add(records)
            if len(made) <= 2:
                clock.now += 120  # past results_ttl_s: the job turns EXPIRED

    def new_sink() -> _Pages:
        made.append(_ExpiringTwice())
        return made[-1]

    settings = config(jobs=JobsConfig(results_ttl_s=60))
    async with connected(settings, clock=clock) as (simulator, client):
        options = JobOptions(poll_initial=0, poll_max=0, page_size=20, resubmits=1)
        sink = await DetailsJobs(client, ConversationFilters(), options).fetch(
            DAY, new_sink
        )
        halved = submits(simulator)
        whole = await _job_ids(client, {"interval": str(DAY)}, page_size=1000)

    assert (len(made), [m.discarded for m in made], halved) == (
        3,
        [True, True, False],
        4,
    )
    assert set(whole) == {r["conversationId"] for r in sink.records}


async def test_a_results_page_size_over_the_maximum_fails_at_once_saying_so() -> None:
    """A client mistake is not a lost job: no resubmit, the server's message."""
    settings = config(jobs=JobsConfig(max_page_size=100))
    async with connected(settings) as (simulator, client):
        options = JobOptions(poll_initial=0, poll_max=0, page_size=500, resubmits=2)
        jobs = DetailsJobs(client, ConversationFilters(), options)
        with pytest.raises(QueryRejectedError) as caught:
            await jobs.fetch(DAY, _Pages)

    assert (caught.value.status, submits(simulator)) == (400, 1)
    assert "pageSize must be between 1 and 100" in str(caught.value)


async def test_too_many_results_is_told_apart_from_other_failures() -> None:
    """Only a failure about the results' size asks for a split."""
    settings = config(jobs=JobsConfig(max_results=10))
    async with connected(settings) as (_, client):
        jobs = DetailsJobs(client, ConversationFilters(), JobOptions(poll_initial=0))
        with pytest.raises(JobFailedError) as caught:
            await jobs.fetch(DAY, _Pages)

    other = JobFailedError(str(DAY), "FAILED", "The job failed on an internal error")
    assert (caught.value.too_many_results, other.too_many_results) == (True, False)
    assert caught.value.attempts == 1


def test_default_api_is_auto_only_for_ranges_older_than_the_query_reach() -> None:
    """35 days back is the synchronous query's reach."""
    now = START + timedelta(days=100)

    chosen = [
        default_api(now - timedelta(days=36), now=now),
        default_api(now - timedelta(days=34), now=now),
        default_api(now - timedelta(days=20), reach_days=10, now=now),
    ]

    assert chosen == ["auto", "query", "auto"]


def test_simulator_options_set_every_jobs_knob() -> None:
    """`genesys-async simulate --jobs-...` reaches the JobsConfig."""
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(
        [
            "--jobs-pending-seconds=30",
            "--jobs-fail-first=2",
            "--jobs-max-concurrent=3",
            "--jobs-max-results=none",
            "--jobs-availability=2026-09-20T00:00:00Z",
        ]
    )

    jobs = config_from_args(args).jobs

    expected = JobsConfig(
        pending_s=30.0,
        fail_first=2,
        max_concurrent_jobs=3,
        max_results=None,
        availability=START + timedelta(days=19),
    )
    assert jobs == expected
