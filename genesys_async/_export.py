"""The export engine: a work queue of chunks and pages, workers, splitting.

One export is one ``asyncio.Queue`` of work items and a bounded pool of workers
sharing the client (so one limiter and one retry policy). A chunk's first page
reports ``totalHits``; its other pages go on the queue as items of their own,
so a dense chunk is fetched by every worker at once. A chunk the server refuses
as too big, on any page, is dropped with everything fetched of it and its two
halves go back on the queue. A chunk's records reach the sink only when every
page of it is in, and only those whose ``conversationStart`` it owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson

from ._errors import (
    ChunkTooSmallError,
    ConfigurationError,
    GenesysError,
    IntervalTooLongError,
    JobFailedError,
    PaginationCapError,
    RequestTooLargeError,
    ServerError,
)
from ._http import ClientStats, Requester
from ._intervals import Interval, check_range, format_ms, parse_instant, plan
from ._jobs import ApiMode, DetailsJobs, JobOptions, default_api
from ._queries import DETAILS_QUERY_PATH, ConversationFilters, details_query
from ._seen import SeenIds
from ._sinks import (
    ChunkSpool,
    ExportStore,
    OutputFormat,
    read_records,
    recorded_parameters,
)

__all__ = [
    "ExportOptions",
    "ExportProgress",
    "ExportReport",
    "conversation_details",
    "export_conversations",
]

logger = logging.getLogger("genesys_async")

_DAY_MS = 86_400_000
# What the public record says paging reaches; learned anew from any 400.
_ASSUMED_PAGINATION_CAP = 100_000


class ExportClient(Requester, Protocol):
    """A `Requester` that also says where it points and what it has sent."""

    @property
    def api_url(self) -> str: ...

    @property
    def stats(self) -> ClientStats: ...


@dataclass(frozen=True)
class ExportOptions:
    """How to fetch; none of these changes what an export holds.

    Args:
        chunk_days: the longest chunk, in days (fractions allowed). The server
            may ask for shorter ones; it is then obeyed for the rest of the run.
        concurrency: how many requests are in flight at most.
        page_size: records per page (the API takes 100 safely).
        min_chunk_seconds: a refused chunk shorter than twice this is not split
            but fails the export; ``chunk_days`` must be at least twice this.
    """

    chunk_days: float = 7.0
    concurrency: int = 8
    page_size: int = 100
    min_chunk_seconds: float = 60.0

    def __post_init__(self) -> None:
        # isfinite also refuses nan, which every comparison lets through.
        if not (math.isfinite(self.chunk_days) and self.chunk_days > 0):
            raise ConfigurationError("chunk_days must be a finite number above zero")
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if not 1 <= self.page_size <= 10_000:
            raise ConfigurationError("page_size must be between 1 and 10000")
        if not (math.isfinite(self.min_chunk_seconds) and self.min_chunk_seconds > 0):
            raise ConfigurationError(
                "min_chunk_seconds must be a finite number above zero"
            )
        # A chunk shorter than a splittable one plans absurd numbers of
        # chunks (0.0000001 days: 140 million a year) and could never split.
        if self.chunk_days * 86_400 < 2 * self.min_chunk_seconds:
            raise ConfigurationError(
                f"chunk_days ({self.chunk_days:g} days) must be at least twice"
                f" min_chunk_seconds ({2 * self.min_chunk_seconds:g} seconds)"
            )


@dataclass
class ExportProgress:
    """Live counters of a running export, for a progress display."""

    chunks_planned: int = 0
    chunks_done: int = 0
    chunks_resumed: int = 0
    conversations: int = 0
    splits: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ExportReport:
    """What an export did.

    Attributes:
        conversations: records in the output.
        chunks: chunks in the output (resumed ones included).
        chunks_resumed: chunks taken from an earlier run's manifest.
        splits: chunks cut in two because the server refused them.
        requests: HTTP replies by status, token requests included.
        retries: retries by reason ("429", "503", "connection", ...).
        seconds: wall time of this run.
        output: the output path; None for an iterator.
        already_complete: the manifest said the output was already whole.
        api: how the range was fetched: "query", "jobs" or "auto".
        data_availability: the jobs' dataAvailabilityDate (ISO-8601); None
            when it was not read (query mode, or an already complete output).
        provisional: intervals whose data may still change or is partial:
            fetched after the data availability date (by the query in auto
            mode, partial through jobs in jobs mode).
        warnings: what a user should know about the output, one sentence each.
    """

    conversations: int
    chunks: int
    chunks_resumed: int
    splits: int
    requests: dict[int, int]
    retries: dict[str, int]
    seconds: float
    output: str | None = None
    already_complete: bool = False
    api: str = "query"
    data_availability: str | None = None
    provisional: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (statuses as strings)."""
        return {
            "conversations": self.conversations,
            "chunks": self.chunks,
            "chunks_resumed": self.chunks_resumed,
            "splits": self.splits,
            "requests": {str(k): v for k, v in sorted(self.requests.items())},
            "retries": dict(sorted(self.retries.items())),
            "seconds": round(self.seconds, 3),
            "output": self.output,
            "already_complete": self.already_complete,
            "api": self.api,
            "data_availability": self.data_availability,
            "provisional": list(self.provisional),
            "warnings": list(self.warnings),
        }


