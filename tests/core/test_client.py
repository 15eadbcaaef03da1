"""GenesysClient over a mocked Genesys Cloud: tokens, retries, pauses, errors."""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from genesys_async._client import GenesysClient
from genesys_async._errors import (
    AuthenticationError,
    ConfigurationError,
    IntervalTooLongError,
    NetworkError,
    PaginationCapError,
    PermissionDeniedError,
    QueryRejectedError,
    RateLimitedError,
    RequestTooLargeError,
    ServerError,
)
from genesys_async._http import RetryPolicy

OK = {"conversations": [{"conversationId": "c1"}], "totalHits": 1}
RATE_LIMITED = {
    "message": "Rate limit exceeded the maximum. Retry the request in [12] seconds",
    "code": "too.many.requests.retry.after",
    "status": 429,
}


def rate_limited(retry_after: str | None = None) -> dict[str, object]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return {"status": 429, "payload": RATE_LIMITED, "headers": headers}


async def test_request_sends_bearer_token_json_body_and_params(genesys) -> None:
    """The body is JSON, the token rides in the header, params in the URL."""
    genesys.grant()
    url = genesys.api + "/api/v2/things?pageSize=5&cursor=abc"
    genesys.mock.post(url, payload=OK)
    client = genesys.client()

    result = await client.request(
        "POST", "/api/v2/things", json={"a": 1}, params={"pageSize": 5, "cursor": "abc"}
    )

    (call,) = genesys.calls("POST", url)
    expected = (OK, b'{"a":1}', f"Bearer {genesys.token}")
    assert expected == (
        result,
        call.kwargs["data"],
        call.kwargs["headers"]["Authorization"],
    )


async def test_token_grant_is_basic_auth_with_a_form_body(genesys) -> None:
    """The grant follows the client-credentials flow exactly."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    await client.request("POST", genesys.query_path, json={})

    (call,) = genesys.calls("POST", genesys.token_url)
    expected = (
        "Basic Y2xpZW50LWlkLTE6czNjcjN0LWNsaWVudC1zZWNyZXQtdmFsdWU=",
        b"grant_type=client_credentials",
    )
    assert expected == (call.kwargs["headers"]["Authorization"], call.kwargs["data"])


async def test_empty_204_and_delete_replies_are_none(genesys) -> None:
    """An empty body is legitimate where the API sends none."""
    genesys.grant()
    genesys.mock.post(genesys.api + "/api/v2/a", status=204, body=b"")
    genesys.mock.delete(genesys.api + "/api/v2/b", status=200, body=b"")
    client = genesys.client()

    actual = (
        await client.request("POST", "/api/v2/a"),
        await client.request("DELETE", "/api/v2/b"),
    )

    assert actual == (None, None)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"message": "Bad filter", "code": "bad.request"}, QueryRejectedError),
        (
            400,
            {
                "message": "Pagination may not exceed 100000 results.",
                "code": "bad.request",
            },
            PaginationCapError,
        ),
        (
            400,
            {
                "message": "You must specify a search interval as part of your query "
                "that does not exceed 7 days",
                "code": "bad.request",
            },
            IntervalTooLongError,
        ),
        (
            403,
            {"message": "Denied", "code": "missing.permissions"},
            PermissionDeniedError,
        ),
        (404, {"message": "Not found", "code": "not.found"}, QueryRejectedError),
        (
            413,
            {"message": "Maximum bytes: 512000", "code": "request.entity.too.large"},
            RequestTooLargeError,
        ),
        (501, {"message": "Not implemented", "code": "not.implemented"}, ServerError),
    ],
)
async def test_errors_that_no_retry_cures_are_raised_after_one_request(
    genesys, status: int, body: dict[str, str], expected: type[Exception]
) -> None:
    """400, 403, 404, 413 and 501 are never retried, and carry the interval."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=status, payload=body, repeat=True)
    client = genesys.client()

    with pytest.raises(expected) as caught:
        await client.request(
            "POST", genesys.query_path, json={}, interval=genesys.interval
        )

    actual = (genesys.query_calls(), caught.value.interval, dict(client.stats.retries))
    assert actual == (1, genesys.interval, {})


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (rate_limited(), "429"),
        ({"status": 500}, "500"),
        ({"status": 502, "body": "<html>Bad gateway</html>"}, "502"),
        ({"status": 503, "payload": {"code": "service.unavailable"}}, "503"),
        ({"status": 504, "payload": {"code": "request.timeout"}}, "504"),
        ({"exception": aiohttp.ServerDisconnectedError()}, "connection"),
        ({"exception": aiohttp.ClientConnectionError("reset")}, "connection"),
        ({"exception": aiohttp.ClientPayloadError("truncated")}, "connection"),
        ({"exception": asyncio.TimeoutError()}, "timeout"),
        ({"status": 200, "body": b'{"conversations": [{"conv'}, "malformed"),
        ({"status": 200, "body": b"<html>maintenance</html>"}, "malformed"),
        ({"status": 200, "body": b""}, "malformed"),
    ],
)
async def test_transient_failures_are_retried_until_success(
    genesys, failure: dict[str, object], reason: str
) -> None:
    """Two failures, then the reply: the caller sees only the reply."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, **failure)
    genesys.mock.post(genesys.query_url, **failure)
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    result = await client.request("POST", genesys.query_path, json={})

    expected = (OK, 3, {reason: 2})
    assert expected == (result, genesys.query_calls(), dict(client.stats.retries))


async def test_give_up_after_max_attempts_reraises_the_last_real_error(genesys) -> None:
    """Three tries allowed: the third failure (a 503) is what the caller gets."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=500)
    genesys.mock.post(genesys.query_url, status=502)
    genesys.mock.post(
        genesys.query_url, status=503, payload={"code": "service.unavailable"}
    )
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy.immediate(max_attempts=3))

    with pytest.raises(ServerError) as caught:
        await client.request("POST", genesys.query_path, json={}, interval="a/b")

    actual = (
        caught.value.status,
        caught.value.code,
        caught.value.interval,
        genesys.query_calls(),
    )
    assert actual == (503, "service.unavailable", "a/b", 3)


