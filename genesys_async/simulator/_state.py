"""State shared by every route module: data, config, tokens, counters, faults."""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from genesys_async.simulator._config import FaultConfig, SimulatorConfig
from genesys_async.simulator._data import Dataset

__all__ = [
    "STATE_KEY",
    "ApiError",
    "State",
    "TokenInfo",
    "error_response",
    "json_response",
    "require_permission",
]


class ApiError(Exception):
    """An error reply in the real `ErrorBody` shape; raise it from any handler.

    Args:
        status: HTTP status.
        code: the error's `code`, e.g. "bad.request".
        message: the human message.
        field_name: the request field at fault, for `details`; None for none.
        message_params: values of the placeholders in `message_with_params`.
        message_with_params: the message template; None means `message`.
        headers: extra reply headers.
        limit: the `limit` object ({key, namespace, value}) of a rate-limit
            error; None leaves it out.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field_name: str | None = None,
        message_params: Mapping[str, str] | None = None,
        message_with_params: str | None = None,
        headers: Mapping[str, str] | None = None,
        limit: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field_name = field_name
        self.message_params = dict(message_params or {})
        self.message_with_params = message_with_params or message
        self.headers = dict(headers or {})
        self.limit = None if limit is None else dict(limit)

    def response(self) -> web.Response:
        """This error as an aiohttp reply."""
        body: dict[str, Any] = {
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "messageWithParams": self.message_with_params,
            "messageParams": self.message_params,
            "contextId": str(uuid.uuid4()),
            "details": [],
            "errors": [],
        }
        if self.field_name is not None:
            body["details"] = [{"errorCode": self.code, "fieldName": self.field_name}]
        if self.limit is not None:
            body["limit"] = self.limit
        return json_response(body, status=self.status, headers=self.headers)


def error_response(status: int, code: str, message: str) -> web.Response:
    """A reply in the real `ErrorBody` shape (see `ApiError`)."""
    return ApiError(status, code, message).response()


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON reply serialised with orjson."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
    )


@dataclass
class TokenInfo:
    """One issued access token."""

    expires_at: float
    permissions: frozenset[str]


@dataclass
class _Bucket:
    """A token bucket: `level` requests left, refilled continuously."""

    level: float
    updated: float


@dataclass
class RateVerdict:
    """The outcome of one request against its token's bucket."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    retry_after_s: int = 0


class State:
    """What route modules share; one per application.

    Args:
        config: the simulator's configuration.
        clock: monotonic seconds; tests pass a fake one to expire tokens and
            refill rate-limit buckets without waiting. None means
            `time.monotonic`.
    """

    def __init__(
        self, config: SimulatorConfig, clock: Callable[[], float] | None = None
    ) -> None:
        self.config = config
        self.clock = clock or time.monotonic
        self.dataset = Dataset(
            seed=config.seed,
            start=config.start,
            end=config.end,
            conversations=config.conversations,
            now=config.now,
        )
        # Live access tokens; an expired one stays until it is presented again.
        self.tokens: dict[str, TokenInfo] = {}
        # Every access token ever issued, in order, so tests can look for leaks.
        self.issued_tokens: list[str] = []
        # Requests by (route name, HTTP status); status 0 is a dropped connection.
        self.counters: Counter[tuple[str, int]] = Counter()
        self._buckets: dict[str, _Bucket] = {}
        self.set_faults(config.faults)

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the faults from now on, reseeding their generators."""
        self.faults = faults
        self.fault_rng = random.Random(faults.seed)
        # Its own generator, so logging in does not shift the API's faults.
        self.token_fault_rng = random.Random(faults.seed ^ 0x70CE)

    def issue_token(self, permissions: frozenset[str]) -> str:
        """A fresh access token valid for the configured lifetime."""
        token = secrets.token_urlsafe(32)
        expires_at = self.clock() + self.config.token_lifetime_s
        self.tokens[token] = TokenInfo(expires_at, permissions)
        self.issued_tokens.append(token)
        return token

    def token_info(self, token: str) -> TokenInfo | None:
        """The live token's info; None when unknown or expired."""
        info = self.tokens.get(token)
        if info is None or info.expires_at <= self.clock():
            return None
        return info

    def expire_tokens(self) -> None:
        """Invalidate every issued token, as a revocation would."""
        self.tokens.clear()

    def take(self, token: str) -> RateVerdict:
        """Spend one request from `token`'s bucket; the reply headers it earns."""
        return self._rate(token, spend=True)

    def peek(self, token: str | None) -> RateVerdict:
        """The headers of `token`'s bucket without spending from it.

        For replies to requests that never reached a bucket (no or a bad
        token): None, or a token without a bucket, reads as a full bucket.
        """
        return self._rate(token, spend=False)

    def _rate(self, token: str | None, *, spend: bool) -> RateVerdict:
        limit = self.config.rate_limit
        if limit is None:
            return RateVerdict(True)
        period = self.config.rate_limit_period_s
        rate = limit / period
        now = self.clock()
        bucket = self._buckets.get(token or "") if token else None
        if bucket is None:
            bucket = _Bucket(float(limit), now)
            if spend and token:
                self._buckets[token] = bucket
        level = min(float(limit), bucket.level + (now - bucket.updated) * rate)
        allowed = level >= 1.0
        if spend:
            if allowed:
                level -= 1.0
            bucket.level, bucket.updated = level, now
        used = limit - int(level)
        reset = max(0, round((limit - level) / rate))
        headers = {
            "inin-ratelimit-count": str(used),
            "inin-ratelimit-allowed": str(limit),
            "inin-ratelimit-reset": str(reset),
        }
        wait = 0 if allowed else max(1, math.ceil((1.0 - level) / rate))
        return RateVerdict(allowed, headers, wait)

    async def delay(self, records: int = 0) -> None:
        """Sleep the configured latency for a reply holding `records` conversations."""
        faults = self.faults
        delay_ms = faults.latency_ms + faults.latency_per_record_ms * records
        if delay_ms <= 0:
            return
        if self.fault_rng.random() < faults.latency_tail_probability:
            delay_ms *= faults.latency_tail_multiplier
        await asyncio.sleep(delay_ms / 1000)


STATE_KEY = web.AppKey("genesys_simulator_state", State)


def require_permission(request: web.Request, permission: str) -> None:
    """Raise a 403 unless the request's bearer token carries `permission`.

    The middleware has already refused requests without a live token.
    """
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    info = request.app[STATE_KEY].token_info(token)
    if info is None or permission not in info.permissions:
        template = "You are missing the following permission(s): [{permissions}]"
        raise ApiError(
            403,
            "missing.permissions",
            template.format(permissions=permission),
            message_params={"permissions": permission},
            message_with_params=template,
        )
