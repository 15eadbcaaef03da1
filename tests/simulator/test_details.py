"""The details query: matching, ordering, paging, filters and bad bodies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from genesys_async.simulator import Simulator

DAY_MS = 86_400_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso(ms: int) -> str:
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def interval(start_ms: int, end_ms: int) -> str:
    return f"{iso(start_ms)}/{iso(end_ms)}"


async def all_ids(
    api: Any, sim: Simulator, token: str, body: dict[str, Any]
) -> list[str]:
    """Page through a query (page size 100) and return the ids in order."""
    ids: list[str] = []
    page = 1
    while True:
        reply = await api.query(
            sim, token, {**body, "paging": {"pageSize": 100, "pageNumber": page}}
        )
        assert reply.status == 200, reply.body
        if "conversations" not in reply.body:
            return ids
        ids.extend(c["conversationId"] for c in reply.body["conversations"])
        page += 1


def crossing_midnight(sim: Simulator) -> int:
    """Index of a finished conversation that starts one UTC day and ends the next."""
    data = sim.dataset
    for i in range(len(data)):
        end = data.end_ms(i)
        next_day = data.start_ms(i) // DAY_MS + 1
        if end is not None and end // DAY_MS == next_day and end % DAY_MS > 60_000:
            return i
    raise AssertionError("no conversation crosses midnight")


async def test_midnight_aligned_interval_returns_exactly_the_ones_starting_in_it(
    api: Any, sim: Simulator, token: str
) -> None:
    day = sim.dataset.start_of_data_ms + 3 * DAY_MS
    body = {"interval": interval(day, day + DAY_MS)}

    actual = await all_ids(api, sim, token, body)

    data = sim.dataset
    expected = [data.conversation_id(i) for i in data.index_range(day, day + DAY_MS)]
    assert expected == actual


async def test_conversation_from_the_previous_day_is_left_out_of_a_midnight_interval(
    api: Any, sim: Simulator, token: str
) -> None:
    i = crossing_midnight(sim)
    next_day = sim.dataset.start_ms(i) // DAY_MS * DAY_MS + DAY_MS

    ids = await all_ids(
        api, sim, token, {"interval": interval(next_day, next_day + DAY_MS)}
    )

    assert sim.dataset.conversation_id(i) not in ids


async def test_interval_touching_the_previous_day_returns_the_crossing_conversation(
    api: Any, sim: Simulator, token: str
) -> None:
    i = crossing_midnight(sim)
    next_day = sim.dataset.start_ms(i) // DAY_MS * DAY_MS + DAY_MS
    body = {"interval": interval(next_day - 1, next_day + 60_000)}

    ids = await all_ids(api, sim, token, body)

    assert sim.dataset.conversation_id(i) in ids


async def test_conversation_running_at_the_interval_start_on_the_same_day_is_returned(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    i = next(
        k
        for k in range(len(data))
        if (end := data.end_ms(k)) is not None
        and end - data.start_ms(k) > 120_000
        and end // DAY_MS == data.start_ms(k) // DAY_MS
    )
    inside = data.start_ms(i) + 60_000
    body = {"interval": interval(inside, inside + 1000)}

    ids = await all_ids(api, sim, token, body)

    assert data.conversation_id(i) in ids


async def test_conversation_ended_before_the_interval_is_not_returned(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    i = next(
        k
        for k in range(len(data))
        if (end := data.end_ms(k)) is not None
        and end % DAY_MS < DAY_MS - 120_000
        and end // DAY_MS == data.start_ms(k) // DAY_MS
    )
    after = data.planned_end_ms(i) + 1
    body = {"interval": interval(after, after + 60_000)}

    ids = await all_ids(api, sim, token, body)

    assert data.conversation_id(i) not in ids


async def test_every_returned_conversation_overlaps_and_started_on_a_touched_day(
    api: Any, sim: Simulator, token: str
) -> None:
    start = sim.dataset.start_of_data_ms + 7 * DAY_MS + 15 * 3_600_000
    end = start + 30 * 3_600_000

    ids = await all_ids(api, sim, token, {"interval": interval(start, end)})

    data = sim.dataset
    expected = [
        data.conversation_id(i)
        for i in range(len(data))
        if start // DAY_MS * DAY_MS <= data.start_ms(i) < end
        and (data.end_ms(i) is None or data.end_ms(i) > start)  # type: ignore[operator]
    ]
    assert expected == ids
    assert len(ids) > len(data.index_range(start, end))


async def test_ongoing_conversations_come_back_without_conversation_end(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    end = data.end_of_data_ms
    body = {
        "interval": interval(end - DAY_MS, end),
        "conversationFilters": [
            {
                "type": "and",
                "predicates": [
                    {"dimension": "conversationEnd", "operator": "notExists"}
                ],
            }
        ],
    }

    reply = await api.query(sim, token, {**body, "paging": {"pageSize": 100}})

    expected = sum(
        1 for i in data.index_range(end - DAY_MS, end) if data.end_ms(i) is None
    )
    records = reply.body["conversations"]
    assert (expected, expected) == (reply.body["totalHits"], len(records))
    assert all("conversationEnd" not in r for r in records)


async def test_default_page_size_is_25_and_total_hits_counts_every_match(
    api: Any, sim: Simulator, token: str
) -> None:
    day = sim.dataset.start_of_data_ms + DAY_MS

    reply = await api.query(sim, token, {"interval": interval(day, day + DAY_MS)})

    expected_total = len(sim.dataset.index_range(day, day + DAY_MS))
    assert len(reply.body["conversations"]) == 25
    assert expected_total == reply.body["totalHits"]


async def test_past_the_last_page_the_conversations_key_is_absent(
    api: Any, sim: Simulator, token: str
) -> None:
    day = sim.dataset.start_of_data_ms + DAY_MS
    total = len(sim.dataset.index_range(day, day + DAY_MS))
    body = {
        "interval": interval(day, day + DAY_MS),
        "paging": {"pageSize": 100, "pageNumber": total // 100 + 2},
    }

    reply = await api.query(sim, token, body)

    assert {"totalHits": total} == reply.body


async def test_descending_order_reverses_the_ascending_order(
    api: Any, sim: Simulator, token: str
) -> None:
    day = sim.dataset.start_of_data_ms + 2 * DAY_MS
    body = {"interval": interval(day, day + DAY_MS)}

    ascending = await all_ids(api, sim, token, body)
    descending = await all_ids(api, sim, token, {**body, "order": "desc"})

    assert list(reversed(ascending)) == descending


async def test_order_by_conversation_end_sorts_by_end(
    api: Any, sim: Simulator, token: str
) -> None:
    day = sim.dataset.start_of_data_ms + 2 * DAY_MS
    body = {"interval": interval(day, day + DAY_MS), "orderBy": "conversationEnd"}
    reply = await api.query(sim, token, {**body, "paging": {"pageSize": 100}})

    ends = [r["conversationEnd"] for r in reply.body["conversations"]]

    assert sorted(ends) == ends


async def test_offsets_and_missing_millis_mean_the_same_instant(
    api: Any, sim: Simulator, token: str
) -> None:
    zulu = {"interval": "2026-09-03T00:00:00.000Z/2026-09-04T00:00:00.000Z"}
    offset = {"interval": "2026-09-03T02:00:00+02:00/2026-09-03T19:00:00-05:00"}

    expected = (await api.query(sim, token, zulu)).body
    actual = (await api.query(sim, token, offset)).body

    assert expected["totalHits"] == actual["totalHits"]
    assert expected["conversations"] == actual["conversations"]


async def test_records_carry_the_real_field_names(
    api: Any, sim: Simulator, token: str
) -> None:
    body = {"interval": "2026-09-03T00:00:00Z/2026-09-04T00:00:00Z"}

    record = (await api.query(sim, token, body)).body["conversations"][0]

    assert {
        "conversationId",
        "conversationStart",
        "originatingDirection",
        "divisionIds",
        "participants",
    } <= set(record)
    session = record["participants"][0]["sessions"][0]
    assert {"sessionId", "mediaType", "direction", "segments"} <= set(session)
    assert {"segmentStart", "segmentType"} <= set(session["segments"][0])


def _filter(dimension: str, value: str, kind: str = "and") -> dict[str, Any]:
    return {
        "type": kind,
        "predicates": [
            {
                "type": "dimension",
                "dimension": dimension,
                "operator": "matches",
                "value": value,
            }
        ],
    }


async def test_segment_filter_on_media_type_returns_only_that_media(
    api: Any, sim: Simulator, token: str
) -> None:
    day = sim.dataset.start_of_data_ms + 2 * DAY_MS
    body = {
        "interval": interval(day, day + DAY_MS),
        "segmentFilters": [_filter("mediaType", "email")],
    }

    ids = await all_ids(api, sim, token, body)

    data = sim.dataset
    expected = [
        data.conversation_id(i)
        for i in data.index_range(day, day + DAY_MS)
        if data.media_type(i) == "email"
    ]
    assert expected == ids
    assert ids


async def test_dimension_filters_match_the_conversation_facts(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    day = data.start_of_data_ms + 4 * DAY_MS
    indices = data.index_range(day, day + DAY_MS)
    sample = data.facts(indices[10])
    cases = {
        "queueId": (sample.queue_id, lambda f: f.queue_id),
        "divisionId": (sample.division_id, lambda f: f.division_id),
        "userId": (sample.user_id, lambda f: f.user_id),
        "wrapUpCode": (sample.wrap_up_code, lambda f: f.wrap_up_code),
        "direction": ("outbound", lambda f: f.direction),
        "originatingDirection": ("outbound", lambda f: f.originating_direction),
        "conversationId": (sample.conversation_id, lambda f: f.conversation_id),
    }
    mismatched = []

    for dimension, (value, read) in cases.items():
        body = {
            "interval": interval(day, day + DAY_MS),
            "segmentFilters": [_filter(dimension, value)],
        }
        ids = await all_ids(api, sim, token, body)
        expected = [
            data.conversation_id(i) for i in indices if read(data.facts(i)) == value
        ]
        if expected != ids or not ids:
            mismatched.append(dimension)

    assert mismatched == []


async def test_or_filter_and_clauses_combine_predicates(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    day = data.start_of_data_ms + 4 * DAY_MS
    indices = data.index_range(day, day + DAY_MS)
    body = {
        "interval": interval(day, day + DAY_MS),
        "segmentFilters": [
            {
                "type": "or",
                "predicates": [{"dimension": "mediaType", "value": "chat"}],
                "clauses": [
                    {
                        "type": "and",
                        "predicates": [
                            {"dimension": "mediaType", "value": "voice"},
                            {"dimension": "direction", "value": "outbound"},
                        ],
                    }
                ],
            }
        ],
    }

    ids = await all_ids(api, sim, token, body)

    expected = [
        data.conversation_id(i)
        for i in indices
        if (f := data.facts(i)).media_type == "chat"
        or (f.media_type == "voice" and f.direction == "outbound")
    ]
    assert expected == ids


async def test_conversation_end_exists_keeps_only_finished_conversations(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    end = data.end_of_data_ms
    body = {
        "interval": interval(end - DAY_MS, end),
        "conversationFilters": [
            {
                "type": "and",
                "predicates": [{"dimension": "conversationEnd", "operator": "exists"}],
            }
        ],
    }

    ids = await all_ids(api, sim, token, body)

    expected = [
        data.conversation_id(i)
        for i in data.index_range(end - DAY_MS, end)
        if data.end_ms(i) is not None
    ]
    assert expected == ids


async def test_metric_range_predicate_filters_on_session_metrics(
    api: Any, sim: Simulator, token: str
) -> None:
    data = sim.dataset
    day = data.start_of_data_ms + 4 * DAY_MS
    body = {
        "interval": interval(day, day + DAY_MS),
        "segmentFilters": [
            {
                "type": "and",
                "predicates": [
                    {"type": "metric", "metric": "tTalk", "range": {"gte": 600_000}}
                ],
            }
        ],
    }

    ids = await all_ids(api, sim, token, body)

    expected = [
        data.conversation_id(i)
        for i in data.index_range(day, day + DAY_MS)
        if data.facts(i).talk_ms >= 600_000
    ]
    assert expected == ids


async def test_bad_bodies_answer_400_with_the_error_body(
    api: Any, sim: Simulator, token: str
) -> None:
    good = "2026-09-03T00:00:00Z/2026-09-04T00:00:00Z"
    bodies: dict[str, Any] = {
        "missing interval": {},
        "end before start": {"interval": "2026-09-04T00:00:00Z/2026-09-03T00:00:00Z"},
        "garbage interval": {"interval": "yesterday/today"},
        "page size zero": {"interval": good, "paging": {"pageSize": 0}},
        "page number zero": {"interval": good, "paging": {"pageNumber": 0}},
        "bad order": {"interval": good, "order": "sideways"},
        "unknown dimension": {
            "interval": good,
            "segmentFilters": [_filter("colour", "red")],
        },
        "filter without type": {
            "interval": good,
            "segmentFilters": [
                {"predicates": [{"dimension": "mediaType", "value": "voice"}]}
            ],
        },
        "not an object": [1, 2],
    }
    statuses = {}

    for name, body in bodies.items():
        reply = await api.query(sim, token, body)
        shape = {"message", "code", "status", "contextId", "details", "errors"}
        statuses[name] = (reply.status, shape <= set(reply.body))

    assert dict.fromkeys(bodies, (400, True)) == statuses


async def test_invalid_json_answers_400_naming_the_body(
    api: Any, sim: Simulator, token: str
) -> None:
    reply = await api.post(sim, token, b"{not json")

    assert (reply.status, reply.body["code"]) == (400, "bad.request")
    assert reply.body["details"] == [{"errorCode": "bad.request", "fieldName": "body"}]


async def test_missing_interval_details_name_the_interval_field(
    api: Any, sim: Simulator, token: str
) -> None:
    reply = await api.query(sim, token, {"paging": {"pageSize": 10}})

    assert reply.body["details"][0]["fieldName"] == "interval"


async def test_aggregations_and_evaluation_filters_are_refused_not_ignored(
    api: Any, sim: Simulator, token: str
) -> None:
    body = {"interval": "2026-09-02T00:00:00Z/2026-09-03T00:00:00Z"}
    evaluation = {"type": "and", "predicates": [{"dimension": "evaluationId"}]}
    extras = {
        "aggregations": [{"type": "termFrequency", "dimension": "queueId"}],
        "evaluationFilters": [evaluation],
    }

    replies = {
        name: await api.query(sim, token, {**body, name: value})
        for name, value in extras.items()
    }
    empty = await api.query(sim, token, {**body, "aggregations": []})

    for name, reply in replies.items():
        assert (reply.status, reply.body["code"]) == (400, "bad.request")
        assert name in reply.body["message"]
        assert reply.body["details"][0]["fieldName"] == name
    assert empty.status == 200