@dataclass(eq=False)
class _Chunk:
    """A chunk being fetched; shared by the work items of its pages."""

    interval: Interval
    spool: ChunkSpool | None = None
    # The highest page asked for so far, and those whose records are in.
    last_page: int = 1
    done_pages: set[int] = field(default_factory=set)
    # Ids kept so far: a live interval can repeat a record across pages.
    seen: SeenIds = field(default_factory=SeenIds)
    # Set when the chunk was split or failed: its pages still queued or in
    # flight are then dropped.
    dead: bool = False
    # The first page's totalHits, and the records the pages brought (before
    # the owner rule), to notice a chunk that came back well short.
    total_hits: int = 0
    received: int = 0


@dataclass(frozen=True)
class _Page:
    chunk: _Chunk
    number: int


_WorkItem = Interval | _Page
# Called with a whole chunk, its spool and how it was fetched ("query", "jobs").
ChunkDone = Callable[[Interval, ChunkSpool, str], Awaitable[None]]


class _JobSink:
    """One job attempt's pages, through the owner rule, into a chunk spool."""

    def __init__(self, engine: _Engine, interval: Interval) -> None:
        self.engine = engine
        self.chunk = _Chunk(interval)
        self.chunk.spool = ChunkSpool(engine.spool_path(self.chunk))
        self.chunk.last_page = 0
        engine.track(self.chunk)

    def add(self, records: list[dict[str, Any]]) -> None:
        """Keep the page's records that the chunk owns, once each."""
        chunk = self.chunk
        lines, count = self.engine.owned_lines(chunk, records)
        chunk.last_page += 1
        assert chunk.spool is not None
        chunk.spool.add_page(chunk.last_page, lines, count)
        chunk.done_pages.add(chunk.last_page)

    def discard(self) -> None:
        """Drop the attempt's spool."""
        self.engine.drop(self.chunk)


