"""The asynchronous details jobs routes: submit, status, results, delete, availability.

- `POST /api/v2/analytics/conversations/details/jobs` takes an
  `AsyncConversationQuery` and answers 202 `{"jobId"}`. The job's matches are
  computed at once; its state then moves QUEUED, PENDING and ends FULFILLED,
  FAILED or EXPIRED as the simulator clock passes (`JobsConfig`).
- Matching is plain overlap (a conversation running at any instant of the
  interval, however early it started) unless `startOfDayIntervalMatching` is
  true, which applies the synchronous query's rule (`_query.find_matches`).
- Results leave out conversations that started at or after the
  `dataAvailabilityDate`, with no error: the real datalake lags the present.
- Job records are the query's records plus `participants[].attributes` (a
  string map of participant data, as flows set it) on the customer
  participant; the synchronous query does not serve attributes.
- Limits: jobs QUEUED or PENDING at once (429 beyond it); conversations per job
  (the job ends FAILED with an errorMessage naming the maximum; the submit
  itself is accepted, as the real count is known only once the job runs).
- Results of a job that is not FULFILLED: 400 `bad.request` naming its state;
  an unknown or deleted job: 404 `not.found`. DELETE answers 204 and forgets
  the job.
"""

from __future__ import annotations

import base64
import binascii
import random
import uuid
import zlib
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from aiohttp import web

from genesys_async.simulator._config import DETAIL_PERMISSION, JobsConfig
from genesys_async.simulator._data import Dataset, format_ms
from genesys_async.simulator._query import (
    DetailsQuery,
    filter_mask,
    find_matches,
    parse_details_query,
)
from genesys_async.simulator._state import (
    ApiError,
    State,
    json_response,
    require_permission,
)

__all__ = ["JOBS_PATH", "JobsConfig", "register"]

JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RUNNING = ("QUEUED", "PENDING")
# Fields of an AsyncConversationQuery beyond what the synchronous parser checks.
_ASYNC_ONLY = ("limit", "startOfDayIntervalMatching")
# Values of the participant data a customer's flow would set, picked per
# conversation so every job serves the same attributes for it.
_LANGUAGES = ("en-US", "de-DE", "fr-FR", "es-ES", "nl-NL")
_TIERS = ("standard", "silver", "gold")
_REASONS = ("billing", "order-status", "technical", "cancellation", "other")


@dataclass
class _Job:
    """One submitted job; its matches are fixed when it is submitted."""

    job_id: str
    submitted: float
    outcome: str
    matches: array[int]
    error_message: str | None = None


