"""Parse a details query body and find the conversations it matches.

Matching follows the real API: a conversation is returned when it overlaps the
interval AND started on a UTC day the interval touches. The interval is
[start, end), so the days touched run from start's day to the day of the last
millisecond before end; a conversation that started the day before a
midnight-aligned interval is therefore never returned, even if it runs into it.

Filters are evaluated on the conversation's values (each conversation here has
one media type, queue, agent and wrap-up code), not segment by segment.

Matching a week of a million-conversation dataset must not stall the server, so
dimension predicates are evaluated on the dataset's stored codes with
`bytes.translate` and whole-range integer masks (one byte per conversation, 0
or 1), in C. Only what the codes cannot say goes conversation by conversation:
metric and conversationId/conversationEnd-value predicates, and conversations
still running at `now` (whose agent, wrap-up code or queue may not exist yet).
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from genesys_async.simulator._data import (
    FLAG_ABANDONED,
    FLAG_ORIGIN_OUTBOUND,
    FLAG_OUTBOUND,
    MEDIA_TYPES,
    ConversationFacts,
    Dataset,
)
from genesys_async.simulator._state import ApiError

__all__ = [
    "DetailsQuery",
    "filter_mask",
    "find_matches",
    "parse_details_query",
    "parse_instant",
    "parse_interval",
]

_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_UNSUPPORTED = (
    "aggregations",
    "evaluationFilters",
    "surveyFilters",
    "resolutionFilters",
)
_DIMENSIONS = {
    "mediaType",
    "queueId",
    "direction",
    "originatingDirection",
    "divisionId",
    "userId",
    "wrapUpCode",
    "conversationEnd",
    "conversationId",
}
# Metric name -> the facts field holding its value, for metric predicates.
_METRICS = {
    "tIvr": "ivr_ms",
    "tAcd": "wait_ms",
    "tAlert": "alert_ms",
    "tTalk": "talk_ms",
    "tHeld": "held_ms",
    "tAcw": "acw_ms",
    "tHandle": "handle_ms",
    "tAnswered": "answered_ms",
    "tAbandon": "abandon_ms",
}


def _bad(message: str, field_name: str) -> ApiError:
    return ApiError(400, "bad.request", message, field_name=field_name)


def parse_instant(text: str) -> int:
    """Epoch ms of an ISO-8601 instant (Z or offset, with or without fraction).

    A time without an offset is taken as UTC.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def parse_interval(value: object) -> tuple[int, int]:
    """(start, end) epoch ms of an interval string "start/end"; 400 when bad."""
    if not isinstance(value, str) or value.count("/") != 1:
        raise _bad("Invalid interval: expected 'start/end' in ISO-8601", "interval")
    first, second = value.split("/")
    try:
        start, end = parse_instant(first), parse_instant(second)
    except ValueError:
        raise _bad(f"Invalid interval: {value}", "interval") from None
    if end <= start:
        raise _bad("Invalid interval: the end must be after the start", "interval")
    return start, end


@dataclass(frozen=True)
class DetailsQuery:
    """A validated details query body."""

    start_ms: int
    end_ms: int
    page_size: int
    page_number: int
    descending: bool
    order_by: str
    conversation_filters: tuple[Mapping[str, Any], ...]
    segment_filters: tuple[Mapping[str, Any], ...]

    @property
    def cache_key(self) -> tuple[Any, ...]:
        """What determines the matching list (everything except paging)."""
        return (
            self.start_ms,
            self.end_ms,
            self.descending,
            self.order_by,
            repr(self.conversation_filters),
            repr(self.segment_filters),
        )


def _positive_int(value: object, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"{field_name} must be a positive integer", field_name)
    return value