class _Engine:
    """One run over a set of intervals, calling ``on_done`` per whole chunk."""

    def __init__(
        self,
        client: ExportClient,
        filters: ConversationFilters,
        options: ExportOptions,
        spool_dir: Path,
        on_done: ChunkDone,
        progress: ExportProgress,
        jobs: DetailsJobs | None = None,
    ) -> None:
        self._client = client
        self._jobs = jobs
        self._filters = filters
        self._options = options
        self._spool_dir = spool_dir
        self._on_done = on_done
        self._progress = progress
        self._queue: asyncio.Queue[_WorkItem] = asyncio.Queue()
        # Chunks fetched through details jobs: each worker drives one job.
        self._job_queue: asyncio.Queue[Interval] = asyncio.Queue()
        # Both limits are learned from the server's refusals during the run.
        self._max_chunk_ms = max(1, round(options.chunk_days * _DAY_MS))
        self._pagination_cap = _ASSUMED_PAGINATION_CAP
        self._min_chunk_ms = round(options.min_chunk_seconds * 1000)
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        # Chunks with a spool open, closed (and deleted) when the run stops
        # early, so a failed or cancelled export leaves no open files.
        self._open: set[_Chunk] = set()
        # Sentences for the report, such as a chunk short of its totalHits.
        self.warnings: list[str] = []

    async def run(
        self, intervals: Sequence[Interval], job_intervals: Sequence[Interval] = ()
    ) -> None:
        """Fetch every interval; raise the first error that stops the export.

        Args:
            intervals: chunks for the synchronous query.
            job_intervals: chunks for details jobs; needs the engine's jobs.
        """
        for interval in intervals:
            self._queue.put_nowait(interval)
        for interval in job_intervals:
            self._job_queue.put_nowait(interval)
        self._progress.chunks_planned += len(intervals) + len(job_intervals)
        if not intervals and not job_intervals:
            return

        workers = [
            asyncio.create_task(self._work()) for _ in range(self._options.concurrency)
        ]
        if job_intervals:
            assert self._jobs is not None, "job chunks need a DetailsJobs"
            workers += [
                asyncio.create_task(self._work_jobs())
                for _ in range(self._jobs.options.max_jobs)
            ]
        drained = asyncio.create_task(self._drained())
        failed = asyncio.create_task(self._failed.wait())
        try:
            await asyncio.wait({drained, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*workers, drained, failed):
                task.cancel()
            await asyncio.gather(*workers, drained, failed, return_exceptions=True)
            for chunk in self._open:
                chunk.dead = True
                if chunk.spool is not None:
                    chunk.spool.close()
            self._open.clear()
        if self._failure is not None:
            raise self._failure

    async def _drained(self) -> None:
        # A job split puts halves back on its queue: wait until both are
        # empty at the same time.
        while True:
            await self._queue.join()
            await self._job_queue.join()
            if self._queue.empty() and self._job_queue.empty():
                return

    async def _work_jobs(self) -> None:
        while True:
            interval = await self._job_queue.get()
            try:
                if self._failed.is_set():
                    # The export is stopping: submit no job nobody will delete.
                    continue
                await self._run_job(interval)
            except Exception as exc:
                if self._failure is None:
                    self._failure = exc
                self._failed.set()
            finally:
                self._job_queue.task_done()

    async def _run_job(self, interval: Interval) -> None:
        """Fetch a chunk through a details job; split it when it holds too many."""
        assert self._jobs is not None
        if interval.length_ms > self._max_chunk_ms:
            pieces = interval.pieces(self._max_chunk_ms)
            self._progress.chunks_planned += len(pieces) - 1
            for piece in pieces:
                self._job_queue.put_nowait(piece)
            return

        try:
            sink = await self._jobs.fetch(interval, lambda: _JobSink(self, interval))
        except JobFailedError as exc:
            if not exc.too_many_results:
                raise
            self._split(interval, exc, self._job_queue)
            return
        except IntervalTooLongError as exc:
            self._split(interval, exc, self._job_queue)
            return
        await self._finish(sink.chunk, "jobs")

    def spool_path(self, chunk: _Chunk) -> Path:
        """Where a chunk's spool lives."""
        return self._spool_dir / f"{id(chunk)}.spool"

    def track(self, chunk: _Chunk) -> None:
        """Close this chunk's spool if the run stops early."""
        self._open.add(chunk)

    def drop(self, chunk: _Chunk) -> None:
        """Forget a chunk and delete its spool."""
        chunk.dead = True
        self._open.discard(chunk)
        if chunk.spool is not None:
            chunk.spool.close()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, _Page):
                    await self._fetch_page(item)
                else:
                    await self._start_chunk(item)
            except Exception as exc:
                if self._failure is None:
                    self._failure = exc
                self._failed.set()
            finally:
                self._queue.task_done()

    async def _start_chunk(self, interval: Interval) -> None:
        """Fetch a chunk's first page, then queue the rest (or split it)."""
        if interval.length_ms > self._max_chunk_ms:
            pieces = interval.pieces(self._max_chunk_ms)
            self._progress.chunks_planned += len(pieces) - 1
            for piece in pieces:
                self._queue.put_nowait(piece)
            return

        chunk = _Chunk(interval)
        try:
            reply = await self._query(interval, 1)
        except IntervalTooLongError as exc:
            self._shorten(exc)
            if interval.length_ms > self._max_chunk_ms:
                # Re-planned to the shorter limit when it comes off the queue.
                self._queue.put_nowait(interval)
            else:
                # Already within the limit the server names: asking again
                # would be refused again, forever. Treated as too big, it is
                # halved down to the minimum chunk, which then fails by name.
                self._refused(chunk, exc)
            return
        except (RequestTooLargeError, PaginationCapError, ServerError) as exc:
            self._refused(chunk, exc)
            return

        total = int(reply.get("totalHits") or 0)
        if total > self._pagination_cap:
            cause = PaginationCapError(
                400,
                f"{total} hits exceed the {self._pagination_cap} that paging reaches",
                interval=str(interval),
            )
            self._refused(chunk, cause)
            return

        chunk.spool = ChunkSpool(self.spool_path(chunk))
        self._open.add(chunk)
        chunk.total_hits = total
        chunk.last_page = max(1, math.ceil(total / self._options.page_size))
        for number in range(2, chunk.last_page + 1):
            self._queue.put_nowait(_Page(chunk, number))
        await self._take_page(chunk, 1, reply)

    async def _fetch_page(self, page: _Page) -> None:
        chunk = page.chunk
        if chunk.dead:
            return
        try:
            reply = await self._query(chunk.interval, page.number)
        except (RequestTooLargeError, PaginationCapError, ServerError) as exc:
            self._refused(chunk, exc)
            return
        if not chunk.dead:
            await self._take_page(chunk, page.number, reply)

    async def _take_page(self, chunk: _Chunk, number: int, reply: Any) -> None:
        """Keep a page's owned records; finish the chunk when it is whole."""
        records = reply.get("conversations") or []
        chunk.received += len(records)
        lines, count = self.owned_lines(chunk, records)
        assert chunk.spool is not None
        chunk.spool.add_page(number, lines, count)
        chunk.done_pages.add(number)

        # totalHits is approximate: a full last page means there may be more.
        if number == chunk.last_page and len(records) >= self._options.page_size:
            chunk.last_page += 1
            self._queue.put_nowait(_Page(chunk, chunk.last_page))
        if len(chunk.done_pages) == chunk.last_page:
            self._check_hits(chunk)
            await self._finish(chunk, "query")

    def _check_hits(self, chunk: _Chunk) -> None:
        """Warn when a chunk brought well under the totalHits it announced.

        totalHits is approximate, so up to a page of difference is normal;
        more, without a refusal, may be records the server did not serve.
        """
        missing = chunk.total_hits - chunk.received
        if missing <= self._options.page_size:
            return
        warning = (
            f"Chunk {chunk.interval} brought {chunk.received} records but its"
            f" first page announced {chunk.total_hits} (totalHits) and the server"
            " said nothing of the rest."
        )
        logger.warning("%s", warning)
        self.warnings.append(warning)

    def owned_lines(
        self, chunk: _Chunk, records: list[dict[str, Any]]
    ) -> tuple[bytes, int]:
        """The NDJSON lines of the records this chunk owns, and their number."""
        lines = []
        interval = chunk.interval
        first, last = format_ms(interval.start_ms), format_ms(interval.end_ms)
        for record in records:
            started = record["conversationStart"]
            if _is_canonical(started):
                # The API's own form sorts as text: no parsing per record.
                owned = first <= started < last
            else:
                owned = interval.owns(parse_instant(started))
            if not owned:
                continue
            if chunk.seen.add(record["conversationId"]):
                lines.append(orjson.dumps(record))
        if not lines:
            return b"", 0
        return b"\n".join(lines) + b"\n", len(lines)

    async def _finish(self, chunk: _Chunk, source: str) -> None:
        assert chunk.spool is not None
        chunk.dead = True
        self._open.discard(chunk)
        self._progress.conversations += len(chunk.seen)
        try:
            await self._on_done(chunk.interval, chunk.spool, source)
        finally:
            # The callback closes the spool once the chunk is safe; if it
            # failed or was cancelled midway (a reader that left early), the
            # spool is closed here. Closing twice is harmless.
            chunk.spool.close()
        self._progress.chunks_done += 1
        logger.info(
            "chunk %s done through the %s: %d conversations, %d pages",
            chunk.interval,
            "details jobs" if source == "jobs" else "query",
            len(chunk.seen),
            chunk.last_page,
        )

    def _refused(self, chunk: _Chunk, cause: GenesysError) -> None:
        """Drop a chunk the server refused as too big; queue its halves."""
        if chunk.dead:
            return
        chunk.dead = True
        self._open.discard(chunk)
        if chunk.spool is not None:
            chunk.spool.close()
        if isinstance(cause, PaginationCapError) and cause.limit:
            self._pagination_cap = min(self._pagination_cap, cause.limit)
        if isinstance(cause, ServerError) and cause.status != 504:
            # Only a timeout says "too big"; other 5xx outlived their retries.
            raise cause
        self._split(chunk.interval, cause, self._queue)

    def _split(
        self,
        interval: Interval,
        cause: GenesysError,
        queue: asyncio.Queue[_WorkItem] | asyncio.Queue[Interval],
    ) -> None:
        """Queue the two halves of a refused chunk, or fail if it is too small."""
        if not interval.can_split(self._min_chunk_ms):
            raise ChunkTooSmallError(str(interval), cause)
        for half in interval.halves():
            queue.put_nowait(half)
        self._progress.splits += 1
        self._progress.chunks_planned += 1
        logger.info("chunk %s split in two: %s", interval, cause)

    def _shorten(self, refusal: IntervalTooLongError) -> None:
        """Obey the server's longest interval for every chunk from now on."""
        if refusal.max_days:
            limit = refusal.max_days * _DAY_MS
        else:
            limit = self._max_chunk_ms // 2
        if limit < self._max_chunk_ms:
            self._max_chunk_ms = max(limit, self._min_chunk_ms)
            logger.info(
                "the server takes intervals of at most %s; re-planning chunks",
                timedelta(milliseconds=self._max_chunk_ms),
            )

    async def _query(self, interval: Interval, page: int) -> Any:
        body = details_query(
            str(interval),
            self._filters,
            page_size=self._options.page_size,
            page_number=page,
        )
        reply = await self._client.request(
            "POST", DETAILS_QUERY_PATH, json=body, interval=str(interval)
        )
        if not isinstance(reply, dict):
            raise ServerError(
                200, "the reply is not a JSON object", interval=str(interval)
            )
        return reply


