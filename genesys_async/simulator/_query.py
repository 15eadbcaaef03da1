"""Parse a details query body and find the conversations it matches.

Matching follows the real API: a conversation is returned when it overlaps the
interval AND started on a UTC day the interval touches. The interval is
[start, end), so the days touched run from start's day to the day of the last
millisecond before end; a conversation that started the day before a
midnight-aligned interval is therefore never returned, even if it runs into it.

Filters are evaluated on the conversation's values (each conversation here has
one media type, queue, agent and wrap-up code), not segment by segment.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from genesys_async.simulator._data import ConversationFacts, Dataset
from genesys_async.simulator._state import ApiError

__all__ = [
    "DetailsQuery",
    "find_matches",
    "parse_details_query",
    "parse_instant",
    "parse_interval",
]

_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Dimensions that can be read without deriving the conversation's facts.
_CHEAP = {"mediaType", "conversationEnd", "conversationId"}
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


def _needs_facts(query: DetailsQuery) -> bool:
    return bool(query.conversation_filters or query.segment_filters)


def find_matches(dataset: Dataset, query: DetailsQuery) -> array[int]:
    """Indices of the conversations `query` matches, in the order asked."""
    first_day = query.start_ms // _DAY_MS * _DAY_MS
    candidates = dataset.index_range(first_day, query.end_ms)
    before = dataset.index_range(first_day, query.start_ms)
    matches = array("q")
    # Conversations that start inside the interval overlap it; earlier ones (from
    # the same UTC day) only if they are still running at its start.
    for i in before:
        end = dataset.end_ms(i)
        if end is None or end > query.start_ms:
            matches.append(i)
    matches.extend(range(before.stop, candidates.stop))

    if _needs_facts(query):
        filters = query.conversation_filters + query.segment_filters

        def keep(i: int) -> bool:
            conv = _Conversation(dataset, i)
            return all(_filter_holds(f, conv) for f in filters)

        matches = array("q", filter(keep, matches))
    if query.order_by == "conversationEnd":
        never = 1 << 62

        def end_key(i: int) -> tuple[int, int]:
            end = dataset.end_ms(i)
            return (never if end is None else end, i)

        matches = array("q", sorted(matches, key=end_key))
    if query.descending:
        matches.reverse()
    return matches
