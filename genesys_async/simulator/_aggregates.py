"""The aggregates route: metrics per group and time bucket, from the same dataset.

`POST /api/v2/analytics/conversations/aggregates/query` aggregates the very
metrics that the details records carry, so details and aggregates agree:

- A metric counts in the bucket that holds its emit time, the `emitDate` the
  details record gives it (the end of the phase it measures: nOffered when the
  conversation enters the queue, tTalk when talking ends, tHandle and tAcw when
  wrap-up ends). Only metrics emitted in `[interval start, interval end)` and
  by the dataset's `now` count, whenever the conversation started.
- A metric carries the dimensions of the session that emitted it: its
  mediaType and direction, the queueId of its segments, its participant's
  userId and the wrapUpCode of its wrap-up segment, plus the conversation's
  originatingDirection, divisionId (first of divisionIds) and conversationId.
  So nOffered and tAbandon (the queue's session) have no userId, and tIvr (the
  IVR's session) has no queueId: a group without that key holds them.
- `tWait` is the time in queue, the value the records carry as `tAcd`.
- Buckets start at the interval start; each ends at its start plus the
  granularity, read in `timeZone`: years, months, weeks and days move the
  local calendar date and keep the local time of day (so a P1D bucket over a
  DST change lasts 23 or 25 hours), hours and minutes are elapsed time (so
  PT30M buckets stay 30 minutes and a 25-hour day holds 50 of them). The last
  bucket is cut at the interval end. Bucket intervals come back in UTC.
- Stats: `count` for the n-metrics; `count`, `sum`, `min`, `max` (ms) for
  the t-metrics. A group or bucket with no metric is left out; a reply with
  no result at all is `{}`, without a `results` key.
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp import web

from genesys_async.simulator._config import AGGREGATE_PERMISSION, AggregatesConfig
from genesys_async.simulator._data import ConversationFacts, Dataset
from genesys_async.simulator._records import Timeline, format_ms
from genesys_async.simulator._state import (
    STATE_KEY,
    ApiError,
    State,
    json_response,
    require_permission,
)

__all__ = [
    "AGGREGATES_PATH",
    "AggregatesConfig",
    "AggregatesQuery",
    "Aggregator",
    "Granularity",
    "MetricEvent",
    "bucket_edges",
    "parse_aggregates_query",
    "register",
]

AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"

_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Metric name -> the name the records carry it under.
_METRICS = {
    "nOffered": "nOffered",
    "nConnected": "nConnected",
    "tAnswered": "tAnswered",
    "tAbandon": "tAbandon",
    "tTalk": "tTalk",
    "tHeld": "tHeld",
    "tAcw": "tAcw",
    "tHandle": "tHandle",
    "tAlert": "tAlert",
    "tWait": "tAcd",
    "tAcd": "tAcd",
    "tIvr": "tIvr",
}
_DIMENSIONS = (
    "queueId",
    "userId",
    "mediaType",
    "direction",
    "originatingDirection",
    "wrapUpCode",
    "divisionId",
    "conversationId",
)
_DURATION_RE = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def _bad(message: str, field_name: str) -> ApiError:
    return ApiError(400, "bad.request", message, field_name=field_name)


@dataclass(frozen=True)
class Granularity:
    """An ISO-8601 duration split into calendar and elapsed parts.

    Args:
        months: calendar months (years count 12).
        days: calendar days (weeks count 7).
        elapsed_ms: hours, minutes and seconds as elapsed milliseconds.
    """

    months: int
    days: int
    elapsed_ms: int

    @classmethod
    def parse(cls, text: str) -> Granularity:
        """Parse `P1D`, `PT30M`, `P1M`, `PT90M` ...; whole minutes only, not zero."""
        found = _DURATION_RE.match(text)
        if found is None or text in ("P", "PT") or text.endswith("T"):
            raise ValueError(f"Invalid granularity: {text}")
        years, months, weeks, days, hours, minutes, seconds = (
            int(part or 0) for part in found.groups()
        )
        elapsed_s = hours * 3600 + minutes * 60 + seconds
        if elapsed_s % 60:
            raise ValueError(f"The granularity must be whole minutes: {text}")
        granularity = cls(years * 12 + months, weeks * 7 + days, elapsed_s * 1000)
        if granularity == cls(0, 0, 0):
            raise ValueError(f"The granularity must not be zero: {text}")
        return granularity

    def after(self, edge_ms: int, zone: ZoneInfo) -> int:
        """The instant one granularity after `edge_ms` (epoch ms) in `zone`."""
        if self.months or self.days:
            local = (_EPOCH + timedelta(milliseconds=edge_ms)).astimezone(zone)
            wall = _add_months(local.replace(tzinfo=None), self.months)
            wall += timedelta(days=self.days)
            # fold=0: a wall time that occurs twice means its first occurrence.
            edge_ms = _to_ms(wall.replace(tzinfo=zone))
        return edge_ms + self.elapsed_ms


def _add_months(wall: datetime, months: int) -> datetime:
    """Move a wall time by calendar months, clamping the day to the month's end."""
    if not months:
        return wall
    index = wall.year * 12 + wall.month - 1 + months
    year, month = divmod(index, 12)
    day = min(wall.day, calendar.monthrange(year, month + 1)[1])
    return wall.replace(year=year, month=month + 1, day=day)


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def bucket_edges(
    start_ms: int,
    end_ms: int,
    granularity: Granularity | None,
    zone: ZoneInfo,
    limit: int | None = None,
) -> list[int]:
    """Bucket boundaries from `start_ms` to `end_ms` inclusive, epoch ms.

    Args:
        start_ms: the interval start, the first edge.
        end_ms: the interval end, the last edge (the last bucket is cut there).
        granularity: the bucket length; None makes one bucket of the interval.
        zone: the time zone that calendar steps are read in.
        limit: stop once there are more than this many buckets (so the list
            ends early); None never stops early.
    """
    edges = [start_ms]
    while edges[-1] < end_ms:
        if limit is not None and len(edges) > limit + 1:
            break
        following = (
            end_ms if granularity is None else granularity.after(edges[-1], zone)
        )
        edges.append(min(following, end_ms))
    return edges