def _is_canonical(instant: str) -> bool:
    """Whether an instant reads like ``2026-09-01T12:34:56.789Z``."""
    return (
        len(instant) == 24
        and instant[4] == "-"
        and instant[10] == "T"
        and instant[19] == "."
        and instant[23] == "Z"
    )


@dataclass(frozen=True)
class _SourcePlan:
    """Which chunks go through the query and which through details jobs."""

    api: ApiMode
    query: list[Interval]
    jobs: list[Interval]
    # Epoch ms of the jobs' dataAvailabilityDate; None when not read.
    availability_ms: int | None = None
    warnings: tuple[str, ...] = ()

    def provisional(self, interval: Interval) -> bool:
        """Whether a chunk reaches past the data availability date."""
        cutoff = self.availability_ms
        return cutoff is not None and interval.end_ms > cutoff

    @property
    def availability(self) -> str | None:
        """The data availability date in the API's form; None when not read."""
        cutoff = self.availability_ms
        return None if cutoff is None else format_ms(cutoff)


async def _plan_sources(
    api: ApiMode,
    whole: Interval,
    gaps: Sequence[Interval],
    chunk_ms: int,
    jobs: DetailsJobs | None,
) -> _SourcePlan:
    """Plan the gaps into query and job chunks, cut at the availability date.

    In ``auto`` mode what lies before the jobs' ``dataAvailabilityDate`` goes
    through jobs and the rest through the query; ``jobs`` mode sends all of it
    through jobs and warns when the range ends past that date.
    """

    def chunks(parts: Sequence[Interval]) -> list[Interval]:
        return [c for part in parts for c in plan(part.start_ms, part.end_ms, chunk_ms)]

    if api == "query" or jobs is None:
        return _SourcePlan(api, chunks(gaps), [])
    cutoff = await jobs.availability()
    if api == "jobs":
        warnings: tuple[str, ...] = ()
        if whole.end_ms > cutoff:
            warning = (
                f"The range ends after the data availability date"
                f" {format_ms(cutoff)}: details jobs return the part after it"
                " partial; --api auto fetches that part through the query."
            )
            logger.warning("%s", warning)
            warnings = (warning,)
        return _SourcePlan(api, [], chunks(gaps), cutoff, warnings)

    before = [
        Interval(g.start_ms, min(g.end_ms, cutoff)) for g in gaps if g.start_ms < cutoff
    ]
    after = [
        Interval(max(g.start_ms, cutoff), g.end_ms) for g in gaps if g.end_ms > cutoff
    ]
    logger.info(
        "data availability date %s: before it through details jobs, after it"
        " through the query (provisional)",
        format_ms(cutoff),
    )
    return _SourcePlan(api, chunks(after), chunks(before), cutoff)