async def test_give_up_when_the_next_wait_would_pass_max_time(genesys) -> None:
    """With 10 s allowed and 6 s asked twice, the second 429 is final."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, **rate_limited("6"), repeat=True)
    policy = RetryPolicy(max_attempts=100, max_time=10.0)
    client = genesys.client(retry=policy)

    with pytest.raises(RateLimitedError):
        await client.request("POST", genesys.query_path, json={})

    expected = (2, [6.0])
    assert expected == (genesys.query_calls(), [s for s in genesys.vtime.sleeps if s])


async def test_connection_errors_still_failing_become_network_error(genesys) -> None:
    """The caller sees our NetworkError naming the aiohttp error, not chained to it."""
    genesys.grant()
    genesys.mock.post(
        genesys.query_url, exception=aiohttp.ServerDisconnectedError(), repeat=True
    )
    client = genesys.client(retry=RetryPolicy.immediate(max_attempts=4))

    with pytest.raises(NetworkError) as caught:
        await client.request("POST", genesys.query_path, json={}, interval="a/b")

    actual = (
        "ServerDisconnectedError" in str(caught.value),
        caught.value.__cause__,
        caught.value.__context__,
        caught.value.interval,
        genesys.query_calls(),
        client.stats.retries["connection"],
    )
    assert actual == (True, None, None, "a/b", 4, 3)


async def test_malformed_bodies_still_failing_become_server_error(genesys) -> None:
    """A 200 that never holds JSON is the server's fault, after retries."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=200, body=b"<html>", repeat=True)
    client = genesys.client(retry=RetryPolicy.immediate(max_attempts=2))

    with pytest.raises(ServerError, match="not valid JSON"):
        await client.request("POST", genesys.query_path, json={})

    assert client.stats.retries["malformed"] == 1


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        (rate_limited("7"), 7.0),
        (rate_limited(), 12.0),
    ],
)
async def test_429_waits_as_long_as_the_server_asks(
    genesys, failure: dict[str, object], expected_wait: float
) -> None:
    """Retry-After wins; without it, the seconds in the message."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, **failure)
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy())

    await client.request("POST", genesys.query_path, json={})

    assert [s for s in genesys.vtime.sleeps if s] == [expected_wait]


async def test_429_honours_a_retry_after_http_date(genesys) -> None:
    """An HTTP date means: wait until then."""
    when = datetime.now(timezone.utc) + timedelta(seconds=40)
    genesys.grant()
    genesys.mock.post(
        genesys.query_url, **rate_limited(format_datetime(when, usegmt=True))
    )
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy())

    await client.request("POST", genesys.query_path, json={})

    (wait,) = [s for s in genesys.vtime.sleeps if s]
    assert 38.0 <= wait <= 40.0


async def test_429_without_any_delay_backs_off(genesys) -> None:
    """No header, no seconds in the message: exponential backoff with jitter."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=429, payload={"message": "slow down"})
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy(initial_backoff=4.0))

    await client.request("POST", genesys.query_path, json={})

    assert all(0.0 <= s <= 4.0 for s in genesys.vtime.sleeps)
    assert client.stats.pauses == 1


