"""Filters read the dataset's stored codes and agree with each conversation's facts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from genesys_async.simulator import ConversationFacts, Dataset
from genesys_async.simulator._query import filter_mask

START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def dataset() -> Dataset:
    """Two weeks, `now` in the middle of the last day: some are still running."""
    return Dataset(
        seed=4,
        start=START,
        end=START + timedelta(days=14),
        conversations=3000,
        now=START + timedelta(days=13, hours=15),
    )


def value_of(facts: ConversationFacts, dimension: str) -> str | None:
    """What the record says for `dimension` (see docs/simulator.md)."""
    if dimension == "queueId":
        has_queue = facts.offered or facts.user_id is not None
        return facts.queue_id if has_queue else None
    value: str | None = {
        "mediaType": facts.media_type,
        "direction": facts.direction,
        "originatingDirection": facts.originating_direction,
        "divisionId": facts.division_id,
        "userId": facts.user_id,
        "wrapUpCode": facts.wrap_up_code,
    }[dimension]
    return value


def predicates(data: Dataset) -> list[dict[str, Any]]:
    """Every coded dimension with each of its values, plus exists and notExists."""
    values = {
        "mediaType": ["voice", "chat", "email", "message", "callback", "fax"],
        "queueId": [q.id for q in data.queues],
        "divisionId": [d.id for d in data.divisions],
        "userId": [u.id for u in data.users[:6]],
        "wrapUpCode": [c.id for c in data.wrap_up_codes],
        "direction": ["inbound", "outbound"],
        "originatingDirection": ["inbound", "outbound"],
    }
    found = []
    for dimension, choices in values.items():
        found += [{"dimension": dimension, "value": v} for v in choices]
        found += [
            {"dimension": dimension, "operator": op} for op in ("exists", "notExists")
        ]
    return found


def holds(predicate: dict[str, Any], facts: ConversationFacts) -> bool:
    value = value_of(facts, predicate["dimension"])
    operator = predicate.get("operator", "matches")
    if operator == "exists":
        return value is not None
    if operator == "notExists":
        return value is None
    return value == predicate["value"]


def test_every_dimension_predicate_agrees_with_the_facts_even_while_ongoing() -> None:
    data = dataset()
    facts = [data.facts(i) for i in range(len(data))]
    ongoing = sum(f.ongoing for f in facts)

    for predicate in predicates(data):
        item = {"type": "and", "predicates": [predicate]}

        actual = filter_mask(data, [item], 0, len(data))

        expected = bytes(holds(predicate, f) for f in facts)
        assert expected == actual, predicate
    assert ongoing >= 5


def test_or_and_nested_clauses_combine_like_the_facts() -> None:
    data = dataset()
    voice, queue = "voice", data.queues[0].id
    item = {
        "type": "or",
        "predicates": [{"dimension": "mediaType", "value": "email"}],
        "clauses": [
            {
                "type": "and",
                "predicates": [
                    {"dimension": "mediaType", "value": voice},
                    {"dimension": "queueId", "value": queue},
                    {"dimension": "userId", "operator": "exists"},
                ],
            }
        ],
    }

    actual = filter_mask(data, [item], 100, 2900)

    def expected_one(f: ConversationFacts) -> bool:
        in_queue = value_of(f, "queueId") == queue and f.user_id is not None
        return f.media_type == "email" or (f.media_type == voice and in_queue)

    expected = bytes(expected_one(data.facts(i)) for i in range(100, 2900))
    assert expected == actual


def test_a_dimension_filter_derives_facts_only_for_running_conversations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = dataset()
    derived: list[int] = []
    facts = data.facts
    monkeypatch.setattr(data, "facts", lambda i: derived.append(i) or facts(i))
    item = {
        "type": "and",
        "predicates": [{"dimension": "queueId", "value": data.queues[3].id}],
    }

    filter_mask(data, [item], 0, len(data))

    assert sorted(derived) == data.ongoing_in(0, len(data))
