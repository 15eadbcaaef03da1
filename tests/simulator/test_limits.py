"""Configurable limits: interval length, pagination cap, page size, body size."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from genesys_async.simulator import Simulator

MakeSim = Callable[..., Awaitable[Simulator]]
WEEK = "2026-09-01T00:00:00Z/2026-09-08T00:00:00Z"
EIGHT_DAYS = "2026-09-01T00:00:00Z/2026-09-09T00:00:00Z"


async def test_interval_over_seven_days_answers_the_real_400(
    api: Any, sim: Simulator, token: str
) -> None:
    within = await api.query(sim, token, {"interval": WEEK})
    beyond = await api.query(sim, token, {"interval": EIGHT_DAYS})

    assert within.status == 200
    assert (beyond.status, beyond.body["code"]) == (400, "bad.request")
    expected = (
        "You must specify a search interval as part of your query that does not "
        "exceed 7 days"
    )
    assert expected == beyond.body["message"]


async def test_interval_limit_names_the_configured_days(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(max_interval_days=3)
    token = await api.token(sim)

    reply = await api.query(sim, token, {"interval": WEEK})

    assert reply.body["message"].endswith("does not exceed 3 days")


async def test_interval_limit_none_allows_any_length(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(max_interval_days=None)
    token = await api.token(sim)

    reply = await api.query(
        sim, token, {"interval": "2026-08-01T00:00:00Z/2026-10-01T00:00:00Z"}
    )

    assert (200, len(sim.dataset)) == (reply.status, reply.body["totalHits"])


async def test_paging_beyond_the_cap_answers_the_real_400(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(pagination_cap=200)
    token = await api.token(sim)

    last = await api.query(
        sim, token, {"interval": WEEK, "paging": {"pageSize": 100, "pageNumber": 2}}
    )
    beyond = await api.query(
        sim, token, {"interval": WEEK, "paging": {"pageSize": 100, "pageNumber": 3}}
    )

    assert last.status == 200
    assert (
        beyond.status,
        beyond.body["message"],
    ) == (400, "Pagination may not exceed 200 results.")


async def test_default_pagination_cap_is_100000(
    api: Any, sim: Simulator, token: str
) -> None:
    body = {"interval": WEEK, "paging": {"pageSize": 100, "pageNumber": 1001}}

    reply = await api.query(sim, token, body)

    assert (
        reply.status,
        reply.body["message"],
    ) == (400, "Pagination may not exceed 100000 results.")


async def test_busy_day_holds_more_than_a_low_pagination_cap(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(pagination_cap=300)
    token = await api.token(sim)
    (busy,) = sim.dataset.busy_days
    day_ms = 86_400_000
    start, end = busy * day_ms, (busy + 1) * day_ms
    interval = f"{_iso(start)}/{_iso(end)}"

    first = await api.query(
        sim, token, {"interval": interval, "paging": {"pageSize": 100}}
    )

    assert first.body["totalHits"] > 300


def _iso(ms: int) -> str:
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_page_size_over_the_maximum_answers_400(
    api: Any, sim: Simulator, token: str
) -> None:
    ok = await api.query(sim, token, {"interval": WEEK, "paging": {"pageSize": 100}})
    too_big = await api.query(
        sim, token, {"interval": WEEK, "paging": {"pageSize": 101}}
    )

    assert (ok.status, too_big.status) == (200, 400)
    assert too_big.body["details"][0]["fieldName"] == "paging.pageSize"


async def test_page_size_limit_is_configurable(api: Any, make_sim: MakeSim) -> None:
    sim = await make_sim(max_page_size=300)
    token = await api.token(sim)

    reply = await api.query(sim, token, {"interval": WEEK, "paging": {"pageSize": 300}})

    assert (reply.status, len(reply.body["conversations"])) == (200, 300)


async def test_request_over_the_byte_limit_answers_413(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(max_request_bytes=1000)
    token = await api.token(sim)
    padding = "x" * 1000
    body = json.dumps({"interval": WEEK, "padding": padding}).encode()

    reply = await api.post(sim, token, body)

    assert (reply.status, reply.body["code"]) == (413, "request.entity.too.large")
    expected = "The request is over the size limit. Maximum bytes: 1000"
    assert expected == reply.body["message"]


async def test_default_byte_limit_is_512000(
    api: Any, sim: Simulator, token: str
) -> None:
    under = json.dumps({"interval": WEEK, "p": "x" * 500_000}).encode()
    over = json.dumps({"interval": WEEK, "p": "x" * 512_001}).encode()

    statuses = [(await api.post(sim, token, b)).status for b in (under, over)]

    assert statuses == [200, 413]


async def test_too_large_threshold_answers_413_for_crowded_intervals(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(too_large_threshold=100)
    token = await api.token(sim)

    crowded = await api.query(sim, token, {"interval": WEEK})
    quiet = await api.query(
        sim, token, {"interval": "2026-09-02T03:00:00Z/2026-09-02T04:00:00Z"}
    )

    assert (crowded.status, crowded.body["code"]) == (413, "request.entity.too.large")
    assert quiet.status == 200