async def test_backoff_doubles_and_is_capped(genesys) -> None:
    """Each wait stays under initial * 2**(n-1), and never above max_backoff."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=503, repeat=True)
    policy = RetryPolicy(max_attempts=6, initial_backoff=1.0, max_backoff=5.0)
    client = genesys.client(retry=policy)

    with pytest.raises(ServerError):
        await client.request("POST", genesys.query_path, json={})

    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0]
    actual = [
        0.0 <= s <= c for s, c in zip(genesys.vtime.sleeps, ceilings, strict=True)
    ]
    assert actual == [True] * 5


async def test_wait_scale_multiplies_the_servers_delay(genesys) -> None:
    """Half scale, half the wait; zero scale, no wait at all."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, **rate_limited("10"))
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client(retry=RetryPolicy(wait_scale=0.5))

    await client.request("POST", genesys.query_path, json={})

    assert [s for s in genesys.vtime.sleeps if s] == [5.0]


async def test_immediate_policy_never_waits(genesys) -> None:
    """RetryPolicy.immediate() turns every wait into zero."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, **rate_limited("30"))
    genesys.mock.post(genesys.query_url, status=503)
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    await client.request("POST", genesys.query_path, json={})

    assert [s for s in genesys.vtime.sleeps if s] == []


async def test_a_429_pauses_every_request_of_the_client(genesys) -> None:
    """Request B starts after A met a 429, and is sent only when the pause ends."""
    genesys.grant()
    a_url, b_url = genesys.api + "/api/v2/a", genesys.api + "/api/v2/b"
    a_limited = asyncio.Event()
    b_sent_at: list[float] = []

    def on_a(url: object, **kwargs: object) -> None:
        a_limited.set()

    genesys.mock.get(a_url, **rate_limited("30"), callback=on_a)
    genesys.mock.get(a_url, payload={})
    genesys.mock.get(
        b_url,
        payload={},
        callback=lambda url, **kw: b_sent_at.append(genesys.vtime.now),
    )
    client = genesys.client(retry=RetryPolicy(), rate_limit=100, rate_period=1.0)
    start = genesys.vtime.now

    async def b() -> None:
        await a_limited.wait()
        await client.request("GET", "/api/v2/b")

    await asyncio.gather(client.request("GET", "/api/v2/a"), b())

    # Both wake at +30 s; whichever leaves second waits one 10 ms rate slot.
    (sent,) = b_sent_at
    expected = (True, 1, [0.01, 30.0, 30.0])
    actual = (
        start + 30.0 <= sent <= start + 30.01,
        client.stats.pauses,
        sorted(round(s, 6) for s in genesys.vtime.sleeps if s),
    )
    assert expected == actual


async def test_requests_held_by_a_pause_are_released_one_slot_apart(genesys) -> None:
    """After a 429, held requests leave at the steady rate, not in a burst."""
    genesys.grant()
    limited = asyncio.Event()
    sent_at: list[float] = []

    def on_429(url: object, **kwargs: object) -> None:
        limited.set()

    genesys.mock.get(genesys.api + "/api/v2/a", **rate_limited("30"), callback=on_429)
    genesys.mock.get(
        genesys.api + "/api/v2/a",
        payload={},
        repeat=True,
        callback=lambda url, **kw: sent_at.append(genesys.vtime.now),
    )
    client = genesys.client(retry=RetryPolicy(), rate_limit=100, rate_period=1.0)
    start = genesys.vtime.now

    async def after_the_429() -> None:
        await limited.wait()
        await client.request("GET", "/api/v2/a")

    await asyncio.gather(
        client.request("GET", "/api/v2/a"), after_the_429(), after_the_429()
    )

    expected = [start + 30.0, start + 30.01, start + 30.02]
    assert expected == [pytest.approx(t) for t in sorted(sent_at)]


async def test_rate_limit_headers_hold_requests_before_any_429(genesys) -> None:
    """An exhausted bucket (count == allowed) holds the next request one slot."""
    genesys.grant()
    headers = {
        "inin-ratelimit-count": "300",
        "inin-ratelimit-allowed": "300",
        "inin-ratelimit-reset": "60",
    }
    genesys.mock.get(genesys.api + "/api/v2/a", payload={}, headers=headers)
    genesys.mock.get(genesys.api + "/api/v2/b", payload={})
    client = genesys.client(retry=RetryPolicy())

    await client.request("GET", "/api/v2/a")
    await client.request("GET", "/api/v2/b")

    expected = ([0.2], 1, {})
    actual = (
        [round(s, 6) for s in genesys.vtime.sleeps if s],
        client.stats.pauses,
        dict(client.stats.retries),
    )
    assert expected == actual


async def test_rate_limit_headers_with_room_left_do_not_hold(genesys) -> None:
    """Below the limit nothing waits."""
    genesys.grant()
    headers = {
        "inin-ratelimit-count": "299",
        "inin-ratelimit-allowed": "300",
        "inin-ratelimit-reset": "60",
    }
    genesys.mock.get(genesys.api + "/api/v2/a", payload={}, headers=headers)
    genesys.mock.get(genesys.api + "/api/v2/b", payload={})
    client = genesys.client(retry=RetryPolicy())

    await client.request("GET", "/api/v2/a")
    await client.request("GET", "/api/v2/b")

    assert [s for s in genesys.vtime.sleeps if s] == []


def test_the_limiter_spaces_requests_beyond_the_rate(virtual_genesys) -> None:
    """Token + 3 calls at two per second, burst 1: sent at 0, 0.5, 1.0, 1.5 s."""
    genesys = virtual_genesys
    genesys.grant()
    sent_at: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        genesys.mock.get(
            genesys.api + "/api/v2/a",
            payload={},
            repeat=True,
            callback=lambda url, **kw: sent_at.append(loop.time()),
        )
        client = genesys.client(rate_limit=2, rate_period=1.0, rate_burst=1)
        for _ in range(3):
            await client.request("GET", "/api/v2/a")

    genesys.run(main)

    expected = [0.5, 1.0, 1.5]
    assert expected == [pytest.approx(t, abs=1e-3) for t in sent_at]


def test_the_limiter_keeps_two_percent_headroom_by_default() -> None:
    """Requests leave at 98% of the limit unless told to use all of it."""
    default = GenesysClient("id", "secret", region="us-east-1", rate_limit=300)
    full = GenesysClient(
        "id", "secret", region="us-east-1", rate_limit=300, rate_headroom=0
    )

    assert (default._http._limiter.limit, full._http._limiter.limit) == (
        pytest.approx(294),
        300,
    )


def test_headroom_of_the_whole_limit_is_refused() -> None:
    """A headroom of 1 would send nothing at all."""
    with pytest.raises(ConfigurationError, match="rate_headroom"):
        GenesysClient("id", "secret", region="us-east-1", rate_headroom=1)


async def test_hundred_concurrent_requests_cause_one_token_request(genesys) -> None:
    """Single flight: everyone waits on the one grant in progress."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, payload=OK, repeat=True)
    client = genesys.client()

    await asyncio.gather(
        *(client.request("POST", genesys.query_path, json={}) for _ in range(100))
    )

    expected = (1, 100, 1)
    assert expected == (
        genesys.token_calls(),
        genesys.query_calls(),
        client.stats.token_requests,
    )