def _merged(intervals: Sequence[Interval]) -> tuple[str, ...]:
    """Touching intervals joined, in time order, in the API's form."""
    joined: list[Interval] = []
    for interval in sorted(intervals):
        if joined and joined[-1].end_ms >= interval.start_ms:
            last = joined.pop()
            interval = Interval(last.start_ms, max(last.end_ms, interval.end_ms))
        joined.append(interval)
    return tuple(str(interval) for interval in joined)


def _subtract(whole: Interval, done: Sequence[Interval]) -> list[Interval]:
    """The parts of ``whole`` that no interval of ``done`` covers."""
    gaps = []
    cursor = whole.start_ms
    for interval in sorted(done):
        if interval.start_ms > cursor:
            gaps.append(Interval(cursor, min(interval.start_ms, whole.end_ms)))
        cursor = max(cursor, interval.end_ms)
    if cursor < whole.end_ms:
        gaps.append(Interval(cursor, whole.end_ms))
    return gaps


def _snapshot(
    client: ExportClient, before: tuple[Counter[int], Counter[str]]
) -> tuple[dict[int, int], dict[str, int]]:
    """Requests and retries since ``before``, by status and by reason."""
    stats = client.stats
    responses = Counter(stats.responses)
    responses.subtract(before[0])
    retries = Counter(stats.retries)
    retries.subtract(before[1])
    return (
        {k: v for k, v in responses.items() if v > 0},
        {k: v for k, v in retries.items() if v > 0},
    )


