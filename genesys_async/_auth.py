"""Client-credentials tokens: cached, refreshed before expiry, one refresh at a time."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._http import HttpCore

__all__ = ["AccessToken", "Secret", "TokenCache", "basic_auth_header", "request_token"]

logger = logging.getLogger("genesys_async")


class Secret:
    """A string that never shows itself in a repr, str, log line or traceback.

    Args:
        value: the secret text (a client secret or an access token).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret text, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def basic_auth_header(client_id: str, client_secret: Secret) -> str:
    """Return the Authorization header value of the client-credentials grant."""
    pair = f"{client_id}:{client_secret.reveal()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


async def request_token(
    http: HttpCore,
    login_url: str,
    client_id: str,
    client_secret: Secret,
    deadline: float | None = None,
) -> tuple[str, float]:
    """Run the client-credentials grant under the shared limiter and retries.

    Args:
        http: the client's HTTP core.
        login_url: the login base URL, such as https://login.mypurecloud.com.
        client_id: the OAuth client id.
        client_secret: the OAuth client secret.
        deadline: the clock reading by which the request that needs the token
            must end, so the grant's retries spend that request's max_time
            instead of a max_time of their own; None is max_time from now.

    Returns:
        (access_token, expires_in seconds).

    Raises:
        AuthenticationError: the grant was refused (400/401); not retried.
    """
    headers = {
        "Authorization": basic_auth_header(client_id, client_secret),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    path = "/oauth/token"

    async def attempt() -> tuple[str, float]:
        reply = await http.send(
            "POST",
            login_url + path,
            headers=headers,
            data=b"grant_type=client_credentials",
            token_request=True,
            deadline=deadline,
        )
        body: Any = http.result(reply, method="POST", path=path)
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise http.malformed(reply, "access_token")
        if not isinstance(expires_in, int | float) or expires_in <= 0:
            raise http.malformed(reply, "a positive expires_in")
        return token, float(expires_in)

    return await http.retrying(attempt, what="POST /oauth/token", deadline=deadline)


@dataclass(frozen=True)
class AccessToken:
    """One bearer token and when to stop using it.

    Args:
        value: the token.
        lifetime: seconds it was granted for (the reply's `expires_in`).
        refresh_at: the clock reading (seconds) after which it is refreshed.
    """

    value: Secret
    lifetime: float
    refresh_at: float


#: The token request itself, given the deadline of the request that needs the
#: token (None: no caller's bound): returns (access_token, expires_in seconds).
Grant = Callable[[float | None], Awaitable[tuple[str, float]]]


def _consume_outcome(task: asyncio.Task[AccessToken]) -> None:
    if not task.cancelled():
        task.exception()


class TokenCache:
    """Hands out a valid token; refreshes it once however many callers wait.

    Args:
        grant: performs the token request (through the shared limiter and
            retries) and returns (access_token, expires_in seconds).
        clock: monotonic seconds; None uses time.monotonic.
    """

    def __init__(self, grant: Grant, *, clock: Callable[[], float] | None = None):
        self._grant = grant
        self._clock = clock or time.monotonic
        # The current token; None before the first grant and after a 401.
        self._token: AccessToken | None = None
        # Every token granted in this session, current or not: a server may
        # echo an old one in an error long after it was replaced.
        self._issued: list[Secret] = []
        # The refresh in flight, shared by every caller that needs a token now,
        # so a hundred callers on an expired token cause one token request.
        self._refresh: asyncio.Task[AccessToken] | None = None

    async def get(self, deadline: float | None = None) -> Secret:
        """Return a token that is not about to expire, fetching one if needed.

        Args:
            deadline: the clock reading by which the caller's request must
                end; a grant this call starts spends no more time than that.
                None sets no caller's bound.
        """
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value

        if self._refresh is None:
            self._refresh = asyncio.ensure_future(self._fetch(deadline))
            # Mark the outcome as seen even if every waiter was cancelled.
            self._refresh.add_done_callback(_consume_outcome)
        refresh = self._refresh
        try:
            # Shielded: one caller's cancellation must not fail the others.
            return (await asyncio.shield(refresh)).value
        finally:
            if refresh.done() and self._refresh is refresh:
                self._refresh = None

    def invalidate(self, value: Secret) -> None:
        """Forget `value` after the server refused it (401), unless already replaced.

        Args:
            value: the token the refused request carried.
        """
        if self._token is not None and self._token.value is value:
            logger.info("Access token refused by the API; a new one will be requested")
            self._token = None

    def current(self) -> Secret | None:
        """Return the cached token, fresh or not; None when there is none."""
        return self._token.value if self._token is not None else None

    def issued(self) -> list[Secret]:
        """Return every token granted in this session, the current one last."""
        return list(self._issued)

    async def close(self) -> None:
        """Cancel a refresh still in flight."""
        refresh, self._refresh = self._refresh, None
        if refresh is not None and not refresh.done():
            refresh.cancel()
            await asyncio.gather(refresh, return_exceptions=True)

    async def _fetch(self, deadline: float | None) -> AccessToken:
        logger.info("Requesting an access token (client-credentials grant)")
        access_token, expires_in = await self._grant(deadline)

        # Refresh a little early: a request sent at the last second would
        # arrive with an expired token and cost a 401 and a replay.
        margin = min(60.0, 0.1 * expires_in)
        token = AccessToken(
            value=Secret(access_token),
            lifetime=expires_in,
            refresh_at=self._clock() + expires_in - margin,
        )
        self._token = token
        self._issued.append(token.value)
        logger.info("Access token obtained, valid for %.0f s", expires_in)
        return token
