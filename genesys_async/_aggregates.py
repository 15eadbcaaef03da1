"""Aggregates export: metrics per group and time bucket over any range.

The range is cut into chunks of whole buckets: the bucket grid starts at the
range start, as the API's does, and each bucket ends one granularity later,
read in the query's time zone (days and months move the local date and keep
the local time, so a P1D bucket on a DST day lasts 23 or 25 hours; hours and
minutes are elapsed time). Chunks therefore never cut a bucket in two, and the
export equals what one query over the whole range would return.

Chunks go through a bounded pool of workers that share the client, so its one
limiter and retry policy apply. A chunk the server refuses as too long or as
too many buckets (a 400), or that still times out (504) after the retries, is
cut at a bucket boundary, to the limit the message names when it names one,
and the pieces go back on the queue; later chunks are cut to a learned limit
before they are sent. A single bucket so refused (a Berlin October is 31 days
and an hour) is queried in parts, each answering one bucket cut short.
Replies are merged so every (group, bucket) appears once, with the stats of
its parts or repeats combined.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import csv
import io
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ._errors import (
    ApiError,
    ChunkTooSmallError,
    ConfigurationError,
    IntervalTooLongError,
    OutputError,
    QueryRejectedError,
    ServerError,
)
from ._http import Requester
from ._intervals import check_range, format_ms, from_ms, parse_instant, to_ms

__all__ = [
    "AGGREGATES_QUERY_PATH",
    "AggregatesReport",
    "Granularity",
    "export_aggregates",
    "query_aggregates",
]

AGGREGATES_QUERY_PATH = "/api/v2/analytics/conversations/aggregates/query"

AggregatesFormat = Literal["ndjson", "csv"]

logger = logging.getLogger("genesys_async")

_DAY_MS = 86_400_000
_DURATION = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?"
)
# A 400 about the number of buckets; the limit is the number before "buckets"
# after a word that marks it as the maximum.
_BUCKETS_RE = re.compile(r"\bbuckets?\b", re.IGNORECASE)
_BUCKET_LIMIT_RE = re.compile(
    r"(?:maximum\s+of|at\s+most|max(?:imum)?:?|limit\s+of)\s+(\d[\d,.]*)\s+buckets?",
    re.IGNORECASE,
)
# The shortest part of a bucket queried in parts: the API's smallest bucket.
_MIN_PART_MS = 60_000
# Stats that lead a CSV row, in this order; any other stat follows, sorted.
_STAT_ORDER = ("count", "sum", "min", "max")


@dataclass(frozen=True)
class Granularity:
    """An ISO-8601 bucket length: calendar months and days, then elapsed time.

    Args:
        text: the duration as given, such as "PT30M" or "P1D".
        months: calendar months (a year is 12).
        days: calendar days (a week is 7).
        elapsed_ms: hours and minutes, as elapsed milliseconds.
    """

    text: str
    months: int
    days: int
    elapsed_ms: int

    @classmethod
    def parse(cls, text: str) -> Granularity:
        """Read PT15M, PT30M, PT1H, P1D, P1M or any whole-minute ISO duration.

        Raises:
            ConfigurationError: not such a duration, zero, or not whole minutes.
        """
        found = _DURATION.fullmatch(text.strip().upper())
        if found is None or not any(found.groupdict().values()):
            raise ConfigurationError(
                f"granularity {text!r} is not an ISO-8601 duration such as"
                " PT15M, PT30M, PT1H, P1D or P1M"
            )
        part = {k: int(v or 0) for k, v in found.groupdict().items()}
        seconds = part["h"] * 3600 + part["mi"] * 60 + part["s"]
        if seconds % 60:
            raise ConfigurationError(f"granularity {text!r} must be whole minutes")
        months, days = part["y"] * 12 + part["mo"], part["w"] * 7 + part["d"]
        if not (months or days or seconds):
            raise ConfigurationError(f"granularity {text!r} must not be zero")
        return cls(text.strip().upper(), months, days, seconds * 1000)

    def step(self, edge_ms: int, zone: ZoneInfo) -> int:
        """The bucket edge one granularity after ``edge_ms`` (epoch ms) in ``zone``."""
        if not (self.months or self.days):
            return edge_ms + self.elapsed_ms

        wall = from_ms(edge_ms).astimezone(zone)
        wall = wall.replace(tzinfo=None)
        month_index = wall.month - 1 + self.months
        year = wall.year + month_index // 12
        month = month_index % 12 + 1
        day = min(wall.day, calendar.monthrange(year, month)[1])
        wall = wall.replace(year=year, month=month, day=day)
        wall += timedelta(days=self.days)
        # A wall time that happens twice (DST ends) means its first occurrence.
        moment = wall.replace(tzinfo=zone, fold=0)
        return to_ms(moment) + self.elapsed_ms


@dataclass(frozen=True)
class AggregatesReport:
    """What an aggregates export did.

    Attributes:
        output: the output path.
        fmt: "ndjson" or "csv".
        groups: groups (result objects) in the output.
        buckets: (group, bucket) pairs in the output.
        rows: lines written (CSV: one per group, bucket and metric).
        chunks: queries answered (after splits).
        splits: chunks cut because the server refused them.
        seconds: wall time.
    """

    output: str
    fmt: str
    groups: int
    buckets: int
    rows: int
    chunks: int
    splits: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "output": self.output,
            "format": self.fmt,
            "groups": self.groups,
            "buckets": self.buckets,
            "rows": self.rows,
            "chunks": self.chunks,
            "splits": self.splits,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Chunk:
    """Buckets ``first`` to ``last`` (excluded) of the grid, or part of one.

    Args:
        first: the first bucket's index.
        last: the index after the last bucket.
        part: for a part of bucket ``first`` (``last`` is then ``first + 1``),
            its start and end, epoch ms; None for whole buckets.
    """

    first: int
    last: int
    part: tuple[int, int] | None = None


@dataclass
class _Merged:
    """One group's result: the API's result object and its buckets by start."""

    result: dict[str, Any]
    buckets: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Run:
    """One aggregates query over a range: plan, workers, splits, merge."""

    def __init__(
        self,
        client: Requester,
        edges: list[int],
        body: Mapping[str, Any],
        *,
        chunk_ms: int,
        concurrency: int,
    ) -> None:
        self.client = client
        self.edges = edges
        self.body = body
        self.concurrency = concurrency
        # Limits learned from the server's refusals; they only ever shrink.
        self.max_ms = chunk_ms
        self.max_buckets: int | None = None
        # Group (as sorted JSON) -> its merged result; written by every worker
        # but only between awaits, so no lock is needed.
        self.groups: dict[bytes, _Merged] = {}
        self.chunks = 0
        self.splits = 0

    async def run(self) -> list[dict[str, Any]]:
        """Fetch every chunk and return the merged results, groups sorted."""
        queue: asyncio.Queue[_Chunk] = asyncio.Queue()
        for chunk in self._plan(0, len(self.edges) - 1):
            queue.put_nowait(chunk)

        workers = [
            asyncio.create_task(self._work(queue)) for _ in range(self.concurrency)
        ]
        finished = asyncio.create_task(queue.join())
        try:
            await asyncio.wait(
                [finished, *workers], return_when=asyncio.FIRST_COMPLETED
            )
            for worker in workers:
                if worker.done():
                    worker.result()  # a worker only ends by raising
        finally:
            for task in (finished, *workers):
                task.cancel()
            for task in (finished, *workers):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        return [self._finished(self.groups[key]) for key in sorted(self.groups)]

    async def _work(self, queue: asyncio.Queue[_Chunk]) -> None:
        while True:
            chunk = await queue.get()
            try:
                for piece in self._pieces_now(chunk):
                    if piece == chunk:
                        await self._fetch(chunk, queue)
                    else:
                        queue.put_nowait(piece)
            finally:
                queue.task_done()

    def _pieces_now(self, chunk: _Chunk) -> list[_Chunk]:
        """The chunk cut to the limits learned since it was planned."""
        if chunk.part is not None:
            return self._parts(chunk.first, *chunk.part)
        return self._plan(chunk.first, chunk.last)

    async def _fetch(self, chunk: _Chunk, queue: asyncio.Queue[_Chunk]) -> None:
        interval = self._interval(chunk)
        body = {**self.body, "interval": interval}
        refusal: ApiError
        try:
            reply = await self.client.request(
                "POST", AGGREGATES_QUERY_PATH, json=body, interval=interval
            )
        except QueryRejectedError as exc:
            if not self._learn(exc):
                raise
            refusal = exc
        except ServerError as exc:
            # Only a timeout says "too big"; other 5xx outlived their retries.
            if exc.status != 504:
                raise
            refusal = exc
        else:
            self._merge(reply, chunk)
            self.chunks += 1
            logger.debug("aggregates chunk %s done", interval)
            return

        pieces = self._split(chunk, refusal)
        self.splits += 1
        logger.info(
            "aggregates chunk %s refused (%s); cut into %d",
            interval,
            refusal.message,
            len(pieces),
        )
        for piece in pieces:
            queue.put_nowait(piece)

    def _learn(self, refusal: QueryRejectedError) -> bool:
        """Take a limit from a refusal; False when it is not a size refusal."""
        if isinstance(refusal, IntervalTooLongError):
            if refusal.max_days:
                self.max_ms = min(self.max_ms, refusal.max_days * _DAY_MS)
            return True
        if refusal.status != 400 or not _BUCKETS_RE.search(refusal.message):
            return False
        found = _BUCKET_LIMIT_RE.search(refusal.message)
        if found:
            limit = int(re.sub(r"\D", "", found.group(1)))
            if limit > 0:
                self.max_buckets = min(self.max_buckets or limit, limit)
        return True

    def _split(self, chunk: _Chunk, refusal: ApiError) -> list[_Chunk]:
        if chunk.last - chunk.first < 2:
            start, end = chunk.part or self.edges[chunk.first : chunk.first + 2]
            if end - start < 2 * _MIN_PART_MS:
                raise ChunkTooSmallError(self._interval(chunk), refusal)
            parts = self._parts(chunk.first, start, end)
            if len(parts) > 1:
                return parts
            middle = start + (end - start) // 2
            # A cut on a whole minute keeps the parts' names readable.
            cut = max(start + _MIN_PART_MS, middle - middle % _MIN_PART_MS)
            return [
                _Chunk(chunk.first, chunk.last, (start, cut)),
                _Chunk(chunk.first, chunk.last, (cut, end)),
            ]
        pieces = self._plan(chunk.first, chunk.last)
        if len(pieces) > 1:
            return pieces
        # The learned limits allow the chunk as it is: the server disagrees
        # with its own message, so halve rather than send it again.
        middle = (chunk.first + chunk.last) // 2
        return [_Chunk(chunk.first, middle), _Chunk(middle, chunk.last)]

    def _plan(self, first: int, last: int) -> list[_Chunk]:
        """Cut buckets ``[first, last)`` into chunks within the known limits."""
        edges = self.edges
        chunks = []
        start = first
        while start < last:
            end = start + 1
            while end < last and edges[end + 1] - edges[start] <= self.max_ms:
                if self.max_buckets and end - start >= self.max_buckets:
                    break
                end += 1
            chunks.append(_Chunk(start, end))
            start = end
        return chunks

    def _parts(self, bucket: int, start: int, end: int) -> list[_Chunk]:
        """Cut ``[start, end)`` of one bucket into parts within the known limit."""
        parts = []
        while start < end:
            following = min(end, start + max(self.max_ms, _MIN_PART_MS))
            parts.append(_Chunk(bucket, bucket + 1, (start, following)))
            start = following
        return parts

    def _interval(self, chunk: _Chunk) -> str:
        if chunk.part is not None:
            return format_ms(chunk.part[0]) + "/" + format_ms(chunk.part[1])
        return (
            format_ms(self.edges[chunk.first]) + "/" + format_ms(self.edges[chunk.last])
        )

    def _merge(self, reply: Any, chunk: _Chunk) -> None:
        # A part's reply holds its bucket cut short: label it as the whole
        # bucket, so the parts' stats combine into one entry.
        whole = None
        if chunk.part is not None:
            whole = self._interval(_Chunk(chunk.first, chunk.last))
        results = reply.get("results") if isinstance(reply, dict) else None
        for result in results or []:
            group = result.get("group") or {}
            key = orjson.dumps(group, option=orjson.OPT_SORT_KEYS)
            merged = self.groups.get(key)
            if merged is None:
                merged = self.groups[key] = _Merged(
                    {k: v for k, v in result.items() if k != "data"}
                )
            for entry in result.get("data") or []:
                if whole is not None:
                    entry = {**entry, "interval": whole}
                start_ms = parse_instant(str(entry["interval"]).split("/")[0])
                held = merged.buckets.get(start_ms)
                if held is None:
                    merged.buckets[start_ms] = entry
                else:
                    held["metrics"] = _combine(held["metrics"], entry["metrics"])

    @staticmethod
    def _finished(merged: _Merged) -> dict[str, Any]:
        data = [merged.buckets[start] for start in sorted(merged.buckets)]
        return {**merged.result, "data": data}


def _combine(
    held: list[dict[str, Any]], more: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Metrics of one bucket seen twice: counts and sums add, min and max hold."""
    by_name = {(m["metric"], m.get("qualifier")): m for m in held}
    for metric in more:
        key = (metric["metric"], metric.get("qualifier"))
        if key not in by_name:
            by_name[key] = metric
            continue
        old, new = by_name[key]["stats"], metric["stats"]
        stats = {**old, **new}
        for name in ("count", "sum", "numerator", "denominator"):
            if name in old and name in new:
                stats[name] = old[name] + new[name]
        for name, pick in (("min", min), ("max", max)):
            if name in old and name in new:
                stats[name] = pick(old[name], new[name])
        by_name[key] = {**by_name[key], "stats": stats}
    return list(by_name.values())


