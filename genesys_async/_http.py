"""HTTP for the client: one session, one shared limiter, one retry policy.

Everything that can go wrong on the wire is translated into the tree of
`_errors` here, and only here: HTTP statuses in `translate_status`, aiohttp
exceptions in `HttpCore.send`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from ._errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    GenesysError,
    IntervalTooLongError,
    NetworkError,
    PaginationCapError,
    PermissionDeniedError,
    QueryRejectedError,
    RateLimitedError,
    RequestTooLargeError,
    ServerError,
    is_interval_too_long,
    is_pagination_cap,
)

__all__ = [
    "ClientStats",
    "HttpCore",
    "RateLimiter",
    "Reply",
    "Requester",
    "RetryPolicy",
    "Sleep",
    "is_rate_limit",
    "parse_retry_after",
    "translate_status",
]

logger = logging.getLogger("genesys_async")


class Requester(Protocol):
    """One authenticated, rate-limited, retried API call.

    What the export engines need of a client; `GenesysClient` is one, and a
    test can pass anything else that answers the same way.
    """

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, str | int] | None = None,
        interval: str | None = None,
    ) -> Any: ...


T = TypeVar("T")

#: Waits go through this, so tests can record them instead of sleeping.
Sleep = Callable[[float], Awaitable[None]]

# 5xx that a later try can cure; 501 and the rest say the call itself is wrong.
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
_DETAILS_PERMISSION = "analytics:conversationDetail:view"
_AGGREGATES_PERMISSION = "analytics:conversationAggregate:view"
# "Retry the request in [30] seconds", "... in 30 seconds".
_MESSAGE_DELAY_RE = re.compile(r"\[?(\d+(?:\.\d+)?)\]?\s*seconds?\b", re.IGNORECASE)
# The longest delay a server may ask for and be believed. Genesys asks for
# seconds to a minute; "inf" or "1e9" is a broken header, not a plan, and
# waiting it out would hang the client.
_MAX_SERVER_DELAY = 86_400.0
# The codes of the request-rate 429, which every request of the client shares.
# A 429 for another limit (such as the jobs API's concurrent jobs) is not cured
# by holding the others.
_RATE_LIMIT_CODES = frozenset({"too.many.requests", "too.many.requests.retry.after"})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one request is retried; the one statement of the policy.

    Retried: 429, 500, 502, 503, 504, dropped connections, timeouts and 2xx
    replies whose body is not the JSON promised. Never retried: every other
    status (400, 403, 404, 413, 501, ...); a 401 is replayed once with a new
    token, outside this count.

    Args:
        max_attempts: tries per request, the first one included.
        max_time: seconds per request across all its tries and waits; a retry
            whose wait would pass it is not made.
        initial_backoff: seconds before the first retry when the server names
            no delay; doubled each try, with full jitter.
        max_backoff: the longest backoff in seconds (a server's own delay may
            be longer and is honoured).
        wait_scale: multiplies every wait, backoff and server-given alike;
            0 never waits (for tests).
    """

    max_attempts: int = 10
    max_time: float = 900.0
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    wait_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1.")
        if min(self.max_time, self.initial_backoff, self.max_backoff) < 0:
            raise ConfigurationError("Retry times must not be negative.")
        if self.wait_scale < 0:
            raise ConfigurationError("wait_scale must not be negative.")

    @classmethod
    def immediate(cls, max_attempts: int = 10) -> RetryPolicy:
        """Return a policy that retries without ever waiting, for tests."""
        return cls(max_attempts=max_attempts, wait_scale=0.0)

    def backoff(self, attempt: int) -> float:
        """Return the unscaled wait after failed try number `attempt` (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return random.uniform(0.0, ceiling)


@dataclass
class ClientStats:
    """Live counters of one client, read by the engine for reports and progress.

    Args:
        requests: HTTP requests sent, token requests included.
        responses: replies by HTTP status.
        retries: retries by reason: "429", "500", "502", "503", "504",
            "connection", "timeout", "malformed".
        token_requests: token grants requested.
        pauses: shared holds of every request: begun by a rate-limit 429, or
            by inin-ratelimit-* headers showing the server's bucket used up.
    """

    requests: int = 0
    responses: collections.Counter[int] = field(default_factory=collections.Counter)
    retries: collections.Counter[str] = field(default_factory=collections.Counter)
    token_requests: int = 0
    pauses: int = 0


@dataclass(frozen=True)
class Reply:
    """One HTTP reply, read whole.

    Args:
        status: the HTTP status.
        headers: the reply headers (case-insensitive).
        body: the raw body.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


