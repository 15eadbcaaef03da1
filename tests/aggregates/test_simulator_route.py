"""The simulator's aggregates route: what it counts, where, and what it refuses."""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from genesys_async.simulator import Dataset, Simulator
from genesys_async.simulator._aggregates import (
    Granularity,
    bucket_edges,
    conversation_events,
)
from genesys_async.simulator._config import (
    DETAIL_PERMISSION,
    AggregatesConfig,
    SimulatorConfig,
)

PATH = "/api/v2/analytics/conversations/aggregates/query"
BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
HOUR_MS = 3_600_000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_each_conversations_metrics_are_those_of_its_record_even_while_ongoing(
    truth: Any,
) -> None:
    data = Dataset(
        seed=5,
        start=datetime(2026, 10, 1, tzinfo=timezone.utc),
        end=datetime(2026, 10, 3, tzinfo=timezone.utc),
        conversations=600,
        now=datetime(2026, 10, 2, 12, tzinfo=timezone.utc),
    )

    actual = sorted(
        (e.name, e.value, e.emit_ms, e.dims.get("queueId"))
        for i in range(len(data))
        for e in conversation_events(data, i)
    )

    records = (data.record(i) for i in range(len(data)))
    expected = sorted(
        (m.name, m.value, m.emit_ms, m.queue_id) for m in truth.emitted_metrics(records)
    )
    assert expected == actual


def test_a_berlin_day_lasts_23_hours_when_dst_starts_and_25_when_it_ends() -> None:
    march = _ms(datetime(2027, 3, 27, tzinfo=BERLIN))
    october = _ms(datetime(2026, 10, 24, tzinfo=BERLIN))
    day = Granularity.parse("P1D")

    spring = bucket_edges(march, march + 72 * HOUR_MS, day, BERLIN)
    autumn = bucket_edges(october, october + 72 * HOUR_MS, day, BERLIN)

    assert [(b - a) // HOUR_MS for a, b in _pairs(spring)] == [24, 23, 24, 1]
    assert [(b - a) // HOUR_MS for a, b in _pairs(autumn)] == [24, 25, 23]


def _pairs(edges: list[int]) -> list[tuple[int, int]]:
    return list(itertools.pairwise(edges))


def test_half_hours_over_the_long_berlin_day_are_fifty_and_all_thirty_minutes() -> None:
    start = _ms(datetime(2026, 10, 25, tzinfo=BERLIN))
    end = _ms(datetime(2026, 10, 26, tzinfo=BERLIN))

    edges = bucket_edges(start, end, Granularity.parse("PT30M"), BERLIN)

    assert len(edges) - 1 == 50
    assert {1_800_000} == {b - a for a, b in _pairs(edges)}


def test_months_step_by_calendar_month_from_the_previous_edge() -> None:
    start = _ms(datetime(2027, 1, 31, tzinfo=UTC))
    end = _ms(datetime(2027, 4, 30, tzinfo=UTC))

    edges = bucket_edges(start, end, Granularity.parse("P1M"), UTC)

    days = [datetime.fromtimestamp(e / 1000, UTC).date().isoformat() for e in edges]
    assert (days) == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-28",
        "2027-04-28",
        "2027-04-30",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT15M", Granularity(0, 0, 900_000)),
        ("PT90M", Granularity(0, 0, 5_400_000)),
        ("P1DT12H", Granularity(0, 1, 43_200_000)),
        ("P1W", Granularity(0, 7, 0)),
        ("P1Y2M", Granularity(14, 0, 0)),
    ],
)
def test_granularity_reads_calendar_and_elapsed_parts(
    text: str, expected: Granularity
) -> None:
    assert expected == Granularity.parse(text)


@pytest.mark.parametrize("text", ["PT30S", "P0D", "PT", "30M", "P1.5D"])
def test_granularity_refuses_what_is_not_whole_minutes(text: str) -> None:
    with pytest.raises(ValueError, match="granularity"):
        Granularity.parse(text)


SMALL = replace(
    SimulatorConfig(),
    seed=4,
    start=datetime(2026, 10, 1, tzinfo=timezone.utc),
    end=datetime(2026, 10, 4, tzinfo=timezone.utc),
    conversations=900,
    rate_limit=None,
)
INTERVAL = "2026-10-02T00:00:00.000Z/2026-10-03T00:00:00.000Z"