async def query_aggregates(
    client: Requester,
    start: datetime,
    end: datetime,
    *,
    metrics: Sequence[str],
    granularity: str,
    group_by: Sequence[str] = (),
    time_zone: str = "UTC",
    filter: Mapping[str, Any] | None = None,
    concurrency: int = 4,
    chunk_days: float = 7.0,
) -> list[dict[str, Any]]:
    """Query aggregates over ``[start, end)`` and return the merged results.

    Args:
        client: an open ``GenesysClient`` (its limiter and retries apply).
        start: the range start, an aware datetime; the bucket grid starts here.
        end: the range end (excluded), an aware datetime; a last bucket that
            would pass it is cut there, as the API cuts it.
        metrics: metric names such as "nOffered", "tHandle".
        granularity: the bucket length, an ISO-8601 duration ("PT30M", "P1D").
        group_by: dimension names such as "queueId", "mediaType"; empty for
            one group.
        time_zone: IANA name the buckets are laid out in, such as
            "Europe/Berlin".
        filter: the API's filter object ({type, predicates, clauses}); None
            for no filter.
        concurrency: queries in flight at most.
        chunk_days: the longest chunk first sent, in days; a chunk is at least
            one bucket whatever this says.

    Returns:
        The API's result objects, one per group (sorted by group), each with
        every bucket of every chunk in time order.

    Raises:
        ConfigurationError: bad range, metrics, granularity or time zone.
        ChunkTooSmallError: the server refused a part of a bucket under two
            minutes long as too big (a refused bucket is queried in parts).
        ApiError: any other refusal (a subclass).
    """
    run = _prepare(
        client,
        start,
        end,
        metrics,
        granularity,
        group_by,
        time_zone,
        filter,
        concurrency,
        chunk_days,
    )
    return await run.run()