class _Transient(Exception):
    """A failure the retry policy may cure; carries the error to raise if not.

    Args:
        error: the error raised once retries are exhausted.
        reason: the retry reason counted in ClientStats.retries.
        delay: seconds the server asked to wait; None lets backoff decide.
        shared: the failure is the request-rate limit, which every request of
            the client meets: all of them pause, not only this one.
        cause: the `__cause__` of `error` when raised; None keeps none (an
            aiohttp error holds the request headers, bearer token included).
    """

    def __init__(
        self,
        error: GenesysError,
        reason: str,
        delay: float | None = None,
        *,
        shared: bool = False,
        cause: BaseException | None = None,
    ):
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.delay = delay
        self.shared = shared
        self.cause = cause
        # Set by HttpCore once the try number is known: the scaled wait.
        self.wait = 0.0


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Return the seconds a Retry-After header asks to wait.

    Args:
        value: the header, in seconds or as an HTTP date; None when absent.
        now: the current UTC time for an HTTP date; None reads the clock.

    Returns:
        Seconds, never negative; None when absent, unreadable, not finite or
        longer than a day.
    """
    if not value:
        return None
    try:
        return _believable(float(value))
    except ValueError:
        pass

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return _believable((when - now).total_seconds())


def _believable(seconds: float) -> float | None:
    """Return a server's delay, at least 0; None when it is no usable delay."""
    if not math.isfinite(seconds) or seconds > _MAX_SERVER_DELAY:
        return None
    return max(0.0, seconds)


def _delay_in_message(message: str) -> float | None:
    match = _MESSAGE_DELAY_RE.search(message)
    return _believable(float(match.group(1))) if match else None


def is_rate_limit(error: ApiError) -> bool:
    """Tell whether a 429 is the request-rate limit, shared by every request.

    The message decides when it names the limit: "Rate limit exceeded ..." is
    the rate limit, one about concurrent jobs is not (the simulator, like the
    jobs API, sends that one with code too.many.requests). Otherwise the code
    decides: too.many.requests(.retry.after) is the rate limit, another code
    is not. A 429 with no code (a proxy's) is taken for the rate limit.

    Args:
        error: the error of a 429 reply.
    """
    text = error.message.lower()
    if "rate limit" in text:
        return True
    if "concurrent" in text:
        return False
    return error.code is None or error.code in _RATE_LIMIT_CODES


def _error_fields(reply: Reply) -> tuple[str, str | None, str | None]:
    """Return (message, code, contextId) from an ErrorBody, an OAuth body or text."""
    try:
        body = orjson.loads(reply.body) if reply.body else None
    except orjson.JSONDecodeError:
        body = None
    context_id = reply.headers.get("inin-correlation-id")

    if isinstance(body, dict):
        message = (
            body.get("message")
            or body.get("error_description")
            or body.get("description")
            or body.get("error")
            or ""
        )
        code = body.get("code") or body.get("error")
        context_id = body.get("contextId") or context_id
        return str(message), (str(code) if code else None), context_id

    text = reply.body[:200].decode("utf-8", "replace").strip()
    if text.startswith("<"):
        text = "the reply was HTML, not a Genesys error body"
    return text or "the reply had no body", None, context_id


def _permission_for(path: str) -> str | None:
    """Name the permission a 403 on `path` is about, when the path says it."""
    if "/analytics/conversations/aggregates" in path:
        return _AGGREGATES_PERMISSION
    if "/analytics/conversations/details" in path:
        return _DETAILS_PERMISSION
    return None