def parse_details_query(body: object) -> DetailsQuery:
    """Validate a details query body (without the configured limits)."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "body")
    for name in _UNSUPPORTED:
        # Refused, not ignored: a caller relying on them would get wrong data.
        if body.get(name):
            raise _bad(f"The simulator does not support {name} in a query", name)
    start, end = parse_interval(body.get("interval"))

    paging = body.get("paging") or {}
    if not isinstance(paging, dict):
        raise _bad("paging must be an object", "paging")
    page_size = _positive_int(paging.get("pageSize", 25), "paging.pageSize")
    page_number = _positive_int(paging.get("pageNumber", 1), "paging.pageNumber")

    order = body.get("order", "asc")
    if order not in ("asc", "desc"):
        raise _bad(f"Invalid order: {order}", "order")
    order_by = body.get("orderBy", "conversationStart")
    if order_by not in ("conversationStart", "conversationEnd"):
        raise _bad(f"Invalid orderBy: {order_by}", "orderBy")

    filters = []
    for name in ("conversationFilters", "segmentFilters"):
        value = body.get(name) or []
        if not isinstance(value, list):
            raise _bad(f"{name} must be a list", name)
        for item in value:
            _check_filter(item, name)
        filters.append(tuple(value))
    return DetailsQuery(
        start, end, page_size, page_number, order == "desc", order_by, *filters
    )


def _check_filter(item: object, where: str) -> None:
    if not isinstance(item, dict) or item.get("type") not in ("and", "or"):
        raise _bad("A filter needs type 'and' or 'or'", where)
    predicates = item.get("predicates") or []
    clauses = item.get("clauses") or []
    if not isinstance(predicates, list) or not isinstance(clauses, list):
        raise _bad("predicates and clauses must be lists", where)
    if not predicates and not clauses:
        raise _bad("A filter needs predicates or clauses", where)
    for clause in clauses:
        _check_filter(clause, where)
    for predicate in predicates:
        _check_predicate(predicate, where)


def _check_predicate(predicate: object, where: str) -> None:
    if not isinstance(predicate, dict):
        raise _bad("A predicate must be an object", where)
    kind = predicate.get("type", "dimension")
    operator = predicate.get("operator", "matches")
    if operator not in ("matches", "exists", "notExists"):
        raise _bad(f"Unknown operator: {operator}", where)
    if kind == "metric":
        if predicate.get("metric") not in _METRICS:
            raise _bad(f"Unsupported metric: {predicate.get('metric')}", where)
        if operator == "matches" and not isinstance(predicate.get("range"), dict):
            raise _bad("A metric predicate that matches needs a range", where)
        return
    if kind != "dimension":
        raise _bad(f"Unsupported predicate type: {kind}", where)
    if predicate.get("dimension") not in _DIMENSIONS:
        raise _bad(f"Unknown dimension: {predicate.get('dimension')}", where)
    if operator == "matches" and not isinstance(predicate.get("value"), str):
        raise _bad("A predicate that matches needs a string value", where)


class _Conversation:
    """One candidate's dimension values, deriving its facts only when needed."""

    def __init__(self, dataset: Dataset, index: int) -> None:
        self.dataset = dataset
        self.index = index
        self._facts: ConversationFacts | None = None

    @property
    def facts(self) -> ConversationFacts:
        if self._facts is None:
            self._facts = self.dataset.facts(self.index)
        return self._facts

    def dimension(self, name: str) -> str | None:
        """The conversation's value for `name`; None when it has none."""
        data, i = self.dataset, self.index
        if name == "mediaType":
            return data.media_type(i)
        if name == "conversationEnd":
            end = data.end_ms(i)
            return None if end is None else str(end)
        if name == "conversationId":
            return data.conversation_id(i)
        facts = self.facts
        if name == "queueId":
            has_queue = facts.offered or facts.user_id is not None
            return facts.queue_id if has_queue else None
        value: str | None = {
            "direction": facts.direction,
            "originatingDirection": facts.originating_direction,
            "divisionId": facts.division_id,
            "userId": facts.user_id,
            "wrapUpCode": facts.wrap_up_code,
        }[name]
        return value

    def metric(self, name: str) -> int | None:
        value: int = getattr(self.facts, _METRICS[name])
        return value or None


def _predicate_holds(predicate: Mapping[str, Any], conv: _Conversation) -> bool:
    operator: str = predicate.get("operator", "matches")
    if predicate.get("type") == "metric":
        metric = conv.metric(predicate["metric"])
        if operator != "matches":
            return (metric is not None) is (operator == "exists")
        return metric is not None and _in_range(metric, predicate["range"])
    value = conv.dimension(predicate["dimension"])
    if operator == "exists":
        return value is not None
    if operator == "notExists":
        return value is None
    wanted: str = predicate["value"]
    return value == wanted


def _in_range(value: int, bounds: Mapping[str, Any]) -> bool:
    checks: dict[str, Callable[[float], bool]] = {
        "gt": lambda b: value > b,
        "gte": lambda b: value >= b,
        "lt": lambda b: value < b,
        "lte": lambda b: value <= b,
    }
    return all(checks[k](b) for k, b in bounds.items() if k in checks)


def _filter_holds(item: Mapping[str, Any], conv: _Conversation) -> bool:
    results = (
        *(_predicate_holds(p, conv) for p in item.get("predicates") or []),
        *(_filter_holds(c, conv) for c in item.get("clauses") or []),
    )
    return all(results) if item["type"] == "and" else any(results)


def filter_mask(
    dataset: Dataset, filters: Sequence[Mapping[str, Any]], low: int, high: int
) -> bytes:
    """Which conversations in [low, high) pass every filter: one byte each, 0 or 1.

    Args:
        dataset: the conversations.
        filters: validated filters (see `parse_details_query`), all must hold.
        low: first conversation index.
        high: after the last conversation index.
    """
    size = max(0, high - low)
    mask = _Masks(dataset, low, size)
    passed = mask.ones
    for item in filters:
        passed &= mask.of_filter(item)
    result = bytearray(passed.to_bytes(size, "little"))
    # The codes describe finished conversations; decide running ones one by one.
    for i in dataset.ongoing_in(low, high):
        conv = _Conversation(dataset, i)
        result[i - low] = all(_filter_holds(f, conv) for f in filters)
    return bytes(result)