@dataclass(frozen=True)
class AggregatesQuery:
    """A validated aggregates query body."""

    start_ms: int
    end_ms: int
    metrics: tuple[str, ...]
    group_by: tuple[str, ...]
    granularity: Granularity | None
    zone: ZoneInfo
    filter: Mapping[str, Any] | None


def parse_aggregates_query(body: object) -> AggregatesQuery:
    """Validate an aggregates query body (without the configured limits)."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "body")
    start, end = _parse_interval(body.get("interval"))

    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise _bad("metrics must be a non-empty list of metric names", "metrics")
    for name in metrics:
        if name not in _METRICS:
            raise _bad(f"Unsupported metric: {name}", "metrics")
    group_by = body.get("groupBy") or []
    if not isinstance(group_by, list):
        raise _bad("groupBy must be a list of dimension names", "groupBy")
    for name in group_by:
        if name not in _DIMENSIONS:
            raise _bad(f"Unsupported groupBy dimension: {name}", "groupBy")

    granularity = None
    if body.get("granularity") is not None:
        try:
            granularity = Granularity.parse(str(body["granularity"]))
        except ValueError as exc:
            raise _bad(str(exc), "granularity") from None
    zone_name = body.get("timeZone") or "UTC"
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(f"Invalid timeZone: {zone_name}", "timeZone") from None

    query_filter = body.get("filter")
    if query_filter is not None:
        _check_filter(query_filter)
    return AggregatesQuery(
        start,
        end,
        tuple(dict.fromkeys(metrics)),
        tuple(dict.fromkeys(group_by)),
        granularity,
        zone,
        query_filter,
    )


def _parse_interval(value: object) -> tuple[int, int]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise _bad("Invalid interval: expected 'start/end' in ISO-8601", "interval")
    try:
        start, end = (_parse_instant(part) for part in value.split("/"))
    except ValueError:
        raise _bad(f"Invalid interval: {value}", "interval") from None
    if end <= start:
        raise _bad("Invalid interval: the end must be after the start", "interval")
    return start, end


def _parse_instant(text: str) -> int:
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _to_ms(moment)


def _check_filter(item: object) -> None:
    if not isinstance(item, dict) or item.get("type") not in ("and", "or"):
        raise _bad("A filter needs type 'and' or 'or'", "filter")
    predicates = item.get("predicates") or []
    clauses = item.get("clauses") or []
    if not isinstance(predicates, list) or not isinstance(clauses, list):
        raise _bad("predicates and clauses must be lists", "filter")
    if not predicates and not clauses:
        raise _bad("A filter needs predicates or clauses", "filter")
    for clause in clauses:
        _check_filter(clause)
    for predicate in predicates:
        if not isinstance(predicate, dict):
            raise _bad("A predicate must be an object", "filter")
        if predicate.get("type", "dimension") != "dimension":
            raise _bad(f"Unsupported predicate type: {predicate.get('type')}", "filter")
        if predicate.get("dimension") not in _DIMENSIONS:
            raise _bad(f"Unknown dimension: {predicate.get('dimension')}", "filter")
        operator = predicate.get("operator", "matches")
        if operator not in ("matches", "exists", "notExists"):
            raise _bad(f"Unknown operator: {operator}", "filter")
        if operator == "matches" and not isinstance(predicate.get("value"), str):
            raise _bad("A predicate that matches needs a string value", "filter")


def _passes(item: Mapping[str, Any], dims: Mapping[str, str]) -> bool:
    """Evaluate a validated filter on one metric's dimensions."""
    results = [_holds(p, dims) for p in item.get("predicates") or []]
    results += [_passes(c, dims) for c in item.get("clauses") or []]
    return all(results) if item["type"] == "and" else any(results)