async def export_aggregates(
    client: Requester,
    start: datetime,
    end: datetime,
    *,
    metrics: Sequence[str],
    granularity: str,
    output: str | Path,
    group_by: Sequence[str] = (),
    time_zone: str = "UTC",
    filter: Mapping[str, Any] | None = None,
    fmt: AggregatesFormat = "ndjson",
    concurrency: int = 4,
    chunk_days: float = 7.0,
) -> AggregatesReport:
    """Export aggregates over ``[start, end)`` to a file, atomically.

    NDJSON holds one API result object per line (a group with all its buckets
    merged); CSV one row per group, bucket and metric, with a column per group
    dimension, ``interval``, ``metric``, ``qualifier`` and a column per stat.
    The file appears only when complete. Arguments as for `query_aggregates`,
    plus:

    Args:
        output: the output path; its folder must exist.
        fmt: "ndjson" (default) or "csv".

    Raises:
        OutputError: the output cannot be written.
    """
    began = time.monotonic()
    if fmt not in ("ndjson", "csv"):
        raise ConfigurationError(f"format {fmt!r} is not 'ndjson' or 'csv'")
    target = Path(output)
    if not target.parent.is_dir():
        raise OutputError(str(target), f"the folder {target.parent} does not exist")
    run = _prepare(
        client,
        start,
        end,
        metrics,
        granularity,
        group_by,
        time_zone,
        filter,
        concurrency,
        chunk_days,
    )
    results = await run.run()

    lines = _ndjson(results) if fmt == "ndjson" else _csv(results, group_by)
    # The CSV header is a line but not a row.
    rows = _write_atomically(target, lines) - (fmt == "csv")
    return AggregatesReport(
        output=str(target),
        fmt=fmt,
        groups=len(results),
        buckets=sum(len(result["data"]) for result in results),
        rows=rows,
        chunks=run.chunks,
        splits=run.splits,
        seconds=time.monotonic() - began,
    )