def _counters(client: ExportClient) -> tuple[Counter[int], Counter[str]]:
    return Counter(client.stats.responses), Counter(client.stats.retries)


async def export_conversations(
    client: ExportClient,
    start: datetime,
    end: datetime,
    output: str | Path,
    *,
    fmt: OutputFormat = "ndjson",
    filters: ConversationFilters | None = None,
    options: ExportOptions | None = None,
    restart: bool = False,
    progress: ExportProgress | None = None,
    origin: str | None = None,
    api: ApiMode | None = None,
    jobs: JobOptions | None = None,
) -> ExportReport:
    """Export every conversation whose start lies in ``[start, end)`` to a file.

    The file appears only when the export is whole. A manifest beside it
    (``<output>.manifest.jsonl``) records each finished chunk, so a rerun after
    a crash fetches only what is missing.

    Args:
        client: an open ``GenesysClient``.
        start: the range's start, an aware datetime.
        end: the range's end (excluded), an aware datetime, not in the future.
        output: the output path; its folder must exist.
        fmt: ``ndjson`` (one record a line) or ``json`` (one array).
        filters: what to export beyond the range; None exports everything.
        options: how to fetch; None uses the defaults.
        restart: ignore a manifest left by an earlier run.
        progress: counters to update as the export runs; None keeps them
            private.
        origin: where the data comes from, as the manifest records it (a
            resume from another origin is refused); None uses the client's
            API URL.
        api: ``query`` fetches through the synchronous query (about 35 days
            of reach); ``jobs`` through details jobs (bulk history; partial
            past the data availability date, with a warning); ``auto`` through
            jobs up to the data availability date and the query after it (that
            part is marked provisional in the report and the manifest). None
            is ``auto`` for a range that starts before the query's reach
            (``jobs.query_reach_days``), else ``query``; but a resume keeps
            the API its manifest records, since that default moves with the
            clock and the same command must resume tomorrow.
        jobs: how to drive details jobs; None uses the defaults.

    Raises:
        ConfigurationError: the range is naive, empty, reversed or in the future.
        OutputError: the output cannot be written.
        ManifestMismatchError: the manifest beside the output is another export's.
        GenesysError: the export failed; the manifest keeps what was finished.
    """
    whole = check_range(start, end)
    filters = filters or ConversationFilters()
    options = options or ExportOptions()
    progress = progress or ExportProgress()
    path = Path(output)
    if api is None and not restart:
        api = _resumed_api(path)
    api = _chosen_api(api, start, jobs)
    store = ExportStore(
        path,
        fmt,
        {
            "origin": origin or client.api_url,
            "source": f"details-{api}",
            "interval": str(whole),
            "filters": filters.describe(),
            # The output's bytes depend on it: another format is another export.
            "format": fmt,
        },
        restart=restart,
    )
    source = None if api == "query" else DetailsJobs(client, filters, jobs)
    store.open()
    before = _counters(client)
    began = time.monotonic()
    if store.complete:
        logger.info("%s is already complete; nothing to fetch", path)
        total = sum(chunk.conversations for chunk in store.finished)
        done = _SourcePlan(api, [], [])
        return _report(client, before, began, store, progress, total, True, done)

    resumed = [chunk.interval for chunk in store.finished]
    progress.chunks_resumed = progress.chunks_done = len(resumed)
    progress.chunks_planned += len(resumed)
    progress.conversations += sum(chunk.conversations for chunk in store.finished)
    if resumed:
        logger.info("resuming: %d chunks already finished", len(resumed))
    gaps = _subtract(whole, resumed)
    chunk_ms = round(options.chunk_days * _DAY_MS)
    planned = await _plan_sources(api, whole, gaps, chunk_ms, source)

    # One commit at a time: each appends to the manifest.
    committing = asyncio.Lock()

    async def commit(interval: Interval, spool: ChunkSpool, via: str) -> None:
        flag = planned.provisional(interval)
        async with committing:
            # Copying and fsyncing a part takes a while on a big chunk: off
            # the event loop, so requests keep flowing meanwhile.
            await asyncio.to_thread(
                store.commit, interval, spool, source=via, provisional=flag
            )

    engine = _Engine(
        client, filters, options, store.parts_dir, commit, progress, source
    )
    await engine.run(planned.query, planned.jobs)
    planned = dataclasses.replace(
        planned, warnings=(*planned.warnings, *engine.warnings)
    )
    report = _report(client, before, began, store, progress, 0, False, planned)
    total = await asyncio.to_thread(store.finish, report.as_dict())
    return _report(client, before, began, store, progress, total, False, planned)