def _holds(predicate: Mapping[str, Any], dims: Mapping[str, str]) -> bool:
    value = dims.get(predicate["dimension"])
    operator = predicate.get("operator", "matches")
    if operator == "exists":
        return value is not None
    if operator == "notExists":
        return value is None
    return value is not None and value == str(predicate["value"])


@dataclass(frozen=True, slots=True)
class MetricEvent:
    """One metric a details record carries: its name, value, emit time, dimensions."""

    name: str
    value: int
    emit_ms: int
    dims: Mapping[str, str]


def conversation_events(dataset: Dataset, i: int) -> Iterator[MetricEvent]:
    """The metrics of conversation `i`'s record, emitted by the dataset's `now`.

    This mirrors which session of the record emits which metric and when; the
    tests check it against the records themselves.
    """
    # The timeline, not the record: the hold end dates tHeld, and building
    # the full record would cost six times as much.
    facts, t = dataset.timeline(i)
    common = {
        "mediaType": facts.media_type,
        "originatingDirection": facts.originating_direction,
        "divisionId": facts.division_id,
        "conversationId": facts.conversation_id,
    }
    now = dataset.now_ms

    def emitted(
        dims: dict[str, str], *metrics: tuple[str, int, int]
    ) -> Iterator[MetricEvent]:
        for name, value, at in metrics:
            if value > 0 and at <= now:
                yield MetricEvent(name, value, at, dims)

    if t.queue_at > t.start:
        ivr = {**common, "direction": "inbound"}
        yield from emitted(ivr, ("tIvr", t.queue_at - t.start, t.queue_at))
    if facts.queued:
        acd = {**common, "direction": "inbound", "queueId": facts.queue_id}
        waited = t.alert_at - t.queue_at
        yield from emitted(
            acd,
            ("nOffered", 1, t.queue_at),
            ("tAcd", waited, t.alert_at),
            ("tAbandon", waited if facts.abandoned else 0, t.alert_at),
        )
    if not facts.abandoned:
        yield from emitted(_agent_dims(common, facts), *_agent_metrics(t, facts))


def _agent_dims(common: Mapping[str, str], facts: ConversationFacts) -> dict[str, str]:
    dims = {**common, "direction": facts.direction, "queueId": facts.queue_id}
    if facts.user_id is not None:
        dims["userId"] = facts.user_id
    if facts.wrap_up_code is not None:
        dims["wrapUpCode"] = facts.wrap_up_code
    return dims


def _agent_metrics(t: Timeline, facts: ConversationFacts) -> list[tuple[str, int, int]]:
    talk = (t.hold_at - t.talk_at) + (t.talk_end - t.resume_at)
    held = t.resume_at - t.hold_at
    acw = t.end - t.talk_end
    answered = t.talk_at - t.queue_at if facts.queued else 0
    return [
        ("tAlert", t.talk_at - t.alert_at, t.talk_at),
        ("tAnswered", answered, t.talk_at),
        ("nConnected", 1, t.talk_at),
        ("tTalk", talk, t.talk_end),
        ("tHeld", held, t.resume_at),
        ("tAcw", acw, t.end),
        ("tHandle", talk + held + acw, t.end),
    ]