async def test_an_expiring_token_is_refreshed_once_for_a_hundred_requests(
    genesys,
) -> None:
    """Near expiry, the next burst shares one refresh and uses the new token."""
    genesys.grant(expires_in=600)
    genesys.grant(token="second-token-0002", expires_in=600)
    genesys.mock.post(genesys.query_url, payload=OK, repeat=True)
    client = genesys.client()
    await client.request("POST", genesys.query_path, json={})
    genesys.vtime.now += 541  # inside the 60 s margin before expiry

    await asyncio.gather(
        *(client.request("POST", genesys.query_path, json={}) for _ in range(100))
    )

    last = genesys.calls("POST", genesys.query_url)[-1]
    expected = (2, "Bearer second-token-0002")
    assert expected == (genesys.token_calls(), last.kwargs["headers"]["Authorization"])


async def test_a_fresh_token_is_reused(genesys) -> None:
    """Well before expiry, no new grant is asked for."""
    genesys.grant(expires_in=600)
    genesys.mock.post(genesys.query_url, payload=OK, repeat=True)
    client = genesys.client()
    await client.request("POST", genesys.query_path, json={})
    genesys.vtime.now += 500

    await client.request("POST", genesys.query_path, json={})

    assert genesys.token_calls() == 1


async def test_a_401_refreshes_the_token_and_replays_once(genesys) -> None:
    """A revoked token costs one new grant and one replay, then succeeds."""
    genesys.grant()
    genesys.grant(token="second-token-0002")
    genesys.mock.post(
        genesys.query_url,
        status=401,
        payload={"code": "bad.credentials", "message": "x"},
    )
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    result = await client.request("POST", genesys.query_path, json={})

    replay = genesys.calls("POST", genesys.query_url)[-1]
    expected = (OK, 2, 2, "Bearer second-token-0002")
    actual = (
        result,
        genesys.token_calls(),
        genesys.query_calls(),
        replay.kwargs["headers"]["Authorization"],
    )
    assert expected == actual