def _table(wanted: Callable[[int], bool]) -> bytes:
    """A `bytes.translate` table: code k becomes 1 when wanted(k), else 0."""
    return bytes(1 if wanted(k) else 0 for k in range(256))


class _Masks:
    """Masks over conversations [low, low + size): ints holding one byte each."""

    def __init__(self, dataset: Dataset, low: int, size: int) -> None:
        self.dataset = dataset
        self.low = low
        self.size = size
        self.ones = int.from_bytes(b"\x01" * size, "little")
        # Codes read once per query, by column name.
        self._codes: dict[str, bytes] = {}

    def _column(self, name: str) -> bytes:
        if name not in self._codes:
            high = self.low + self.size
            self._codes[name] = self.dataset.codes(name, self.low, high)
        return self._codes[name]

    def _where(self, column: str, wanted: Callable[[int], bool]) -> int:
        codes = self._column(column).translate(_table(wanted))
        return int.from_bytes(codes, "little")

    def of_filter(self, item: Mapping[str, Any]) -> int:
        """The mask of one validated filter (and/or of predicates and clauses)."""
        parts = [self.of_predicate(p) for p in item.get("predicates") or []]
        parts += [self.of_filter(c) for c in item.get("clauses") or []]
        if item["type"] == "and":
            result = self.ones
            for part in parts:
                result &= part
            return result
        result = 0
        for part in parts:
            result |= part
        return result

    def of_predicate(self, predicate: Mapping[str, Any]) -> int:
        """The mask of one predicate, from codes when they can answer it."""
        operator = predicate.get("operator", "matches")
        name = predicate.get("dimension")
        if predicate.get("type") == "metric" or name not in _CODED:
            return self._one_by_one(predicate)
        present = self._present(name)
        if operator == "exists":
            return present
        if operator == "notExists":
            return self.ones ^ present
        column, value_of = _CODED[name](self.dataset)
        wanted: str = predicate["value"]
        return present & self._where(column, lambda k: value_of(k) == wanted)

    def _present(self, name: str) -> int:
        """Where a finished conversation has a value for dimension `name`."""
        if name in ("userId", "wrapUpCode"):
            # An abandoned conversation never reaches an agent.
            return self._where("flags", lambda k: not k & FLAG_ABANDONED)
        return self.ones

    def _one_by_one(self, predicate: Mapping[str, Any]) -> int:
        high = self.low + self.size
        holds = bytes(
            _predicate_holds(predicate, _Conversation(self.dataset, i))
            for i in range(self.low, high)
        )
        return int.from_bytes(holds, "little")


def _catalogue(ids: Sequence[str]) -> Callable[[int], str | None]:
    return lambda k: ids[k] if k < len(ids) else None


def _flag(bit: int) -> Callable[[int], str]:
    return lambda k: "outbound" if k & bit else "inbound"


# Dimension -> (dataset code column, code -> the value it stands for).
_CODED: dict[str, Callable[[Dataset], tuple[str, Callable[[int], str | None]]]] = {
    "mediaType": lambda d: ("media", _catalogue(MEDIA_TYPES)),
    "queueId": lambda d: ("queue", _catalogue([q.id for q in d.queues])),
    "divisionId": lambda d: ("queue", _catalogue([q.division_id for q in d.queues])),
    "userId": lambda d: ("agent", _catalogue([u.id for u in d.users])),
    "wrapUpCode": lambda d: ("wrap_up", _catalogue([c.id for c in d.wrap_up_codes])),
    "direction": lambda d: ("flags", _flag(FLAG_OUTBOUND)),
    "originatingDirection": lambda d: ("flags", _flag(FLAG_ORIGIN_OUTBOUND)),
}


def find_matches(dataset: Dataset, query: DetailsQuery) -> array[int]:
    """Indices of the conversations `query` matches, in the order asked."""
    first_day = query.start_ms // _DAY_MS * _DAY_MS
    candidates = dataset.index_range(first_day, query.end_ms)
    before = dataset.index_range(first_day, query.start_ms)
    # Conversations that start inside the interval overlap it; earlier ones (from
    # the same UTC day) only if they are still running at its start.
    overlap = bytearray(b"\x01" * len(candidates))
    for i in before:
        end = dataset.end_ms(i)
        if end is not None and end <= query.start_ms:
            overlap[i - candidates.start] = 0
    filters = query.conversation_filters + query.segment_filters
    if filters:
        passed = filter_mask(dataset, filters, candidates.start, candidates.stop)
        kept = int.from_bytes(overlap, "little") & int.from_bytes(passed, "little")
        overlap = bytearray(kept.to_bytes(len(candidates), "little"))
    matches = array("q", itertools.compress(candidates, overlap))

    if query.order_by == "conversationEnd":
        never = 1 << 62

        def end_key(i: int) -> tuple[int, int]:
            end = dataset.end_ms(i)
            return (never if end is None else end, i)

        matches = array("q", sorted(matches, key=end_key))
    if query.descending:
        matches.reverse()
    return matches