@dataclass
class _Stats:
    count: int = 0
    total: int = 0
    low: int = 0
    high: int = 0

    def add(self, value: int) -> None:
        if self.count == 0 or value < self.low:
            self.low = value
        if self.count == 0 or value > self.high:
            self.high = value
        self.count += 1
        self.total += value

    def as_json(self, metric: str) -> dict[str, int]:
        if metric.startswith("n"):
            return {"count": self.total}
        return {
            "max": self.high,
            "min": self.low,
            "count": self.count,
            "sum": self.total,
        }


@dataclass
class Aggregator:
    """Answers aggregates queries over one dataset.

    Args:
        dataset: the conversations.
        config: the route's limits.
    """

    dataset: Dataset
    config: AggregatesConfig = field(default_factory=AggregatesConfig)
    # Longest planned conversation, ms: how far before an interval a
    # conversation may start and still emit a metric in it. Found on first use.
    _longest_ms: int | None = field(default=None, init=False)

    def check_limits(self, query: AggregatesQuery) -> list[int]:
        """The query's bucket edges; 400 when the interval or buckets exceed a limit."""
        days = self.config.max_interval_days
        if days is not None and query.end_ms - query.start_ms > days * _DAY_MS:
            raise _bad(
                "You must specify a search interval as part of your query that"
                f" does not exceed {days} days",
                "interval",
            )
        limit = self.config.max_buckets
        edges = bucket_edges(
            query.start_ms, query.end_ms, query.granularity, query.zone, limit
        )
        if limit is not None and len(edges) - 1 > limit:
            raise _bad(
                "The interval and granularity of the query produce more than the"
                f" maximum of {limit} buckets",
                "granularity",
            )
        return edges

    def answer(self, query: AggregatesQuery) -> dict[str, Any]:
        """The reply body of a validated query."""
        edges = self.check_limits(query)
        wanted = {_METRICS[m]: m for m in query.metrics}
        # group values -> bucket index -> record metric name -> stats
        table: dict[tuple[str | None, ...], dict[int, dict[str, _Stats]]] = {}
        for event in self._events(query.start_ms, query.end_ms):
            if event.name not in wanted:
                continue
            if query.filter is not None and not _passes(query.filter, event.dims):
                continue
            group = tuple(event.dims.get(name) for name in query.group_by)
            bucket = bisect.bisect_right(edges, event.emit_ms) - 1
            stats = table.setdefault(group, {}).setdefault(bucket, {})
            stats.setdefault(event.name, _Stats()).add(event.value)
        if not table:
            return {}
        return {"results": [
            _result(query, group, table[group], edges)
            for group in sorted(table, key=lambda g: tuple(v or "" for v in g))
        ]}  # fmt: skip

    def _events(self, start_ms: int, end_ms: int) -> Iterator[MetricEvent]:
        """Every metric emitted in `[start_ms, end_ms)`."""
        dataset = self.dataset
        for i in dataset.index_range(start_ms - self._longest(), end_ms):
            if dataset.planned_end_ms(i) < start_ms:
                continue
            for event in conversation_events(dataset, i):
                if start_ms <= event.emit_ms < end_ms:
                    yield event

    def _longest(self) -> int:
        if self._longest_ms is None:
            data = self.dataset
            self._longest_ms = max(
                (data.planned_end_ms(i) - data.start_ms(i) for i in range(len(data))),
                default=0,
            )
        return self._longest_ms


def _result(
    query: AggregatesQuery,
    group: Sequence[str | None],
    buckets: Mapping[int, Mapping[str, _Stats]],
    edges: Sequence[int],
) -> dict[str, Any]:
    data = []
    for bucket in sorted(buckets):
        stats = buckets[bucket]
        metrics = [
            {"metric": name, "stats": stats[_METRICS[name]].as_json(name)}
            for name in query.metrics
            if _METRICS[name] in stats
        ]
        interval = f"{format_ms(edges[bucket])}/{format_ms(edges[bucket + 1])}"
        data.append({"interval": interval, "metrics": metrics})
    named = {k: v for k, v in zip(query.group_by, group, strict=True) if v is not None}
    return {"group": named, "data": data}


def register(app: web.Application, state: State) -> None:
    """Add the aggregates route to the simulator's application."""
    aggregator = Aggregator(state.dataset, state.config.aggregates)

    async def query(request: web.Request) -> web.StreamResponse:
        require_permission(request, AGGREGATE_PERMISSION)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise _bad("The request body is not valid JSON", "body") from None
        reply = aggregator.answer(parse_aggregates_query(body))
        await request.app[STATE_KEY].delay()
        return json_response(reply)

    app.router.add_post(AGGREGATES_PATH, query, name="aggregates_query")
