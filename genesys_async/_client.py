"""`GenesysClient`: authenticated, rate-limited, retried calls to Genesys Cloud."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson

from . import _aggregates, _export
from ._auth import Secret, TokenCache, basic_auth_header, request_token
from ._errors import ConfigurationError
from ._http import ClientStats, HttpCore, Reply, RetryPolicy, Sleep
from ._regions import resolve_urls

__all__ = ["GenesysClient"]

P = ParamSpec("P")
R = TypeVar("R")

_ENV_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
_ENV_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
_ENV_REGION = "GENESYSCLOUD_REGION"


def _method(
    function: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[GenesysClient, P], R]:
    """Make an engine function, whose first argument is a client, a method."""

    def method(self: GenesysClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return function(self, *args, **kwargs)

    # Name and docstring of the function, for help() and the docs.
    functools.update_wrapper(method, function)
    return method


class GenesysClient:
    """An async client of the Genesys Cloud API for one OAuth client.

    Every request, token grants included, passes one shared rate limiter and
    one retry policy (`RetryPolicy`); a 429 pauses all of them. Use it as an
    async context manager, or call `close()`.

    Args:
        client_id: the OAuth client id (client-credentials grant).
        client_secret: its secret; never logged, shown or put in an error.
        region: a region name such as "us-east-1" (any case) or its domain
            such as "mypurecloud.ie"; None when `api_url` is given.
        api_url: the API base URL, such as https://api.mypurecloud.com; None
            when `region` is given. Plain http only for loopback hosts.
        login_url: the token endpoint's base URL; None derives it from the
            region or from `api_url` (api. -> login.; loopback: the same URL).
        rate_limit: requests per `rate_period` for this client, token
            requests included.
        rate_period: seconds of the rate window.
        rate_headroom: the share of `rate_limit` left unused (0.02: send at
            98% of it). Latency jitter bunches requests up on their way, and
            a server bucket met empty answers 429, which pauses every request
            for a second or more; a small margin costs less than those pauses.
            0 sends at the full limit. When a reply's inin-ratelimit-allowed
            is below `rate_limit`, the client paces at that (with the same
            headroom) for the rest of the session.
        rate_burst: requests that may leave at once after an idle spell;
            None is one second's worth of the rate (at least 1). Whatever
            the burst, no window of `rate_period` holds more than
            `rate_limit * (1 - rate_headroom)` requests.
        retry: the retry policy; None uses RetryPolicy().
        request_timeout: seconds one try of one request may take.
        max_connections: open connections at most.

    Raises:
        ConfigurationError: missing credentials, an unknown region, no region
            and no URL, or plain http to a host that is not loopback.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        region: str | None = None,
        api_url: str | None = None,
        login_url: str | None = None,
        rate_limit: float = 300.0,
        rate_period: float = 60.0,
        rate_headroom: float = 0.02,
        rate_burst: float | None = None,
        retry: RetryPolicy | None = None,
        request_timeout: float = 120.0,
        max_connections: int = 32,
        _sleep: Sleep | None = None,
        _clock: Callable[[], float] | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigurationError(
                "Both client_id and client_secret are required (an OAuth client "
                "with the client-credentials grant)."
            )
        if rate_limit <= 0 or rate_period <= 0:
            raise ConfigurationError("rate_limit and rate_period must be positive.")
        if not 0 <= rate_headroom < 1:
            raise ConfigurationError("rate_headroom must be at least 0 and below 1.")
        if rate_burst is not None and not rate_burst >= 1:
            raise ConfigurationError("rate_burst must be at least 1.")

        self._api_url, self._login_url = resolve_urls(region, api_url, login_url)
        self._client_id = client_id
        self._client_secret = Secret(client_secret)
        # The grant's Basic credential, base64 of id:secret: a server echoing
        # the request's headers would show the secret in that form.
        basic = basic_auth_header(client_id, self._client_secret)
        self._basic_credential = Secret(basic.removeprefix("Basic "))
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        self.rate_headroom = rate_headroom
        self._http = HttpCore(
            retry=retry or RetryPolicy(),
            rate_limit=rate_limit,
            rate_period=rate_period,
            rate_headroom=rate_headroom,
            rate_burst=rate_burst,
            request_timeout=request_timeout,
            max_connections=max_connections,
            redact=self._redact,
            sleep=_sleep,
            clock=_clock,
        )
        grant = functools.partial(
            request_token,
            self._http,
            self._login_url,
            client_id,
            self._client_secret,
        )
        self._tokens = TokenCache(grant, clock=_clock)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> GenesysClient:
        """Build a client from the variables Genesys' own tools read.

        Args:
            environ: where to read GENESYSCLOUD_OAUTHCLIENT_ID,
                GENESYSCLOUD_OAUTHCLIENT_SECRET and GENESYSCLOUD_REGION; None
                reads os.environ.
            **kwargs: any argument of GenesysClient; each overrides the
                environment.

        Raises:
            ConfigurationError: a variable is missing and no argument gives it.
        """
        env = os.environ if environ is None else environ
        settings: dict[str, Any] = {
            "client_id": env.get(_ENV_ID),
            "client_secret": env.get(_ENV_SECRET),
        }
        if not kwargs.get("api_url") and env.get(_ENV_REGION):
            settings["region"] = env[_ENV_REGION]
        settings.update(kwargs)

        missing = [
            name
            for name, key in ((_ENV_ID, "client_id"), (_ENV_SECRET, "client_secret"))
            if not settings.get(key)
        ]
        if not settings.get("region") and not settings.get("api_url"):
            missing.append(_ENV_REGION)
        if missing:
            raise ConfigurationError(
                f"Missing environment variable(s) {', '.join(missing)}: set them "
                "or pass the matching arguments."
            )
        return cls(**settings)

    @property
    def api_url(self) -> str:
        """The API base URL, such as https://api.mypurecloud.com."""
        return self._api_url

    @property
    def login_url(self) -> str:
        """The token endpoint's base URL, such as https://login.mypurecloud.com."""
        return self._login_url

    @property
    def stats(self) -> ClientStats:
        """Live counters: requests, replies by status, retries by reason, pauses."""
        return self._http.stats

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy every request of this client follows."""
        return self._http.retry

    def __repr__(self) -> str:
        return (
            f"GenesysClient(client_id={self._client_id!r}, api_url={self._api_url!r}, "
            f"rate_limit={self.rate_limit:g}/{self.rate_period:g}s)"
        )

    async def __aenter__(self) -> GenesysClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections; the client may still be used, opening new ones."""
        await self._tokens.close()
        await self._http.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, str | int] | None = None,
        interval: str | None = None,
    ) -> Any:
        """Send one API request with a token, the shared limiter and retries.

        Args:
            method: the HTTP method, such as "POST".
            path: the path from the API root, such as
                "/api/v2/analytics/conversations/details/query".
            json: the body, serialized as JSON; None sends no body.
            params: query-string parameters; None sends none.
            interval: the query's ISO-8601 interval, attached to any error;
                None when not a query.

        Returns:
            The parsed JSON of the 2xx reply; None for an empty 204 or DELETE.

        Raises:
            ApiError: a subclass, for an error reply (after retries where the
                policy retries it).
            NetworkError: connections or timeouts still failing after retries.
        """
        if not path.startswith("/"):
            raise ConfigurationError(f"path {path!r} must start with '/'.")
        method = method.upper()
        url = self._api_url + path
        body = orjson.dumps(json) if json is not None else None
        query = {key: str(value) for key, value in params.items()} if params else None

        # One max_time for the request, any token grant it waits for included.
        deadline = self._http.deadline()

        async def attempt() -> Any:
            reply = await self._send_with_token(
                method, url, body, query, interval, deadline
            )
            return self._http.result(reply, method=method, path=path, interval=interval)

        return await self._http.retrying(
            attempt, what=f"{method} {path}", deadline=deadline
        )

    async def _send_with_token(
        self,
        method: str,
        url: str,
        body: bytes | None,
        params: Mapping[str, str] | None,
        interval: str | None,
        deadline: float,
    ) -> Reply:
        """Send once; on a 401, get a new token and replay exactly once."""
        token = await self._tokens.get(deadline)
        reply = await self._send(method, url, body, params, interval, token, deadline)
        if reply.status != 401:
            return reply

        self._tokens.invalidate(token)
        token = await self._tokens.get(deadline)
        return await self._send(method, url, body, params, interval, token, deadline)

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        params: Mapping[str, str] | None,
        interval: str | None,
        token: Secret,
        deadline: float,
    ) -> Reply:
        headers = {
            "Authorization": f"Bearer {token.reveal()}",
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self._http.send(
            method,
            url,
            headers=headers,
            data=body,
            params=params,
            interval=interval,
            deadline=deadline,
        )

    def _redact(self, text: str) -> str:
        """Replace the client secret and every token of this session in text."""
        secrets = [
            self._client_secret,
            self._basic_credential,
            *self._tokens.issued(),
        ]
        for secret in secrets:
            if secret.reveal() and secret.reveal() in text:
                text = text.replace(secret.reveal(), "***")
        return text

    # The engines, as methods: `client.export_conversations(start, end, out)`.
    # Each is the module-level function of the same name with this client.
    conversation_details = _method(_export.conversation_details)
    export_conversations = _method(_export.export_conversations)
    export_aggregates = _method(_aggregates.export_aggregates)
    query_aggregates = _method(_aggregates.query_aggregates)