def translate_status(
    reply: Reply,
    *,
    path: str,
    interval: str | None = None,
    redact: Callable[[str], str] = str,
) -> ApiError:
    """Return the error of the tree that an HTTP error reply stands for.

    Args:
        reply: the reply, status 300 or more.
        path: the request path, which names the permission behind a 403 and
            tells a refused token grant from a refused query.
        interval: the query's ISO-8601 interval; None when not a query.
        redact: removes secrets and tokens from the server's text.

    Returns:
        An instance of a strict subclass of ApiError, never ApiError itself.
    """
    message, code, context_id = _error_fields(reply)
    message = redact(message)
    status = reply.status
    common: dict[str, Any] = {
        "code": code,
        "context_id": context_id,
        "interval": interval,
    }

    if path.endswith("/oauth/token") and status in (400, 401, 403):
        return AuthenticationError(status, message, **common)
    if status == 401:
        return AuthenticationError(status, message, **common)
    if status == 403:
        permission_hint = _permission_for(path)
        error = PermissionDeniedError(status, message, **common)
        if error.permission is None and permission_hint is not None:
            error = PermissionDeniedError(
                status, message, permission=permission_hint, **common
            )
        return error
    if status == 413:
        return RequestTooLargeError(status, message, **common)
    if status == 429:
        return RateLimitedError(status, message, **common)
    if status == 400 and is_pagination_cap(message):
        return PaginationCapError(status, message, **common)
    if status == 400 and is_interval_too_long(message):
        return IntervalTooLongError(status, message, **common)
    if 400 <= status < 500:
        return QueryRejectedError(status, message, **common)

    # 5xx, and the 1xx/3xx a JSON API never sends (redirects are not followed).
    return ServerError(status, message, **common)


async def _real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def default_burst(limit: float, period: float) -> float:
    """Return the default burst: one second's worth of the rate, at least 1.

    Args:
        limit: requests per `period`.
        period: seconds.
    """
    return max(1.0, min(limit, limit / period))


class RateLimiter:
    """At most `limit` requests in any window of `period` seconds, `burst` at once.

    The pace is aiolimiter's leaky bucket of `burst` places, refilled at
    `limit / period`. The bucket alone would let `burst + limit` through in one
    period, which a server counting fixed windows answers with 429s, so a
    record of the last `limit` send times also caps every window. Both run on
    the event loop's clock, so tests drive them on a virtual-time loop.

    Args:
        limit: requests per `period`; may be fractional (the bucket's rate),
            the window holds `floor(limit)` (at least 1).
        period: seconds of the window.
        burst: requests that may leave at once after an idle spell; None is
            one second's worth of the rate (at least 1, at most `limit`).
    """

    def __init__(self, limit: float, period: float, burst: float | None) -> None:
        self._burst_asked = burst
        self.period = period
        # When the last `window` requests left (loop clock), oldest first.
        self._sent: collections.deque[float] = collections.deque()
        self.set_limit(limit)

    def set_limit(self, limit: float) -> None:
        """Pace at `limit` per period from now on.

        Args:
            limit: requests per period, positive.
        """
        self.limit = limit
        asked = self._burst_asked
        burst = default_burst(limit, self.period) if asked is None else asked
        self.burst = max(1.0, min(burst, limit))
        # Requests already waiting in the old bucket keep their places there.
        self._bucket = AsyncLimiter(self.burst, self.burst * self.period / limit)
        self._window = max(1, math.floor(limit))
        self._sent = collections.deque(self._sent, maxlen=self._window)

    async def acquire(self) -> None:
        """Wait until this request may leave."""
        await self._bucket.acquire()

        loop = asyncio.get_running_loop()
        while len(self._sent) == self._window:
            # The oldest of the last `window` sends must have left the window;
            # checked again on waking, since others may have gone meanwhile.
            wait = self._sent[0] + self.period - loop.time()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self._sent.append(loop.time())