def _prepare(
    client: Requester,
    start: datetime,
    end: datetime,
    metrics: Sequence[str],
    granularity: str,
    group_by: Sequence[str],
    time_zone: str,
    query_filter: Mapping[str, Any] | None,
    concurrency: int,
    chunk_days: float,
) -> _Run:
    """Check the arguments, lay out the bucket grid and build the run."""
    whole = check_range(start, end)
    start_ms, end_ms = whole.start_ms, whole.end_ms
    if isinstance(metrics, str) or not metrics:
        raise ConfigurationError("metrics must be a non-empty list of names")
    if isinstance(group_by, str):
        raise ConfigurationError("group_by must be a list of names")
    if concurrency < 1 or not chunk_days > 0:
        raise ConfigurationError("concurrency and chunk_days must be positive")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {time_zone!r}") from None
    grain = Granularity.parse(granularity)

    body: dict[str, Any] = {
        "granularity": grain.text,
        "timeZone": time_zone,
        "metrics": list(metrics),
    }
    if group_by:
        body["groupBy"] = list(group_by)
    if query_filter is not None:
        body["filter"] = dict(query_filter)
    return _Run(
        client,
        bucket_edges(start_ms, end_ms, grain, zone),
        body,
        chunk_ms=round(chunk_days * _DAY_MS),
        concurrency=concurrency,
    )


