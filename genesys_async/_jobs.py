"""Details jobs: submit, wait with growing intervals, page by cursor, delete.

The asynchronous jobs API is Genesys' bulk path and reaches past the
synchronous query's look-back. One job covers one chunk:

1. ``POST .../details/jobs`` with the chunk's interval -> ``jobId``.
2. ``GET .../jobs/{id}`` until the state is no longer QUEUED or PENDING,
   checking at once, then after ``poll_initial`` seconds (at least a second,
   or ``poll_max`` if shorter), then twice as long each time up to
   ``poll_max`` (never a busy loop), giving up after ``max_wait`` seconds.
3. ``GET .../jobs/{id}/results?cursor=`` page after page into a sink, until a
   page comes without a cursor.
4. ``DELETE .../jobs/{id}`` whatever happened (best effort, bounded in time).

A FAILED, EXPIRED or TIMEOUT job (or one whose results vanish midway, LOST: a
results page answered 404, or 400 while the job's status no longer says
FULFILLED) is resubmitted up to ``resubmits`` times with a fresh sink, so
nothing of a lost attempt is kept; one that ends EXPIRED or LOST every time is
fetched once more as two jobs, one per half of its chunk. Any other refused
results page (a page size over the server's maximum, a bad cursor) fails at
once with the server's message. A job that failed because its results are too
many is not resubmitted:
``JobFailedError.too_many_results`` tells the caller to split the chunk.

Jobs match by plain overlap: a conversation that started before the chunk but
ran into it comes back too. The caller keeps only the conversations whose start
the chunk owns. Results past the ``dataAvailabilityDate`` come back partial with
no error; read it first with `DetailsJobs.availability`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol, TypeVar

from ._errors import (
    ConfigurationError,
    ExportError,
    GenesysError,
    JobFailedError,
    QueryRejectedError,
)
from ._http import Requester
from ._intervals import Interval, parse_instant
from ._queries import ConversationFilters

__all__ = [
    "DETAILS_JOBS_PATH",
    "ApiMode",
    "DetailsJobs",
    "JobOptions",
    "PageSink",
    "default_api",
    "details_job_query",
]

logger = logging.getLogger("genesys_async")

DETAILS_JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"

ApiMode = Literal["query", "jobs", "auto"]

_RUNNING = frozenset({"QUEUED", "PENDING"})
# The shortest wait after the first status check when poll_initial is 0 but
# poll_max is not: doubling 0 would stay 0 and poll a job without a pause.
_POLL_FLOOR_S = 1.0
# States that say nothing against the chunk itself (its results were kept
# too briefly or went missing): after every resubmit, its halves get one try.
_SPLIT_ONCE = frozenset({"EXPIRED", "LOST"})
# The shortest half of such a split, ms.
_HALF_MS = 1000
# A DELETE is cleanup: it must not hold up a failing export for long.
_DELETE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class JobOptions:
    """How details jobs are driven; none of these changes what an export holds.

    Args:
        max_jobs: jobs in flight at once, at most.
        poll_initial: seconds between the first two status checks of a job
            (the first is at once); 0 means one second, or ``poll_max`` if
            that is shorter.
        poll_max: the longest wait between two status checks, seconds; 0
            (with ``poll_initial`` 0) never waits, which only suits tests
            whose server clock moves by itself.
        page_size: results per page (1000 is what the API is used with).
        resubmits: how many times a FAILED or EXPIRED job is submitted again
            before the export fails.
        query_reach_days: how far back the synchronous query reaches; a range
            starting earlier defaults to the ``auto`` mode.
        max_wait: seconds of waiting for one job to end; a job still QUEUED
            or PENDING then counts as failed (and is submitted again).
    """

    max_jobs: int = 4
    poll_initial: float = 2.0
    poll_max: float = 60.0
    page_size: int = 1000
    resubmits: int = 2
    query_reach_days: float = 35.0
    max_wait: float = 6 * 3600.0

    def __post_init__(self) -> None:
        if self.max_jobs < 1:
            raise ConfigurationError("max_jobs must be at least 1")
        if self.poll_initial < 0 or self.poll_max < self.poll_initial:
            raise ConfigurationError(
                "poll delays must be 0 or more, poll_max at least poll_initial"
            )
        if self.page_size < 1:
            raise ConfigurationError("the jobs page_size must be at least 1")
        if self.resubmits < 0:
            raise ConfigurationError("resubmits must be 0 or more")
        if not self.query_reach_days > 0:
            raise ConfigurationError("query_reach_days must be positive")
        if self.max_wait < 0:
            raise ConfigurationError("max_wait must be 0 or more")


class PageSink(Protocol):
    """Where one attempt of a job puts its result pages."""

    def add(self, records: list[dict[str, Any]]) -> None:
        """Take one page of records, in order; a record may come again."""

    def discard(self) -> None:
        """Drop everything taken: the attempt failed."""


Sink = TypeVar("Sink", bound=PageSink)
Sleep = Callable[[float], Awaitable[None]]


def details_job_query(interval: str, filters: ConversationFilters) -> dict[str, Any]:
    """The body of a details job (``AsyncConversationQuery``).

    Args:
        interval: ``start/end`` in ISO-8601.
        filters: what to export beyond the interval.
    """
    return {
        "interval": interval,
        "order": "asc",
        "orderBy": "conversationStart",
        **filters.body_fields(),
    }


def default_api(
    start: datetime, reach_days: float = 35.0, now: datetime | None = None
) -> ApiMode:
    """``auto`` for a range starting before the query's reach, else ``query``.

    Args:
        start: the range's start, an aware datetime.
        reach_days: how far back the synchronous query reaches, days.
        now: the present; None reads the clock.
    """
    present = now or datetime.now(timezone.utc)
    return "auto" if start < present - timedelta(days=reach_days) else "query"


class DetailsJobs:
    """Runs details jobs for chunks, at most ``max_jobs`` at once.

    Args:
        client: an open ``GenesysClient`` (or anything with its ``request``).
        filters: what to export beyond each chunk's interval.
        options: how to drive jobs; None uses the defaults.
        sleep: how to wait between status checks; None is ``asyncio.sleep``.
    """

    def __init__(
        self,
        client: Requester,
        filters: ConversationFilters,
        options: JobOptions | None = None,
        *,
        sleep: Sleep | None = None,
    ) -> None:
        self._client = client
        self._filters = filters
        self.options = options or JobOptions()
        self._sleep = sleep or asyncio.sleep
        # Shared by every chunk of a run: the bound on jobs alive at once.
        self._slots = asyncio.Semaphore(self.options.max_jobs)

    async def availability(self) -> int:
        """The ``dataAvailabilityDate``, epoch ms: jobs are complete before it."""
        reply = await self._client.request("GET", DETAILS_JOBS_PATH + "/availability")
        try:
            return parse_instant(str(reply["dataAvailabilityDate"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(
                f"The jobs availability reply has no dataAvailabilityDate: {exc}"
            ) from exc

    async def fetch(self, interval: Interval, new_sink: Callable[[], Sink]) -> Sink:
        """Run a job for ``interval``; return the sink of the attempt that worked.

        A job that ends EXPIRED or LOST on every attempt is fetched once more
        as two jobs, one per half of ``interval``, into one sink per attempt
        (so a sink may get a conversation twice: both halves overlap it).

        Args:
            interval: the chunk.
            new_sink: makes an empty sink for each attempt.

        Raises:
            JobFailedError: the job failed every attempt (and, when EXPIRED or
                LOST, so did its halves), or failed because its results are
                too many (``too_many_results``; not resubmitted).
            GenesysError: a request failed for good (a refused submit or
                results page, say).
        """
        async with self._slots:
            try:
                return await self._attempts((interval,), new_sink)
            except JobFailedError as exc:
                if exc.state not in _SPLIT_ONCE or not interval.can_split(_HALF_MS):
                    raise
                whole = exc
            halves = interval.halves()
            logger.info(
                "job for %s ended %s after every resubmit; fetching it in halves",
                interval,
                whole.state,
            )
            try:
                return await self._attempts(halves, new_sink)
            except JobFailedError as exc:
                attempts = whole.attempts + exc.attempts
                if exc.too_many_results:
                    # The export splits the chunk itself: say it of the chunk.
                    message = exc.message
                else:
                    why = f": {exc.message}" if exc.message else ""
                    before = f"{whole.message}; " if whole.message else ""
                    message = (
                        f"{before}in halves too, the job for {exc.interval}"
                        f" ended {exc.state}{why}"
                    )
                raise JobFailedError(
                    str(interval), exc.state, message, attempts
                ) from None

    async def _attempts(
        self, pieces: tuple[Interval, ...], new_sink: Callable[[], Sink]
    ) -> Sink:
        """A job per piece, all into one sink; resubmitted together on failure.

        Raises:
            JobFailedError: of the piece that failed, on the last attempt or
                at once when its results are too many.
        """
        attempts = self.options.resubmits + 1
        for attempt in range(1, attempts + 1):
            sink = new_sink()
            try:
                for piece in pieces:
                    await self._run_once(piece, sink)
            except JobFailedError as exc:
                sink.discard()
                if exc.too_many_results or attempt == attempts:
                    raise JobFailedError(
                        exc.interval, exc.state, exc.message, attempt
                    ) from None
                logger.info(
                    "job for %s ended %s; submitting again (%d/%d)",
                    exc.interval,
                    exc.state,
                    attempt,
                    self.options.resubmits,
                )
                continue
            except BaseException:
                sink.discard()
                raise
            return sink
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _run_once(self, interval: Interval, sink: PageSink) -> None:
        """One job: submit, wait, page into ``sink``, delete."""
        body = details_job_query(str(interval), self._filters)
        reply = await self._client.request(
            "POST", DETAILS_JOBS_PATH, json=body, interval=str(interval)
        )
        job_id = _job_id(reply, interval)
        logger.debug("job %s submitted for %s", job_id, interval)
        try:
            await self._wait(job_id, interval)
            await self._page(job_id, interval, sink)
        finally:
            await self._delete(job_id)

    async def _wait(self, job_id: str, interval: Interval) -> None:
        """Poll the job's state, waiting longer each time, until it ends."""
        path = f"{DETAILS_JOBS_PATH}/{job_id}"
        delay = waited = 0.0
        while True:
            # The first check is at once: a small job may already be done.
            if delay:
                await self._sleep(delay)
                waited += delay
            status = await self._client.request("GET", path, interval=str(interval))
            state = str((status or {}).get("state", "")).upper()
            if state == "FULFILLED":
                return
            if state and state not in _RUNNING:
                raise JobFailedError(
                    str(interval), state, (status or {}).get("errorMessage")
                )
            if waited >= self.options.max_wait:
                raise JobFailedError(
                    str(interval),
                    "TIMEOUT",
                    f"still {state or 'unknown'} after {waited:g} s of waiting",
                )
            delay = self._next_delay(delay)

    def _next_delay(self, delay: float) -> float:
        """The wait before the next status check, after one of ``delay`` s."""
        options = self.options
        floor = options.poll_initial or min(_POLL_FLOOR_S, options.poll_max)
        return min(max(delay * 2, floor), options.poll_max)

    async def _page(self, job_id: str, interval: Interval, sink: PageSink) -> None:
        """Read the results page by page until a page has no cursor."""
        path = f"{DETAILS_JOBS_PATH}/{job_id}/results"
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"pageSize": self.options.page_size}
            if cursor:
                params["cursor"] = cursor
            try:
                reply = await self._client.request(
                    "GET", path, params=params, interval=str(interval)
                )
            except QueryRejectedError as exc:
                gone = await self._gone(job_id, interval, exc)
                if gone is None:
                    # The job is still there: the page itself was refused
                    # (its size, its cursor), which no resubmit can fix.
                    raise
                raise JobFailedError(str(interval), "LOST", gone) from exc
            reply = reply if isinstance(reply, dict) else {}
            sink.add(list(reply.get("conversations") or []))
            following = reply.get("cursor")
            if not following or following == cursor:
                return
            cursor = str(following)

    async def _gone(
        self, job_id: str, interval: Interval, refusal: QueryRejectedError
    ) -> str | None:
        """Why a refused results page means the job is gone; None if it is not.

        A 404 is a job removed; a 400 is one whose results expired only when
        the job's status no longer says FULFILLED, so the status is read again.
        """
        if refusal.status == 404:
            return refusal.message
        if refusal.status != 400:
            return None
        try:
            status = await self._client.request(
                "GET", f"{DETAILS_JOBS_PATH}/{job_id}", interval=str(interval)
            )
        except QueryRejectedError as exc:
            return exc.message if exc.status == 404 else None
        state = str((status or {}).get("state", "")).upper()
        if state == "FULFILLED":
            return None
        return f"{refusal.message.rstrip('.')} (the job is now {state or 'unknown'})"

    async def _delete(self, job_id: str) -> None:
        """Remove the job from the server; failures are logged, not raised."""
        try:
            await asyncio.wait_for(
                self._client.request("DELETE", f"{DETAILS_JOBS_PATH}/{job_id}"),
                _DELETE_TIMEOUT_S,
            )
        except (GenesysError, asyncio.TimeoutError) as exc:
            logger.info("could not delete job %s: %s", job_id, exc)


def _job_id(reply: Any, interval: Interval) -> str:
    job_id = reply.get("jobId") if isinstance(reply, dict) else None
    if not job_id:
        raise ExportError(
            f"The details job for {interval} was accepted without a jobId."
        )
    return str(job_id)
