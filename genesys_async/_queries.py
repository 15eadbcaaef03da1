"""Request bodies with the API's real field names.

The shapes follow ``ConversationQuery`` and ``AsyncConversationQuery`` of the
official OpenAPI document: ``interval`` is one ISO-8601 string, ``paging`` is
1-based, filters are ``{type, predicates, clauses}`` objects. Several filter
objects in one list must all hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DETAILS_QUERY_PATH", "ConversationFilters", "details_query"]

DETAILS_QUERY_PATH = "/api/v2/analytics/conversations/details/query"

# Values the API accepts for the shortcut dimensions; anything else would only
# come back as a 400 after the first request, so it is refused up front.
MEDIA_TYPES = frozenset(
    {
        "voice",
        "chat",
        "email",
        "message",
        "callback",
        "cobrowse",
        "video",
        "screenshare",
    }
)
DIRECTIONS = frozenset({"inbound", "outbound"})


@dataclass(frozen=True)
class ConversationFilters:
    """What to export, beyond the interval.

    Args:
        conversation_filters: ``conversationFilters`` objects exactly as the API
            takes them; all must hold.
        segment_filters: ``segmentFilters`` objects exactly as the API takes them.
        media_types: shortcut: a segment of one of these media types.
        queue_ids: shortcut: a segment in one of these queues.
        direction: shortcut: ``inbound`` or ``outbound``, matched against the
            conversation's ``originatingDirection``.
    """

    conversation_filters: Sequence[dict[str, Any]] = ()
    segment_filters: Sequence[dict[str, Any]] = ()
    media_types: Sequence[str] = ()
    queue_ids: Sequence[str] = ()
    direction: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.media_types) - MEDIA_TYPES)
        if unknown:
            raise ValueError(
                f"unknown media type {', '.join(unknown)}:"
                f" choose from {', '.join(sorted(MEDIA_TYPES))}"
            )
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise ValueError(
                f"unknown direction {self.direction!r}: choose inbound or outbound"
            )

    def body_fields(self) -> dict[str, Any]:
        """The ``conversationFilters`` and ``segmentFilters`` of a request body."""
        conversation = list(self.conversation_filters)
        if self.direction is not None:
            conversation.append(
                _any_of("originatingDirection", [self.direction], typed=False)
            )
        segment = list(self.segment_filters)
        if self.media_types:
            segment.append(_any_of("mediaType", self.media_types))
        if self.queue_ids:
            segment.append(_any_of("queueId", self.queue_ids))

        fields: dict[str, Any] = {}
        if conversation:
            fields["conversationFilters"] = conversation
        if segment:
            fields["segmentFilters"] = segment
        return fields

    def describe(self) -> dict[str, Any]:
        """A plain description, for the manifest's fingerprint."""
        return {
            "conversationFilters": list(self.conversation_filters),
            "segmentFilters": list(self.segment_filters),
            "mediaTypes": sorted(self.media_types),
            "queueIds": sorted(self.queue_ids),
            "direction": self.direction,
        }


def _any_of(
    dimension: str, values: Sequence[str], typed: bool = True
) -> dict[str, Any]:
    """One ``or`` filter matching a dimension against any of the values."""
    predicates = []
    for value in values:
        predicate = {"dimension": dimension, "operator": "matches", "value": value}
        if typed:
            predicate = {"type": "dimension", **predicate}
        predicates.append(predicate)
    return {"type": "or", "predicates": predicates}


def details_query(
    interval: str,
    filters: ConversationFilters,
    *,
    page_size: int,
    page_number: int,
) -> dict[str, Any]:
    """The body of one synchronous details query page.

    Args:
        interval: ``start/end`` in ISO-8601.
        filters: what to export beyond the interval.
        page_size: records per page.
        page_number: 1-based page.
    """
    return {
        "interval": interval,
        "order": "asc",
        "orderBy": "conversationStart",
        "paging": {"pageSize": page_size, "pageNumber": page_number},
        **filters.body_fields(),
    }