def bucket_edges(
    start_ms: int, end_ms: int, granularity: Granularity, zone: ZoneInfo
) -> list[int]:
    """Bucket edges from ``start_ms`` to ``end_ms`` inclusive (epoch ms)."""
    edges = [start_ms]
    while edges[-1] < end_ms:
        edges.append(min(granularity.step(edges[-1], zone), end_ms))
    return edges


def _ndjson(results: Iterable[dict[str, Any]]) -> Iterable[bytes]:
    for result in results:
        yield orjson.dumps(result) + b"\n"


def _csv(results: list[dict[str, Any]], group_by: Sequence[str]) -> Iterable[bytes]:
    """One row per group, bucket and metric; a column per dimension and stat."""
    dimensions = list(dict.fromkeys(group_by))
    stats: set[str] = set()
    for result in results:
        for name in result.get("group") or {}:
            if name not in dimensions:
                dimensions.append(name)
        for entry in result["data"]:
            for metric in entry.get("metrics") or []:
                stats.update(metric.get("stats") or {})
    stat_columns = [s for s in _STAT_ORDER if s in stats]
    stat_columns += sorted(stats - set(_STAT_ORDER))

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*dimensions, "interval", "metric", "qualifier", *stat_columns])
    yield _drain(buffer)
    for result in results:
        group = result.get("group") or {}
        head = [group.get(name, "") for name in dimensions]
        for entry in result["data"]:
            for metric in entry.get("metrics") or []:
                values = metric.get("stats") or {}
                writer.writerow(
                    [
                        *head,
                        entry["interval"],
                        metric["metric"],
                        metric.get("qualifier") or "",
                        *(values.get(s, "") for s in stat_columns),
                    ]
                )
                yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


def _write_atomically(target: Path, lines: Iterable[bytes]) -> int:
    """Write lines to a temporary file beside ``target``, then rename it there."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with open(temporary, "wb") as sink:
            for line in lines:
                sink.write(line)
                count += 1
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise OutputError(str(target), exc.strerror or str(exc)) from exc
    return count