async def test_a_second_401_is_an_authentication_error(genesys) -> None:
    """A new token refused again is not worth a third try."""
    genesys.grant()
    genesys.grant(token="second-token-0002")
    genesys.mock.post(
        genesys.query_url,
        status=401,
        payload={"code": "credentials.expired", "message": "Expired"},
        repeat=True,
    )
    client = genesys.client()

    with pytest.raises(AuthenticationError) as caught:
        await client.request("POST", genesys.query_path, json={})

    expected = (401, "credentials.expired", 2, 2)
    actual = (
        caught.value.status,
        caught.value.code,
        genesys.token_calls(),
        genesys.query_calls(),
    )
    assert expected == actual


async def test_a_refused_grant_is_not_retried(genesys) -> None:
    """Bad credentials stay bad: one grant, the server's description in the error."""
    genesys.mock.post(
        genesys.token_url,
        status=401,
        payload={"error": "invalid_client", "error_description": "client not found"},
        repeat=True,
    )
    client = genesys.client()

    with pytest.raises(AuthenticationError, match="client not found"):
        await client.request("POST", genesys.query_path, json={})

    assert (genesys.token_calls(), genesys.query_calls()) == (1, 0)


async def test_a_grant_failing_transiently_is_retried(genesys) -> None:
    """Token requests ride the same retry policy as API calls."""
    genesys.mock.post(genesys.token_url, status=503)
    genesys.grant()
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    result = await client.request("POST", genesys.query_path, json={})

    expected = (OK, 2, {"503": 1})
    assert expected == (result, genesys.token_calls(), dict(client.stats.retries))


async def test_a_grant_reply_without_a_token_is_malformed(genesys) -> None:
    """A 200 without access_token is retried, then a server error."""
    genesys.mock.post(genesys.token_url, payload={"token_type": "bearer"}, repeat=True)
    client = genesys.client(retry=RetryPolicy.immediate(max_attempts=2))

    with pytest.raises(ServerError, match="access_token"):
        await client.request("POST", genesys.query_path, json={})

    assert client.stats.retries["malformed"] == 1


async def test_stats_count_requests_replies_and_tokens(genesys) -> None:
    """Every request is counted, the token grant included."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=503)
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    await client.request("POST", genesys.query_path, json={})

    stats = client.stats
    expected = (3, {200: 2, 503: 1}, 1, {"503": 1})
    assert expected == (
        stats.requests,
        dict(stats.responses),
        stats.token_requests,
        dict(stats.retries),
    )


async def test_retries_are_logged_with_reason_attempt_and_wait(genesys, caplog) -> None:
    """One warning line per retry on the genesys_async logger."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, status=503)
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()
    caplog.set_level(logging.INFO, logger="genesys_async")

    await client.request("POST", genesys.query_path, json={})

    retries = [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]
    expected = [
        f"Retrying POST {genesys.query_path} after 503 "
        "(attempt 1 of 10 failed), waiting 0.00 s"
    ]
    assert expected == retries