def _chosen_api(
    api: ApiMode | None, start: datetime, jobs: JobOptions | None
) -> ApiMode:
    """The API asked for, or the default for a range starting at ``start``."""
    if api is not None:
        return api
    return default_api(start, (jobs or JobOptions()).query_reach_days)


def _resumed_api(output: Path) -> ApiMode | None:
    """The API an earlier run's manifest beside ``output`` records, if any."""
    source = recorded_parameters(output).get("source")
    modes: tuple[ApiMode, ...] = ("query", "jobs", "auto")
    for mode in modes:
        if source == f"details-{mode}":
            logger.info("resuming with the API the manifest records: %s", mode)
            return mode
    return None


def _report(
    client: ExportClient,
    before: tuple[Counter[int], Counter[str]],
    began: float,
    store: ExportStore,
    progress: ExportProgress,
    total: int,
    already: bool,
    planned: _SourcePlan,
) -> ExportReport:
    requests, retries = _snapshot(client, before)
    provisional = [chunk.interval for chunk in store.finished if chunk.provisional]
    return ExportReport(
        conversations=total,
        chunks=len(store.finished),
        chunks_resumed=progress.chunks_resumed,
        splits=progress.splits,
        requests=requests,
        retries=retries,
        seconds=time.monotonic() - began,
        output=str(store.output),
        already_complete=already,
        api=planned.api,
        data_availability=planned.availability,
        provisional=_merged(provisional),
        warnings=planned.warnings,
    )


