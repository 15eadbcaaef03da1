"""What every `/api/v2` request goes through: bearer, rate limit, size, faults.

Order: count the request; check the bearer token (401); spend from the token's
rate-limit bucket (429); check the body size (413); roll the faults (drop the
connection, answer an error, or spoil the reply); serve; add the
`inin-ratelimit-*` headers to whatever goes back, 401, 404 and 405 included
(a request that spent nothing reports its bucket as it stands).

Every error leaves in the real `ErrorBody` JSON shape, on any path: a route or
method aiohttp does not know (404 `not.found`, 405 `method.not.allowed`) and an
unexpected exception (500 `internal.server.error`, logged) too.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from genesys_async.simulator._state import STATE_KEY, ApiError, RateVerdict, State

logger = logging.getLogger("genesys_async.simulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center></body></html>"
)
_SERVER_ERRORS = {
    500: (
        "internal.server.error",
        "The server encountered an unexpected condition which prevented it "
        "from fulfilling the request.",
    ),
    502: ("bad.gateway", "The server received an invalid response upstream."),
    503: ("service.unavailable", "Service Unavailable"),
    504: ("request.timeout", "The request timed out."),
}


# aiohttp's own refusals, in the real API's words.
_HTTP_CODES = {
    404: ("not.found", "The requested resource was not found: {path}"),
    405: ("method.not.allowed", "The method {method} is not allowed on {path}"),
    413: ("request.entity.too.large", "The request is over the size limit."),
}


class _Dropped(Exception):
    """The connection was closed on purpose; no reply goes back."""


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request; put `/api/v2` requests through the API's gate."""
    state = request.app[STATE_KEY]
    route = request.match_info.route.name or "unknown"
    status = 0
    try:
        if request.path.startswith("/api/v2/"):
            response = await _gate(state, request, handler)
        else:
            response = await _answer(request, handler)
        status = response.status
        return response
    except _Dropped:
        # Returning nothing cleanly is not possible once the transport is gone;
        # an HTTPException with a closed transport is discarded by aiohttp.
        raise web.HTTPServiceUnavailable() from None
    finally:
        state.counters[(route, status)] += 1


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's reply, with every error turned into an `ErrorBody`."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, template = _HTTP_CODES.get(exc.status, ("bad.request", exc.reason))
        message = template.format(path=request.path, method=request.method)
        return ApiError(exc.status, code, message).response()
    except _Dropped:
        raise
    except Exception:
        logger.exception("unexpected error serving %s", request.path)
        code, message = _SERVER_ERRORS[500]
        return ApiError(500, code, message).response()


async def _gate(
    state: State, request: web.Request, handler: Handler
) -> web.StreamResponse:
    verdict: RateVerdict | None = None

    async def guarded(request: web.Request) -> web.StreamResponse:
        nonlocal verdict
        token = _bearer(state, request)
        verdict = state.take(token)
        if not verdict.allowed:
            raise _too_many(state, verdict)
        await _check_size(state, request)
        return await _serve_with_faults(state, request, handler)

    response = await _answer(request, guarded)
    if verdict is None:
        verdict = state.peek(None)
    response.headers.update(verdict.headers)
    return response


def _bearer(state: State, request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
        )
    token = token.strip()
    info = state.token_info(token)
    if info is None:
        raise ApiError(401, "bad.credentials", "Invalid login credentials.")
    return token


def _too_many(state: State, verdict: RateVerdict) -> ApiError:
    seconds = verdict.retry_after_s
    headers: dict[str, str] = {}
    if state.config.retry_after == "seconds":
        headers["Retry-After"] = str(seconds)
    elif state.config.retry_after == "http-date":
        headers["Retry-After"] = email.utils.formatdate(
            time.time() + seconds, usegmt=True
        )
    template = (
        "Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds"
    )
    return ApiError(
        429,
        "too.many.requests.retry.after",
        template.format(seconds=seconds),
        message_params={"seconds": str(seconds)},
        message_with_params=template,
        headers=headers,
        limit={
            "key": "token.rate.per.minute",
            "namespace": "platform.api",
            "value": state.config.rate_limit,
        },
    )


async def _check_size(state: State, request: web.Request) -> None:
    limit = state.config.max_request_bytes
    if limit is None:
        return
    body = await request.read()
    if len(body) > limit:
        raise ApiError(
            413,
            "request.entity.too.large",
            f"The request is over the size limit. Maximum bytes: {limit}",
        )


async def _serve_with_faults(
    state: State, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Roll one number per request and pick at most one fault from it."""
    faults = state.faults
    roll = state.fault_rng.random()
    edge = faults.disconnect_rate
    if roll < edge:
        await request.read()
        logger.debug("fault: dropping the connection of %s", request.path)
        if request.transport is not None:
            request.transport.abort()
        raise _Dropped
    for status in sorted(faults.error_rates):
        edge += faults.error_rates[status]
        if roll < edge:
            code, message = _SERVER_ERRORS.get(status, ("server.error", "Server error"))
            logger.debug("fault: answering %s to %s", status, request.path)
            raise ApiError(status, code, message)

    spoil = None
    for kind, rate in (
        ("html", faults.html_error_rate),
        ("truncated", faults.truncated_json_rate),
        ("empty", faults.empty_body_rate),
    ):
        edge += rate
        if spoil is None and roll < edge:
            spoil = kind
    response = await handler(request)
    if spoil is None or not isinstance(response, web.Response):
        return response
    logger.debug("fault: spoiling the reply to %s (%s)", request.path, spoil)
    return _spoiled(response, spoil)


def _spoiled(response: web.Response, kind: str) -> web.Response:
    if kind == "html":
        return web.Response(body=_HTML_502, status=502, content_type="text/html")
    if kind == "truncated":
        body = response.body if isinstance(response.body, bytes) else b"{}"
        return web.Response(
            body=body[: max(1, len(body) // 2)],
            status=200,
            content_type="application/json",
        )
    return web.Response(body=b"", status=200, content_type="application/json")
