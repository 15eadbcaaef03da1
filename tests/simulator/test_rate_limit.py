"""The per-token rate limit: a token bucket, 429s and `inin-ratelimit-*` headers."""

from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable
from typing import Any

from genesys_async.simulator import Simulator, SimulatorConfig

MakeSim = Callable[..., Awaitable[Simulator]]
BODY = {"interval": "2026-09-02T00:00:00Z/2026-09-02T01:00:00Z"}


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


async def test_bucket_allows_the_limit_then_answers_429_with_retry_after(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=3, rate_limit_period_s=60)
    token = await api.token(sim)

    replies = [await api.query(sim, token, BODY) for _ in range(4)]

    assert [r.status for r in replies] == [200, 200, 200, 429]
    refused = replies[-1]
    assert refused.body["code"] == "too.many.requests.retry.after"
    expected = "Rate limit exceeded the maximum. Retry the request in [20] seconds"
    assert expected == refused.body["message"]
    assert refused.headers["Retry-After"] == "20"


async def test_every_reply_carries_the_rate_limit_headers(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=3, rate_limit_period_s=60)
    token = await api.token(sim)

    replies = [await api.query(sim, token, b) for b in (BODY, {}, BODY, BODY)]

    counts = [r.headers["inin-ratelimit-count"] for r in replies]
    allowed = {r.headers["inin-ratelimit-allowed"] for r in replies}
    assert (["1", "2", "3", "3"], {"3"}) == (counts, allowed)
    assert replies[2].headers["inin-ratelimit-reset"] == "60"


async def test_bucket_refills_with_time(api: Any, make_sim: MakeSim) -> None:
    clock = Clock()
    sim = await make_sim(clock=clock, rate_limit=3, rate_limit_period_s=60)
    token = await api.token(sim)
    for _ in range(3):
        await api.query(sim, token, BODY)

    refused = await api.query(sim, token, BODY)
    clock.now += 20
    allowed = await api.query(sim, token, BODY)

    assert (refused.status, allowed.status) == (429, 200)


async def test_each_token_has_its_own_bucket(api: Any, make_sim: MakeSim) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=1, rate_limit_period_s=60)
    first, second = await api.token(sim), await api.token(sim)

    statuses = [(await api.query(sim, t, BODY)).status for t in (first, first, second)]

    assert statuses == [200, 429, 200]


async def test_retry_after_can_be_an_http_date(api: Any, make_sim: MakeSim) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=1, retry_after="http-date")
    token = await api.token(sim)

    await api.query(sim, token, BODY)
    refused = await api.query(sim, token, BODY)

    assert email.utils.parsedate_to_datetime(refused.headers["Retry-After"])


async def test_retry_after_can_be_omitted(api: Any, make_sim: MakeSim) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=1, retry_after="omit")
    token = await api.token(sim)

    await api.query(sim, token, BODY)
    refused = await api.query(sim, token, BODY)

    assert refused.status == 429
    assert "Retry-After" not in refused.headers
    assert "[60] seconds" in refused.body["message"]


def test_default_limit_is_300_per_minute() -> None:
    defaults = SimulatorConfig()

    assert (defaults.rate_limit, defaults.rate_limit_period_s) == (300, 60.0)