class _Jobs:
    """Every live job of the simulator, and the rules of their lifecycle."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.config: JobsConfig = state.config.jobs
        self.dataset: Dataset = state.dataset
        # Maps the monotonic clock onto the simulated calendar for dates.
        self._clock_origin = state.clock()
        self._rng = random.Random(self.config.seed)
        # Submissions so far: the first ones may be configured to fail.
        self._submitted = 0
        self.jobs: dict[str, _Job] = {}
        # The longest conversation, so plain overlap knows how far back to
        # look; found on the first job, not for every simulator started.
        self._longest_ms: int | None = None

    # -- dates ---------------------------------------------------------------

    def availability_ms(self) -> int:
        """The dataAvailabilityDate in epoch ms."""
        if self.config.availability is not None:
            return _ms(self.config.availability)
        lag = timedelta(hours=self.config.availability_lag_h)
        return _ms(self.dataset.now - lag)

    def _date(self, clock_s: float) -> str:
        """A simulator-clock instant as a date on the simulated calendar."""
        elapsed_ms = round((clock_s - self._clock_origin) * 1000)
        return format_ms(self.dataset.now_ms + elapsed_ms)

    # -- lifecycle -----------------------------------------------------------

    def state_of(self, job: _Job) -> str:
        """QUEUED, PENDING, or the job's outcome once its time has passed."""
        elapsed = self.state.clock() - job.submitted
        if elapsed < self.config.queued_s:
            return "QUEUED"
        if elapsed < self.config.queued_s + self.config.pending_s:
            return "PENDING"
        done = self.config.queued_s + self.config.pending_s
        if job.outcome == "FULFILLED" and elapsed >= done + self.config.results_ttl_s:
            return "EXPIRED"
        return job.outcome

    def running(self) -> int:
        """Jobs still QUEUED or PENDING."""
        return sum(self.state_of(job) in _RUNNING for job in self.jobs.values())

    def submit(self, body: Mapping[str, Any]) -> _Job:
        """Validate a query, check the concurrency limit, start a job."""
        limit = self.config.max_concurrent_jobs
        if limit is not None and self.running() >= limit:
            raise _too_many_jobs(limit)
        matches = self.match(body)
        outcome, message = self._outcome(len(matches))
        job = _Job(str(uuid.uuid4()), self.state.clock(), outcome, matches, message)
        self.jobs[job.job_id] = job
        return job

    def _outcome(self, count: int) -> tuple[str, str | None]:
        """How a job holding `count` conversations ends, and why if it fails."""
        maximum = self.config.max_results
        if maximum is not None and count > maximum:
            return "FAILED", (
                f"The job's results exceed the maximum of {maximum} conversations;"
                " submit a shorter interval"
            )
        number = self._submitted
        self._submitted += 1
        config = self.config
        if number < config.fail_first:
            return "FAILED", "The job failed on an internal error"
        if number < config.fail_first + config.expire_first:
            return "EXPIRED", None
        roll = self._rng.random()
        if roll < config.fail_rate:
            return "FAILED", "The job failed on an internal error"
        if roll < config.fail_rate + config.expire_rate:
            return "EXPIRED", None
        return "FULFILLED", None

    def status(self, job: _Job) -> dict[str, Any]:
        """The job's status reply."""
        state = self.state_of(job)
        done_at = job.submitted + self.config.queued_s + self.config.pending_s
        reply: dict[str, Any] = {
            "state": state,
            "submissionDate": self._date(job.submitted),
        }
        if state not in _RUNNING:
            reply["completionDate"] = self._date(done_at)
            reply["expirationDate"] = self._date(done_at + self.config.results_ttl_s)
        if state == "FAILED" and job.error_message:
            reply["errorMessage"] = job.error_message
        return reply

    # -- matching ------------------------------------------------------------

    def match(self, body: Mapping[str, Any]) -> array[int]:
        """Indices of the conversations the job returns, as the API orders them."""
        limit = body.get("limit")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise _bad("limit must be a positive integer", "limit")
        flag = body.get("startOfDayIntervalMatching", False)
        if not isinstance(flag, bool):
            raise _bad(
                "startOfDayIntervalMatching must be a boolean",
                "startOfDayIntervalMatching",
            )
        query = parse_details_query(
            {k: v for k, v in body.items() if k not in _ASYNC_ONLY}
        )
        if flag:
            matches = find_matches(self.dataset, query)
        else:
            matches = self._overlapping(query)
        return matches[:limit] if limit is not None else matches

    def _overlapping(self, query: DetailsQuery) -> array[int]:
        """Plain overlap: running at any instant of the interval."""
        data = self.dataset
        if self._longest_ms is None:
            self._longest_ms = max(
                (data.planned_end_ms(i) - data.start_ms(i) for i in range(len(data))),
                default=0,
            )
        candidates = data.index_range(query.start_ms - self._longest_ms, query.end_ms)
        filters = query.conversation_filters + query.segment_filters
        passed = (
            filter_mask(data, filters, candidates.start, candidates.stop)
            if filters
            else b"\x01" * len(candidates)
        )
        kept = array("q")
        for i, keep in zip(candidates, passed, strict=True):
            end = data.end_ms(i)
            if keep and (end is None or end > query.start_ms):
                kept.append(i)
        if query.order_by == "conversationEnd":
            never = 1 << 62
            kept = array("q", sorted(kept, key=lambda i: (data.end_ms(i) or never, i)))
        if query.descending:
            kept.reverse()
        return kept

    # -- results -------------------------------------------------------------

    def page(self, job: _Job, cursor: str | None, page_size: int) -> dict[str, Any]:
        """One page of a FULFILLED job's results."""
        offset = _read_cursor(job.job_id, cursor) if cursor else 0
        cutoff = self.availability_ms()
        data = self.dataset
        # Records past the availability date are not in the datalake yet.
        available = [i for i in job.matches if data.start_ms(i) < cutoff]
        chunk = available[offset : offset + page_size]
        reply: dict[str, Any] = {}
        if chunk:
            reply["conversations"] = [_with_attributes(data.record(i)) for i in chunk]
        following = offset + len(chunk)
        if following < len(available):
            reply["cursor"] = _write_cursor(job.job_id, following)
        reply["dataAvailabilityDate"] = format_ms(cutoff)
        return reply


_JOBS_KEY = web.AppKey("genesys_simulator_jobs", _Jobs)