async def test_no_secret_or_token_in_logs_errors_or_reprs(genesys, caplog) -> None:
    """With DEBUG on, through a 401, retries and a refusal echoing the secret."""
    caplog.set_level(logging.DEBUG)
    genesys.grant()
    genesys.grant(token="second-token-0002")
    genesys.mock.post(
        genesys.query_url, status=401, payload={"code": "bad.credentials"}
    )
    genesys.mock.post(genesys.query_url, status=503)
    genesys.mock.post(
        genesys.query_url,
        status=400,
        payload={"message": f"bad token second-token-0002 for {genesys.secret}"},
    )
    client = genesys.client()

    with pytest.raises(QueryRejectedError) as caught:
        await client.request("POST", genesys.query_path, json={})

    texts = [r.getMessage() for r in caplog.records]
    texts += [str(caught.value), repr(caught.value), repr(client), str(client)]
    texts += [repr(client.__dict__), repr(client._tokens.current())]
    leaked = [
        t
        for t in texts
        for secret in (genesys.secret, genesys.token, "second-token-0002")
        if secret in t
    ]
    assert leaked == []
    assert caught.value.message == "bad token *** for ***"


def test_from_env_reads_the_genesys_variables() -> None:
    """The same variables the Genesys CLI and Terraform provider read."""
    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret",
        "GENESYSCLOUD_REGION": "eu-west-1",
    }

    client = GenesysClient.from_env(environ)

    assert (client.api_url, client.login_url) == (
        "https://api.mypurecloud.ie",
        "https://login.mypurecloud.ie",
    )


def test_from_env_arguments_override_the_environment() -> None:
    """An explicit URL beats the region variable; other kwargs pass through."""
    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret",
        "GENESYSCLOUD_REGION": "eu-west-1",
    }

    client = GenesysClient.from_env(environ, api_url="http://127.0.0.1:9", rate_limit=5)

    assert (client.api_url, client.rate_limit) == ("http://127.0.0.1:9", 5)


def test_from_env_names_every_missing_variable() -> None:
    """Nothing set: the error lists all three variables."""
    with pytest.raises(ConfigurationError) as caught:
        GenesysClient.from_env({})

    for name in ("OAUTHCLIENT_ID", "OAUTHCLIENT_SECRET", "GENESYSCLOUD_REGION"):
        assert name in str(caught.value)


def test_plain_http_to_a_remote_host_is_refused_by_the_client() -> None:
    """The constructor refuses before any credential could be sent."""
    with pytest.raises(ConfigurationError, match="plain http"):
        GenesysClient("id", "secret", api_url="http://api.mypurecloud.com")


def test_missing_credentials_are_refused() -> None:
    """An empty secret is a configuration error, not a 401 later."""
    with pytest.raises(ConfigurationError, match="client_secret"):
        GenesysClient("id", "", region="us-east-1")


def test_repr_shows_where_but_not_the_secret() -> None:
    """The repr is useful in a traceback and safe in a log."""
    client = GenesysClient("id", "hunter2-secret", region="us-east-1")

    expected = (
        "GenesysClient(client_id='id', api_url='https://api.mypurecloud.com', "
        "rate_limit=300/60s)"
    )
    assert expected == repr(client)


@pytest.mark.parametrize(
    "settings",
    [{"max_attempts": 0}, {"max_time": -1.0}, {"wait_scale": -0.5}],
)
def test_a_nonsensical_retry_policy_is_refused(settings: dict[str, float]) -> None:
    """Zero tries or negative times are configuration errors, not silent hangs."""
    with pytest.raises(ConfigurationError):
        RetryPolicy(**settings)


def _request_info(url: str, authorization: str) -> aiohttp.RequestInfo:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": authorization}))
    return aiohttp.RequestInfo(URL(url), "POST", headers, URL(url))


def _chain(error: BaseException | None) -> list[BaseException]:
    """Return the error and every exception reachable by __cause__/__context__."""
    seen: list[BaseException] = []
    todo = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def _texts(error: BaseException) -> list[str]:
    chain = _chain(error)
    return [str(e) for e in chain] + [repr(e) for e in chain]