async def conversation_details(
    client: ExportClient,
    start: datetime,
    end: datetime,
    *,
    filters: ConversationFilters | None = None,
    options: ExportOptions | None = None,
    progress: ExportProgress | None = None,
    api: ApiMode | None = None,
    jobs: JobOptions | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every conversation whose start lies in ``[start, end)``, once.

    Records come chunk by chunk as chunks complete (so not in time order
    across chunks; in time order within one). A chunk is held in a temporary
    spool file until it is whole, so memory stays flat and a chunk the server
    refuses midway yields nothing twice. Leaving the loop early stops the
    export once the generator is closed: wrap it in ``contextlib.aclosing``
    to stop at once rather than when it is garbage-collected.

    Args:
        client: an open ``GenesysClient``.
        start: the range's start, an aware datetime.
        end: the range's end (excluded), an aware datetime, not in the future.
        filters: what to export beyond the range; None exports everything.
        options: how to fetch; None uses the defaults.
        progress: counters to update as the export runs; None keeps them
            private.
        api: ``query``, ``jobs`` or ``auto``; None chooses as
            `export_conversations` does.
        jobs: how to drive details jobs; None uses the defaults.
    """
    whole = check_range(start, end)
    options = options or ExportOptions()
    filters = filters or ConversationFilters()
    api = _chosen_api(api, start, jobs)
    source = None if api == "query" else DetailsJobs(client, filters, jobs)
    with tempfile.TemporaryDirectory(prefix="genesys-async-") as folder:
        spool_dir = Path(folder)
        # Finished chunks' files, handed from the engine to the consumer; a
        # small bound keeps the engine from running far ahead of the reader.
        ready: asyncio.Queue[Path | None] = asyncio.Queue(maxsize=2)

        async def hand_over(interval: Interval, spool: ChunkSpool, via: str) -> None:
            target = spool_dir / f"{interval.start_ms}-{interval.end_ms}.ndjson"
            await asyncio.to_thread(spool.write_ordered, target)
            spool.close()
            await ready.put(target)

        engine = _Engine(
            client,
            filters,
            options,
            spool_dir,
            hand_over,
            progress or ExportProgress(),
            source,
        )

        async def drive() -> None:
            try:
                chunk_ms = round(options.chunk_days * _DAY_MS)
                planned = await _plan_sources(api, whole, [whole], chunk_ms, source)
                await engine.run(planned.query, planned.jobs)
            finally:
                await ready.put(None)

        driver = asyncio.create_task(drive())
        try:
            while (part := await ready.get()) is not None:
                for record in read_records(part):
                    yield record
                part.unlink()
            await driver
        finally:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
