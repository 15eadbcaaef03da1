"""The per-token rate limit: a token bucket, 429s and `inin-ratelimit-*` headers."""

from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from genesys_async.simulator import Simulator, SimulatorConfig


class Reply:
    """Status and headers of a reply read without the `api` helper."""

    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers


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


async def test_401_404_and_405_replies_carry_the_rate_limit_headers_too(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=3, rate_limit_period_s=60)
    token = await api.token(sim)
    unknown = "/api/v2/analytics/nothing/here"

    replies = [
        await api.query(sim, None, BODY),
        await api.query(sim, "not-a-token", BODY),
        await api.post(sim, token, b"{}", unknown),
    ]
    async with api.http.get(
        sim.base_url + api.query_path, headers={"Authorization": f"Bearer {token}"}
    ) as reply:
        replies.append(Reply(reply.status, None, dict(reply.headers)))

    statuses = [r.status for r in replies]
    counts = [r.headers.get("inin-ratelimit-count") for r in replies]
    assert (statuses, counts) == ([401, 401, 404, 405], ["0", "0", "1", "2"])
    assert {r.headers.get("inin-ratelimit-allowed") for r in replies} == {"3"}


async def test_429_body_names_the_limit_it_hit(api: Any, make_sim: MakeSim) -> None:
    sim = await make_sim(clock=Clock(), rate_limit=1, rate_limit_period_s=60)
    token = await api.token(sim)

    await api.query(sim, token, BODY)
    refused = await api.query(sim, token, BODY)

    expected = {"key": "token.rate.per.minute", "namespace": "platform.api", "value": 1}
    assert (429, expected) == (refused.status, refused.body["limit"])


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


@pytest.mark.parametrize("change", [{"rate_limit": 0}, {"rate_limit_period_s": 0}])
def test_a_zero_rate_limit_or_period_is_refused(change: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        SimulatorConfig(**change)  # type: ignore[arg-type]


def test_default_limit_is_300_per_minute() -> None:
    defaults = SimulatorConfig()

    assert (defaults.rate_limit, defaults.rate_limit_period_s) == (300, 60.0)