async def test_a_reply_that_is_not_http_is_retried_as_a_connection_failure(
    genesys,
) -> None:
    """A bad status line (ClientResponseError) twice, then the reply."""
    genesys.grant()
    bad = aiohttp.ClientResponseError(
        _request_info(genesys.query_url, f"Bearer {genesys.token}"),
        (),
        status=400,
        message="Invalid status line",
    )
    genesys.mock.post(genesys.query_url, exception=bad)
    genesys.mock.post(genesys.query_url, exception=bad)
    genesys.mock.post(genesys.query_url, payload=OK)
    client = genesys.client()

    result = await client.request("POST", genesys.query_path, json={})

    assert (result, dict(client.stats.retries)) == (OK, {"connection": 2})


async def test_a_malformed_reply_error_holds_no_token_in_its_chain(genesys) -> None:
    """aiohttp's request_info holds the bearer header; our error keeps none of it."""
    genesys.grant()
    bad = aiohttp.ClientResponseError(
        _request_info(genesys.query_url, f"Bearer {genesys.token}"),
        (),
        status=400,
        message="Invalid status line",
    )
    genesys.mock.post(genesys.query_url, exception=bad, repeat=True)
    client = genesys.client(retry=RetryPolicy.immediate(max_attempts=2))

    with pytest.raises(NetworkError) as caught:
        await client.request("POST", genesys.query_path, json={})

    leaked = [t for t in _texts(caught.value) if genesys.token in t]
    assert ("Invalid status line" in str(caught.value), leaked) == (True, [])


@pytest.mark.parametrize(
    "failure",
    [
        aiohttp.ClientPayloadError("Response payload is not completed"),
        aiohttp.ServerDisconnectedError(),
        "response-error",
    ],
)
async def test_a_failed_grant_error_holds_no_secret_in_its_chain(
    genesys, failure: object
) -> None:
    """On /oauth/token the Basic header is base64 of the secret: never kept."""
    basic = "Basic Y2xpZW50LWlkLTE6czNjcjN0LWNsaWVudC1zZWNyZXQtdmFsdWU="
    if failure == "response-error":
        failure = aiohttp.ClientResponseError(
            _request_info(genesys.token_url, basic), (), status=400, message="bad"
        )
    genesys.mock.post(genesys.token_url, exception=failure, repeat=True)
    client = genesys.client(retry=RetryPolicy.immediate(max_attempts=2))

    with pytest.raises(NetworkError) as caught:
        await client.request("POST", genesys.query_path, json={})

    secrets = (genesys.secret, basic.removeprefix("Basic "))
    leaked = [t for t in _texts(caught.value) for s in secrets if s in t]
    assert leaked == []


@pytest.mark.parametrize(
    "failure",
    [
        aiohttp.ClientConnectorCertificateError(
            ConnectionKey(
                "api.mypurecloud.com", 443, True, True, None, None, None, None
            ),
            ssl.SSLCertVerificationError("certificate verify failed"),
        ),
        aiohttp.ClientConnectorSSLError(
            ConnectionKey(
                "api.mypurecloud.com", 443, True, True, None, None, None, None
            ),
            ssl.SSLError("wrong version number"),
        ),
    ],
    ids=["certificate", "handshake"],
)
async def test_tls_failures_are_raised_at_once(genesys, failure: Exception) -> None:
    """A certificate no retry will change: one try, an error that says TLS."""
    genesys.grant()
    genesys.mock.post(genesys.query_url, exception=failure, repeat=True)
    client = genesys.client()

    with pytest.raises(NetworkError, match="TLS") as caught:
        await client.request("POST", genesys.query_path, json={})

    expected = (1, {}, None)
    actual = (
        genesys.query_calls(),
        dict(client.stats.retries),
        caught.value.__cause__,
    )
    assert expected == actual


async def test_every_token_of_the_session_is_redacted(genesys) -> None:
    """A server echoing the first, replaced token in an error shows ***."""
    genesys.grant()
    genesys.grant(token="second-token-0002")
    genesys.mock.post(
        genesys.query_url, status=401, payload={"code": "bad.credentials"}
    )
    genesys.mock.post(genesys.query_url, payload=OK)
    genesys.mock.post(
        genesys.query_url,
        status=400,
        payload={"message": f"token {genesys.token} is no longer valid"},
    )
    client = genesys.client()
    await client.request("POST", genesys.query_path, json={})

    with pytest.raises(QueryRejectedError) as caught:
        await client.request("POST", genesys.query_path, json={})

    assert caught.value.message == "token *** is no longer valid"