class HttpCore:
    """One session, one limiter and one retry policy shared by every request.

    Args:
        retry: the retry policy.
        rate_limit: the server's limit, requests per `rate_period`, token
            requests included.
        rate_period: seconds of the rate window.
        rate_headroom: the share of the limit left unused (0.02: 98% of it).
        rate_burst: requests that may leave at once after an idle spell; None
            is one second's worth of the rate (at least 1).
        request_timeout: seconds one try may take, reading the body included.
        max_connections: open connections at most.
        redact: removes secrets and tokens from server text put into errors.
        sleep: awaits a number of seconds; None uses asyncio.sleep.
        clock: monotonic seconds; None uses time.monotonic.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        rate_limit: float,
        rate_period: float,
        rate_headroom: float = 0.0,
        rate_burst: float | None = None,
        request_timeout: float,
        max_connections: int,
        redact: Callable[[str], str] = str,
        sleep: Sleep | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.retry = retry
        self.stats = ClientStats()
        self._sleep = sleep or _real_sleep
        self._clock = clock or time.monotonic
        # The server's limit as last known: the configured one, lowered for
        # the rest of the session when a reply's inin-ratelimit-allowed is less.
        self._server_limit = rate_limit
        self._period = rate_period
        self._headroom = rate_headroom
        self._limiter = RateLimiter(
            rate_limit * (1 - rate_headroom), rate_period, rate_burst
        )
        self._timeout = request_timeout
        self._max_connections = max_connections
        self._redact = redact
        self._session: aiohttp.ClientSession | None = None
        # Clock reading before which no request of this client is sent: set by
        # a 429 or an exhausted rate bucket, awaited by every request, so one
        # worker's 429 pauses them all instead of each meeting its own.
        self._resume_at = 0.0
        # What began the current hold: a request whose max_time ends before
        # `_resume_at` gives up with it instead of waiting.
        self._hold_error: ApiError = RateLimitedError(429, "Rate limit exceeded")
        # Requests waiting for `_resume_at` right now.
        self._held = 0
        # Pauses begun so far: a request that queued at the limiter meanwhile
        # must wait for the new one too.
        self._pauses_begun = 0

    @property
    def _slot(self) -> float:
        """Seconds between two requests at the steady rate, scaled like waits."""
        return self._limiter.period / self._limiter.limit * self.retry.wait_scale

    def deadline(self) -> float:
        """Return the clock reading by which a request starting now must end."""
        return self._clock() + self.retry.max_time

    async def close(self) -> None:
        """Close the session; a later request opens a new one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
        return self._session

    def pause(self, seconds: float, why: str, error: ApiError) -> None:
        """Hold every request of this client for `seconds` from now (after a 429).

        Args:
            seconds: how long, already scaled by the policy; capped at the
                policy's max_time, which no request outlives.
            why: for the log line.
            error: the 429's error, raised by a request whose max_time would
                end during the pause.
        """
        seconds = min(seconds, self.retry.max_time)
        self.stats.pauses += 1
        if self._hold(seconds, error):
            logger.warning("Pausing every request for %.2f s: %s", seconds, why)

    def _hold(self, seconds: float, error: ApiError) -> bool:
        """Move the shared resume time `seconds` ahead; tell whether it moved."""
        resume_at = self._clock() + seconds
        if resume_at <= self._resume_at:
            return False
        self._resume_at = resume_at
        self._hold_error = error
        self._pauses_begun += 1
        return True

    async def _wait_for_resume(self, deadline: float, interval: str | None) -> None:
        if self._resume_at <= self._clock():
            return
        if self._resume_at > deadline:
            # Waiting would take this request past its max_time: give up now,
            # with the error that began the hold, as a last retry would.
            cause = self._hold_error
            raise RateLimitedError(
                cause.status,
                cause.message,
                code=cause.code,
                context_id=cause.context_id,
                interval=interval,
            )

        self._held += 1
        try:
            while (left := self._resume_at - self._clock()) > 0:
                await self._sleep(left)
        finally:
            self._held -= 1

        # Everyone held by a pause wakes at the same instant; let out together
        # they would all meet the same 429 again. Release them one rate slot
        # apart, the pace the configured rate allows once the bucket is empty.
        if self._held:
            self._resume_at = max(self._resume_at, self._clock() + self._slot)

    def _pace(self, headers: Mapping[str, str]) -> None:
        """Follow the inin-ratelimit-* headers: the server's limit and its bucket."""
        try:
            count = int(headers["inin-ratelimit-count"])
            allowed = int(headers["inin-ratelimit-allowed"])
            reset = float(headers["inin-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        if allowed <= 0:
            return
        if allowed < self._server_limit:
            self._lower_limit(allowed)
        if count < allowed or _believable(reset) is None or reset <= 0:
            return

        # The headers do not say whether the bucket refills steadily or all at
        # once at `reset`. Waiting one request's share of it is exact for a
        # steady bucket and costs at most one 429 (whose Retry-After then holds
        # everyone) for a window, where waiting all of `reset` could idle a
        # client that is merely at its limit for a whole minute.
        seconds = min(reset / allowed * self.retry.wait_scale, self.retry.max_time)
        error = RateLimitedError(
            429,
            f"The inin-ratelimit headers showed the rate bucket used up "
            f"({count}/{allowed}); requests are held for {seconds:.2f} s",
        )
        if self._hold(seconds, error):
            self.stats.pauses += 1
            logger.info(
                "Rate bucket used up (%d/%d): holding every request for %.2f s",
                count,
                allowed,
                seconds,
            )

    def _lower_limit(self, allowed: int) -> None:
        """Pace at the server's lower limit, with the headroom, from now on."""
        self._server_limit = allowed
        self._limiter.set_limit(allowed * (1 - self._headroom))
        logger.warning(
            "The server allows %d requests per %g s, fewer than configured: "
            "sending at most %.1f per %g s from now on",
            allowed,
            self._period,
            self._limiter.limit,
            self._period,
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        interval: str | None = None,
        token_request: bool = False,
        deadline: float | None = None,
    ) -> Reply:
        """Send one request once, after any shared pause and the limiter.

        Args:
            method: the HTTP method.
            url: the full URL.
            headers: request headers.
            data: the body; None sends none.
            params: query-string parameters; None sends none.
            interval: attached to errors; None when not a query.
            token_request: counts the request as a token grant.
            deadline: the clock reading by which the request must end (its
                max_time); None sets no bound.

        Raises:
            _Transient: wrapping NetworkError for dropped connections, replies
                that are not HTTP, and timeouts.
            NetworkError: TLS failures and other client-side failures, which
                no retry cures.
            RateLimitedError: a shared pause would outlast `deadline`.
        """
        deadline = math.inf if deadline is None else deadline
        await self._wait_for_resume(deadline, interval)
        pauses = self._pauses_begun
        await self._limiter.acquire()
        # A pause may have begun while this request queued at the limiter.
        if self._pauses_begun != pauses:
            await self._wait_for_resume(deadline, interval)

        self.stats.requests += 1
        if token_request:
            self.stats.token_requests += 1
        path = urlsplit(url).path
        started = self._clock()
        failure: _Transient | NetworkError | None = None
        try:
            async with self._open_session().request(
                method,
                url,
                headers=headers,
                data=data,
                params=params,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                reply = Reply(response.status, response.headers, body)
        except asyncio.TimeoutError:
            failure = _Transient(
                NetworkError(
                    f"{method} {path} timed out after {self._timeout:g} s",
                    interval=interval,
                ),
                "timeout",
            )
        except aiohttp.ClientError as exc:
            failure = self._network_failure(exc, method, path, interval)
        if failure is not None:
            # Raised here, outside the except block, and with no cause: the
            # aiohttp error's request_info holds the request headers, whose
            # Authorization is the bearer token (or, for a grant, the secret).
            raise failure

        self.stats.responses[reply.status] += 1
        logger.debug(
            "%s %s -> %d in %.0f ms",
            method,
            path,
            reply.status,
            (self._clock() - started) * 1000,
        )
        self._pace(reply.headers)
        return reply

    def _network_failure(
        self, exc: aiohttp.ClientError, method: str, path: str, interval: str | None
    ) -> _Transient | NetworkError:
        """Translate an aiohttp error into NetworkError, retryable or not."""
        # str(exc) of a ClientResponseError names the URL only; redacted all
        # the same, since a broken reply's status line is the server's text.
        what = self._redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, aiohttp.ClientSSLError):
            return NetworkError(
                f"{method} {path} failed its TLS handshake or certificate check, "
                f"which no retry cures: {what}",
                interval=interval,
            )
        if isinstance(
            exc,
            aiohttp.ClientConnectionError
            | aiohttp.ClientPayloadError
            | aiohttp.ClientResponseError,
        ):
            # A dropped connection, a body cut short, or a reply that is not
            # HTTP (a bad status line): the next connection may well be fine.
            error = NetworkError(
                f"{method} {path} lost its connection: {what}", interval=interval
            )
            return _Transient(error, "connection")
        return NetworkError(f"{method} {path} failed: {what}", interval=interval)

    def result(
        self, reply: Reply, *, method: str, path: str, interval: str | None = None
    ) -> Any:
        """Return the parsed JSON of a 2xx reply, or raise its error.

        Args:
            reply: the reply.
            method: the request method (an empty DELETE reply is fine).
            path: the request path, for errors.
            interval: attached to errors; None when not a query.

        Returns:
            The parsed body; None for an empty 204 or DELETE reply.

        Raises:
            _Transient: for 429, 500, 502, 503, 504 and malformed 2xx bodies.
            ApiError: a subclass, for every other error status.
        """
        if 200 <= reply.status < 300:
            return self._parse_body(reply, method=method, interval=interval)

        error = translate_status(
            reply, path=path, interval=interval, redact=self._redact
        )
        if reply.status == 429:
            delay = parse_retry_after(reply.headers.get("Retry-After"))
            if delay is None:
                delay = _delay_in_message(error.message)
            raise _Transient(error, "429", delay, shared=is_rate_limit(error))
        if reply.status in _TRANSIENT_STATUSES:
            raise _Transient(error, str(reply.status))
        raise error

    def _parse_body(self, reply: Reply, *, method: str, interval: str | None) -> Any:
        if not reply.body.strip() and (reply.status == 204 or method == "DELETE"):
            return None
        try:
            return orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            snippet = reply.body[:60].decode("utf-8", "replace")
            error = ServerError(
                reply.status,
                f"the reply body is not valid JSON ({len(reply.body)} bytes: "
                f"{self._redact(snippet)!r})",
                context_id=reply.headers.get("inin-correlation-id"),
                interval=interval,
            )
            raise _Transient(error, "malformed", cause=exc) from exc

    def malformed(
        self, reply: Reply, what: str, interval: str | None = None
    ) -> _Transient:
        """Return the retryable failure for a 2xx JSON body missing `what`."""
        error = ServerError(
            reply.status,
            f"the reply lacks {what}",
            context_id=reply.headers.get("inin-correlation-id"),
            interval=interval,
        )
        return _Transient(error, "malformed")

    async def retrying(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        what: str,
        deadline: float | None = None,
    ) -> T:
        """Run `attempt` under the retry policy; re-raise the last real error.

        Args:
            attempt: one try; raises _Transient for what may be retried.
            what: names the request in log lines, such as "POST /api/v2/...".
            deadline: the clock reading by which every try and wait must end;
                None is max_time from now. A token grant made for a request
                passes the request's, so the two share one max_time.
        """
        policy = self.retry
        end = self.deadline() if deadline is None else deadline

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                return True
            failure = _failure_of(state)
            pending = max(failure.wait, self._resume_at - self._clock())
            return self._clock() + pending > end

        def before_sleep(state: RetryCallState) -> None:
            failure = _failure_of(state)
            self.stats.retries[failure.reason] += 1
            logger.warning(
                "Retrying %s after %s (attempt %d of %d failed), waiting %.2f s",
                what,
                failure.reason,
                state.attempt_number,
                policy.max_attempts,
                max(failure.wait, self._resume_at - self._clock()),
            )

        retrying = AsyncRetrying(
            stop=stop,
            wait=lambda state: _failure_of(state).wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for try_ in retrying:
                with try_:
                    try:
                        return await attempt()
                    except _Transient as failure:
                        failure.wait = self._wait_after(
                            failure, try_.retry_state.attempt_number, what
                        )
                        raise
        except _Transient as failure:
            last = failure
        else:  # pragma: no cover
            raise AssertionError("tenacity ended without a result")
        # Raised outside the except block so that neither the _Transient nor
        # what it caught (an aiohttp error holding the request headers) is
        # chained to the caller's error.
        raise last.error from last.cause

    def _wait_after(self, failure: _Transient, attempt: int, what: str) -> float:
        """Return the scaled wait before the next try; a rate-limit 429 pauses all."""
        base = failure.delay
        if base is None:
            base = self.retry.backoff(attempt)
        seconds = base * self.retry.wait_scale
        if not failure.shared or not isinstance(failure.error, ApiError):
            return seconds

        # The other requests share this client's rate bucket: they would meet
        # the same 429, so all of them wait, and this one waits with them.
        self.pause(seconds, f"429 on {what}", failure.error)
        return 0.0


def _failure_of(state: RetryCallState) -> _Transient:
    outcome = state.outcome
    failure = outcome.exception() if outcome is not None else None
    if not isinstance(failure, _Transient):  # pragma: no cover
        raise AssertionError("retry state without a transient failure")
    return failure