class Api:
    """A simulator on loopback and a token for it."""

    def __init__(self, sim: Simulator, http: aiohttp.ClientSession, token: str):
        self.sim = sim
        self.http = http
        self.token = token

    async def query(self, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.post(
            self.sim.base_url + PATH, json=body, headers=headers
        ) as reply:
            return reply.status, await reply.json()


async def _open(config: SimulatorConfig) -> AsyncIterator[Api]:
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        raw = f"{sim.client_id}:{sim.client_secret}".encode()
        async with http.post(
            sim.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        ) as reply:
            token = (await reply.json())["access_token"]
        yield Api(sim, http, token)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for opened in _open(SMALL):
        yield opened


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "interval": INTERVAL,
        "granularity": "PT1H",
        "metrics": ["nOffered", "tHandle"],
    }
    body.update(changes)
    return body


async def test_a_filter_keeps_exactly_the_group_it_names(api: Api) -> None:
    _, grouped = await api.query(_body(groupBy=["mediaType"]))
    voice_filter = {
        "type": "or",
        "predicates": [
            {"type": "dimension", "dimension": "mediaType", "value": "voice"}
        ],
    }

    _, filtered = await api.query(_body(filter=voice_filter))

    voice = [r for r in grouped["results"] if r["group"] == {"mediaType": "voice"}]
    assert voice[0]["data"] == filtered["results"][0]["data"]


async def test_a_clause_of_two_predicates_must_hold_together(api: Api) -> None:
    both = {
        "type": "and",
        "clauses": [
            {
                "type": "and",
                "predicates": [
                    {"dimension": "mediaType", "value": "voice"},
                    {"dimension": "mediaType", "value": "chat"},
                ],
            }
        ],
    }

    status, reply = await api.query(_body(filter=both))

    assert (status, reply) == (200, {})


async def test_queue_metrics_have_no_user_and_agent_metrics_have_one(
    api: Api,
) -> None:
    status, reply = await api.query(_body(groupBy=["userId"]))

    by_user = {
        "userId" in r["group"]: {m["metric"] for d in r["data"] for m in d["metrics"]}
        for r in reply["results"]
    }
    assert status == 200
    assert {"nOffered"} == by_user[False]
    assert {"tHandle"} == {m for has, ms in by_user.items() if has for m in ms}


async def test_n_metrics_give_a_count_and_t_metrics_count_sum_min_max(
    api: Api,
) -> None:
    _, reply = await api.query(_body(granularity=None))

    stats = {
        m["metric"]: set(m["stats"]) for m in reply["results"][0]["data"][0]["metrics"]
    }
    assert {"nOffered": {"count"}, "tHandle": {"count", "sum", "min", "max"}} == stats
    assert [d["interval"] for d in reply["results"][0]["data"]] == [INTERVAL]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metrics": ["oServiceLevel"]}, "metrics"),
        ({"metrics": []}, "metrics"),
        ({"groupBy": ["ani"]}, "groupBy"),
        ({"granularity": "PT1S"}, "granularity"),
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"interval": "2026-10-03T00:00:00Z/2026-10-02T00:00:00Z"}, "interval"),
        ({"filter": {"type": "and", "predicates": [{"dimension": "x"}]}}, "filter"),
    ],
)
async def test_a_bad_query_is_a_400_naming_its_field(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    status, reply = await api.query(_body(**changes))

    assert (400, "bad.request", field) == (
        status,
        reply["code"],
        reply["details"][0]["fieldName"],
    )


async def test_limits_answer_400_with_the_error_body_and_the_limit() -> None:
    limits = AggregatesConfig(max_interval_days=1, max_buckets=10)
    async for api in _open(replace(SMALL, aggregates=limits)):
        long_status, too_long = await api.query(
            _body(interval="2026-10-01T00:00:00Z/2026-10-03T00:00:00Z")
        )
        many_status, too_many = await api.query(_body(granularity="PT1H"))
        fine_status, _ = await api.query(_body(granularity="PT3H"))

    assert (long_status, many_status, fine_status) == (400, 400, 200)
    assert "does not exceed 1 days" in too_long["message"]
    assert "maximum of 10 buckets" in too_many["message"]
    shape = {"message", "code", "status", "contextId", "details", "errors"}
    assert shape <= set(too_many)


async def test_a_role_without_the_aggregate_permission_gets_403() -> None:
    config = replace(SMALL, permissions=frozenset({DETAIL_PERMISSION}))
    async for api in _open(config):
        status, reply = await api.query(_body())

    assert status == 403
    assert "analytics:conversationAggregate:view" in reply["message"]
