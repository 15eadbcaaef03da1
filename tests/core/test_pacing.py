"""Pacing, pauses and give-up bounds, driven in virtual time.

The limiter's window bound, the shared 429 pause and its cap at max_time, the
rate-limit headers, and which 429s hold every request.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging

import pytest

from genesys_async._errors import RateLimitedError, ServerError
from genesys_async._http import RetryPolicy, parse_retry_after

OK = {"conversations": [], "totalHits": 0}
RATE_LIMITED = {
    "message": "Rate limit exceeded the maximum. Retry the request in [12] seconds",
    "code": "too.many.requests.retry.after",
    "status": 429,
}
TOO_MANY_JOBS = {
    "message": "The maximum of 5 concurrent jobs is reached. Retry the request "
    "in [5] seconds",
    "code": "too.many.requests",
    "status": 429,
}


def rate_limited(retry_after: str) -> dict[str, object]:
    return {
        "status": 429,
        "payload": RATE_LIMITED,
        "headers": {"Retry-After": retry_after},
    }


def busiest_window(times: list[float], period: float) -> int:
    """Return the most sends in any half-open window [t, t + period)."""
    times = sorted(times)
    return max(bisect.bisect_left(times, t + period) - i for i, t in enumerate(times))


def acquisition_times(
    virtual_genesys, count: int, **client_knobs: object
) -> list[float]:
    """Take `count` limiter slots at once; return when each was granted."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        client = virtual_genesys.client(**client_knobs)
        times: list[float] = []

        async def one() -> None:
            await client._http._limiter.acquire()
            times.append(loop.time())

        await asyncio.gather(*(one() for _ in range(count)))
        return times

    return virtual_genesys.run(main)


# The limiter (rate_limit, rate_headroom, rate_burst).


def test_no_minute_holds_more_than_the_limit_less_its_headroom(
    virtual_genesys,
) -> None:
    """300/min at 2% headroom, 900 at once: at most 294 in any 60 s, 4.9/s on."""
    times = acquisition_times(virtual_genesys, 900, rate_limit=300, rate_headroom=0.02)

    # 900 sends at 294 per minute: the last leaves a little after 3 minutes.
    expected = (294, True)
    actual = (busiest_window(times, 60.0), 180.0 <= max(times) <= 186.0)
    assert expected == actual


def test_fifty_per_second_keeps_its_pace_and_its_bound(virtual_genesys) -> None:
    """The benchmarks' 50/s: 49 a second at 2% headroom, never more in 1 s."""
    times = acquisition_times(
        virtual_genesys, 1000, rate_limit=50, rate_period=1.0, rate_headroom=0.02
    )

    expected = (49, True)
    actual = (busiest_window(times, 1.0), 19.5 <= max(times) <= 20.5)
    assert expected == actual


def test_the_default_burst_is_one_seconds_worth_of_the_rate(virtual_genesys) -> None:
    """300/min: 5 at once after an idle spell, then one every 0.2 s."""
    times = acquisition_times(virtual_genesys, 7, rate_limit=300)

    expected = [0.0] * 5 + [0.2, 0.4]
    assert expected == [pytest.approx(t, abs=1e-3) for t in times]


def test_a_burst_can_be_set_and_still_keeps_the_window_bound(virtual_genesys) -> None:
    """rate_burst=100 at 300/min: 100 at once, still at most 300 in 60 s."""
    times = acquisition_times(virtual_genesys, 700, rate_limit=300, rate_burst=100)

    expected = (100, 300)
    actual = (sum(t < 1e-3 for t in times), busiest_window(times, 60.0))
    assert expected == actual


# Every request passes the limiter and the shared pause, grants included.


def test_the_token_grant_takes_a_limiter_slot(virtual_genesys) -> None:
    """At 6/min, one at a time: the grant at 0 s, the query one slot later."""
    genesys = virtual_genesys
    sent_at: list[float] = []

    def record(url: object, **kwargs: object) -> None:
        sent_at.append(asyncio.get_running_loop().time())

    genesys.grant(callback=record)
    genesys.mock.post(genesys.query_url, payload=OK, callback=record)

    async def main() -> None:
        client = genesys.client(rate_limit=6, rate_burst=1)
        await client.request("POST", genesys.query_path, json={})

    genesys.run(main)

    expected = [0.0, 10.0]
    assert expected == [pytest.approx(t, abs=1e-3) for t in sent_at]


async def test_the_token_grant_waits_for_a_shared_pause(genesys) -> None:
    """A pause begun before the first grant holds the grant too."""
    sent_at: list[float] = []
    genesys.grant(callback=lambda url, **kw: sent_at.append(genesys.vtime.now))
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy())
    start = genesys.vtime.now
    client._http.pause(30.0, "a test", RateLimitedError(429, "Rate limit exceeded"))

    await client.request("POST", genesys.query_path, json={})

    assert [pytest.approx(30.0)] == [t - start for t in sent_at]


# Server delays that cannot be meant, and the max_time bound on pauses.


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e9", "86401"])
def test_a_retry_after_not_finite_or_over_a_day_is_not_believed(value: str) -> None:
    """Such a header is broken; believing it would hang every request."""
    assert parse_retry_after(value) is None