def register(app: web.Application, state: State) -> None:
    """Add the details jobs routes to `app`."""
    app[_JOBS_KEY] = _Jobs(state)
    router = app.router
    # The fixed path first: the router tries resources in the order added.
    router.add_get(
        JOBS_PATH + "/availability", _availability, name="details_jobs_availability"
    )
    router.add_post(JOBS_PATH, _submit, name="details_jobs_submit")
    router.add_get(JOBS_PATH + "/{job_id}", _status, name="details_job_status")
    router.add_get(
        JOBS_PATH + "/{job_id}/results", _results, name="details_job_results"
    )
    router.add_delete(JOBS_PATH + "/{job_id}", _delete, name="details_job_delete")


async def _availability(request: web.Request) -> web.Response:
    require_permission(request, DETAIL_PERMISSION)
    jobs = request.app[_JOBS_KEY]
    return json_response({"dataAvailabilityDate": format_ms(jobs.availability_ms())})


async def _submit(request: web.Request) -> web.Response:
    require_permission(request, DETAIL_PERMISSION)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise _bad("The request body is not valid JSON", "body") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "body")
    if "paging" in body:
        raise _bad("An asynchronous query takes no paging", "paging")
    job = request.app[_JOBS_KEY].submit(body)
    return json_response({"jobId": job.job_id}, status=202)


async def _status(request: web.Request) -> web.Response:
    require_permission(request, DETAIL_PERMISSION)
    jobs = request.app[_JOBS_KEY]
    job = _find(jobs, request)
    await jobs.state.delay()
    return json_response(jobs.status(job))


async def _results(request: web.Request) -> web.Response:
    require_permission(request, DETAIL_PERMISSION)
    jobs = request.app[_JOBS_KEY]
    job = _find(jobs, request)
    state = jobs.state_of(job)
    if state != "FULFILLED":
        raise ApiError(
            400,
            "bad.request",
            f"Results are not available: the job {job.job_id} is {state}",
            field_name="jobId",
        )
    page_size = _page_size(request.query.get("pageSize"), jobs.config.max_page_size)
    reply = jobs.page(job, request.query.get("cursor") or None, page_size)
    await jobs.state.delay(records=len(reply.get("conversations", ())))
    return json_response(reply)


async def _delete(request: web.Request) -> web.Response:
    require_permission(request, DETAIL_PERMISSION)
    jobs = request.app[_JOBS_KEY]
    job = _find(jobs, request)
    del jobs.jobs[job.job_id]
    return web.Response(status=204)


def _find(jobs: _Jobs, request: web.Request) -> _Job:
    job_id = request.match_info["job_id"]
    job = jobs.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "not.found", f"Job {job_id} was not found")
    return job


def _page_size(text: str | None, maximum: int) -> int:
    if text is None or text == "":
        return maximum
    try:
        size = int(text)
    except ValueError:
        raise _bad(f"Invalid pageSize: {text}", "pageSize") from None
    if not 1 <= size <= maximum:
        raise _bad(f"pageSize must be between 1 and {maximum}", "pageSize")
    return size


def _with_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """The record as jobs serve it: its customer carries participant attributes."""
    # A hash of the id, not the dataset's generator: the query's records stay
    # exactly as they were, and the same conversation gets the same values.
    pick = zlib.crc32(str(record["conversationId"]).encode())
    for participant in record.get("participants", ()):
        if participant.get("purpose") == "customer":
            participant["attributes"] = {
                "language": _LANGUAGES[pick % len(_LANGUAGES)],
                "customerTier": _TIERS[(pick >> 8) % len(_TIERS)],
                "contactReason": _REASONS[(pick >> 16) % len(_REASONS)],
                "callbackRequested": "true" if pick >> 24 & 1 else "false",
            }
    return record


def _write_cursor(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode()


def _read_cursor(job_id: str, cursor: str) -> int:
    try:
        owner, _, offset = base64.urlsafe_b64decode(cursor).decode().rpartition(":")
        if owner == job_id:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _bad(f"Invalid cursor for job {job_id}", "cursor")


def _too_many_jobs(limit: int) -> ApiError:
    seconds = 5
    template = (
        "The maximum of {limit} concurrent jobs is reached. Retry the request"
        " in [{seconds}] seconds"
    )
    return ApiError(
        429,
        "too.many.requests",
        template.format(limit=limit, seconds=seconds),
        message_params={"limit": str(limit), "seconds": str(seconds)},
        message_with_params=template,
        headers={"Retry-After": str(seconds)},
    )


def _bad(message: str, field_name: str) -> ApiError:
    return ApiError(400, "bad.request", message, field_name=field_name)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)