async def test_an_unbelievable_retry_after_falls_back_to_the_message(genesys) -> None:
    """Retry-After: inf, message "[12] seconds": the client waits 12 s."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, **rate_limited("inf"))
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy())

    await client.request("POST", genesys.query_path, json={})

    assert [s for s in genesys.vtime.sleeps if s] == [12.0]


def test_a_pause_never_outlasts_max_time(virtual_genesys) -> None:
    """Retry-After 600 with max_time 30: the request gives up within its 30 s
    instead of waiting 600."""
    g = virtual_genesys
    g.grant()
    g.mock.get(g.api + "/api/v2/a", **rate_limited("600"))
    g.mock.get(g.api + "/api/v2/a", payload=OK)

    async def main() -> tuple[object, float]:
        loop = asyncio.get_running_loop()
        client = g.client(retry=RetryPolicy(max_time=30.0))
        try:
            reply: object = await client.request("GET", "/api/v2/a")
        except RateLimitedError as exc:
            reply = exc
        return reply, loop.time()

    reply, ended = g.run(main)

    assert (RateLimitedError, True) == (type(reply), ended <= 30.0)


def test_a_request_whose_max_time_ends_inside_a_pause_gives_up_at_once(
    virtual_genesys,
) -> None:
    """At 6/min, A (sent at 10 s) meets a 429 asking 25 s; B, due at 20 s with
    30 s allowed, would end inside the pause: both raise the 429, B at 20 s."""
    g = virtual_genesys
    g.grant()
    g.mock.get(g.api + "/api/v2/a", **rate_limited("25"))
    g.mock.get(g.api + "/api/v2/b", payload=OK)
    policy = RetryPolicy(max_time=30.0)

    async def main() -> tuple[list[object], float]:
        loop = asyncio.get_running_loop()
        client = g.client(retry=policy, rate_limit=6, rate_burst=1)
        outcomes = await asyncio.gather(
            client.request("GET", "/api/v2/a"),
            client.request("GET", "/api/v2/b", interval="b/b"),
            return_exceptions=True,
        )
        return outcomes, loop.time()

    (a, b), ended = g.run(main)

    expected = (RateLimitedError, RateLimitedError, "b/b", 20.0, 0)
    actual = (
        type(a),
        type(b),
        getattr(b, "interval", None),
        pytest.approx(ended),
        len(g.calls("GET", g.api + "/api/v2/b")),
    )
    assert expected == actual


async def test_a_grant_spends_the_max_time_of_the_request_that_needs_it(
    genesys,
) -> None:
    """A 401 at 20 s of 30 allowed: the new grant's retries stop by 30 s."""
    genesys.grant()
    genesys.mock.post(genesys.token_url, status=503, repeat=True)

    def slow_401(url: object, **kwargs: object) -> None:
        genesys.vtime.now += 20.0

    genesys.mock.post(
        genesys.query_url,
        status=401,
        payload={"code": "bad.credentials"},
        callback=slow_401,
    )
    policy = RetryPolicy(max_attempts=1000, max_time=30.0, max_backoff=2.0)
    client = genesys.client(retry=policy)
    start = genesys.vtime.now

    with pytest.raises(ServerError):
        await client.request("POST", genesys.query_path, json={})

    assert genesys.vtime.now - start <= 30.0


# Which 429s hold every request.


@pytest.mark.parametrize(
    ("body", "paused"),
    [
        (RATE_LIMITED, 1),
        ({**RATE_LIMITED, "code": "too.many.requests"}, 1),
        ({"message": "Rate limit exceeded", "code": "x.y"}, 1),
        (TOO_MANY_JOBS, 0),
        ({"message": "Slow down [5] seconds", "code": "some.other.limit"}, 0),
    ],
    ids=["retry.after", "too.many", "message", "concurrent-jobs", "other-code"],
)
async def test_only_the_rate_limit_429_pauses_every_request(
    genesys, body: dict[str, object], paused: int
) -> None:
    """Another limit's 429 waits its Retry-After for its own request only."""
    genesys.grant()
    genesys.mock.post(
        genesys.query_url, status=429, payload=body, headers={"Retry-After": "5"}
    )
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy())

    result = await client.request("POST", genesys.query_path, json={})

    held = client._http._resume_at > genesys.vtime.now - 5.0
    expected = (OK, paused, bool(paused), [5.0], {"429": 1})
    actual = (
        result,
        client.stats.pauses,
        held,
        [s for s in genesys.vtime.sleeps if s],
        dict(client.stats.retries),
    )
    assert expected == actual


def test_a_concurrent_jobs_429_does_not_hold_other_requests(virtual_genesys) -> None:
    """A job submit told to wait 5 s; a query sent meanwhile leaves at once."""
    g = virtual_genesys
    jobs_url = g.api + "/api/v2/analytics/conversations/details/jobs"
    g.grant()
    g.mock.post(
        jobs_url, status=429, payload=TOO_MANY_JOBS, headers={"Retry-After": "5"}
    )
    g.mock.post(jobs_url, payload={"jobId": "j1"})
    sent_at: list[float] = []
    g.mock.post(
        g.query_url,
        payload=OK,
        callback=lambda url, **kw: sent_at.append(asyncio.get_running_loop().time()),
    )

    async def main() -> object:
        client = g.client(retry=RetryPolicy())
        submit = asyncio.ensure_future(
            client.request("POST", "/api/v2/analytics/conversations/details/jobs")
        )
        await asyncio.sleep(1.0)
        await client.request("POST", g.query_path, json={})
        return await submit

    assert (g.run(main), sent_at) == ({"jobId": "j1"}, [pytest.approx(1.0, abs=1e-3)])


# The inin-ratelimit-* headers.


def ratelimit_headers(count: int, allowed: int, reset: str = "60") -> dict[str, str]:
    return {
        "inin-ratelimit-count": str(count),
        "inin-ratelimit-allowed": str(allowed),
        "inin-ratelimit-reset": reset,
    }


def test_a_lower_allowed_in_the_headers_lowers_the_pace_for_good(
    virtual_genesys, caplog
) -> None:
    """Configured 300/min, the server says 60: 58.8/min from then on, said once."""
    g = virtual_genesys
    g.grant()
    sent_at: list[float] = []
    g.mock.get(
        g.api + "/api/v2/a",
        payload={},
        headers=ratelimit_headers(1, 60),
        repeat=True,
        callback=lambda url, **kw: sent_at.append(asyncio.get_running_loop().time()),
    )
    caplog.set_level(logging.INFO, logger="genesys_async")

    async def main() -> float:
        client = g.client(rate_limit=300, rate_headroom=0.02)
        for _ in range(4):
            await client.request("GET", "/api/v2/a")
        limit: float = client._http._limiter.limit
        return limit

    limit = g.run(main)

    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    lowered = [r for r in caplog.records if "fewer than configured" in r.getMessage()]
    expected = (58.8, [60 / 58.8] * 2, 1)
    actual = (
        pytest.approx(limit),
        [pytest.approx(gap) for gap in gaps[1:]],
        len(lowered),
    )
    assert expected == actual


async def test_an_allowed_at_or_above_the_limit_changes_nothing(genesys) -> None:
    """The server's 300 against a client told 300: the pace stays 294."""
    genesys.grant()
    genesys.mock.get(
        genesys.api + "/api/v2/a", payload={}, headers=ratelimit_headers(1, 300)
    )
    client = genesys.client(rate_limit=300, rate_headroom=0.02)

    await client.request("GET", "/api/v2/a")

    assert client._http._limiter.limit == pytest.approx(294)


@pytest.mark.parametrize("reset", ["inf", "nan", "1e12"])
async def test_an_unbelievable_reset_holds_nothing(genesys, reset: str) -> None:
    """A used-up bucket whose reset is not a usable delay is ignored."""
    genesys.grant()
    genesys.mock.get(
        genesys.api + "/api/v2/a",
        payload={},
        headers=ratelimit_headers(300, 300, reset),
    )
    genesys.mock.get(genesys.api + "/api/v2/b", payload={})
    client = genesys.client(retry=RetryPolicy())

    await client.request("GET", "/api/v2/a")
    await client.request("GET", "/api/v2/b")

    assert ([s for s in genesys.vtime.sleeps if s], client.stats.pauses) == ([], 0)


# The log lines a reader of a long export relies on.


async def test_retries_refreshes_and_pauses_are_logged(genesys, caplog) -> None:
    """429, header hold, 503 and 401 each leave their one line, and no more."""
    genesys.grant()
    genesys.grant(token="second-token-0002", expires_in=600)
    genesys.mock.post(genesys.query_url, **rate_limited("2"))
    genesys.mock.post(
        genesys.query_url, payload=OK, headers=ratelimit_headers(300, 300)
    )
    genesys.mock.post(genesys.query_url, status=503)
    genesys.mock.post(
        genesys.query_url, status=401, payload={"code": "bad.credentials"}
    )
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(rate_limit=300, retry=RetryPolicy(initial_backoff=0.0))
    caplog.set_level(logging.INFO, logger="genesys_async")

    await client.request("POST", genesys.query_path, json={})
    await client.request("POST", genesys.query_path, json={})

    path = genesys.query_path
    expected = [
        ("INFO", "Requesting an access token (client-credentials grant)"),
        ("INFO", "Access token obtained, valid for 86400 s"),
        ("WARNING", f"Pausing every request for 2.00 s: 429 on POST {path}"),
        (
            "WARNING",
            f"Retrying POST {path} after 429 (attempt 1 of 10 failed), waiting 2.00 s",
        ),
        ("INFO", "Rate bucket used up (300/300): holding every request for 0.20 s"),
        (
            "WARNING",
            f"Retrying POST {path} after 503 (attempt 1 of 10 failed), waiting 0.00 s",
        ),
        ("INFO", "Access token refused by the API; a new one will be requested"),
        ("INFO", "Requesting an access token (client-credentials grant)"),
        ("INFO", "Access token obtained, valid for 600 s"),
    ]
    actual = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "genesys_async"
    ]
    assert expected == actual
