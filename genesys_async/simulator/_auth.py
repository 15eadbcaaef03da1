"""`POST /oauth/token`: the client-credentials grant."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from genesys_async.simulator._state import STATE_KEY, State, json_response

__all__ = ["register"]


def register(app: web.Application, state: State) -> None:
    """Add the token route to `app`."""
    app.router.add_post("/oauth/token", _token, name="oauth_token")


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    body = {
        "error": error,
        "description": description,
        "error_description": description,
    }
    return json_response(body, status=status)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


async def _token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    form = await request.post()
    if state.token_fault_rng.random() < state.faults.token_error_rate:
        return _oauth_error(
            503,
            "temporarily_unavailable",
            "The authorization server is temporarily unavailable",
        )
    grant = form.get("grant_type")
    if grant != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", f"Unsupported grant type: {grant!s}"
        )

    credentials = _basic_credentials(request.headers.get("Authorization", ""))
    config = state.config
    if credentials is None:
        return _oauth_error(401, "invalid_client", "client authentication required")
    client_id, secret = credentials
    # Compare both in constant time so a timing probe learns nothing.
    id_ok = hmac.compare_digest(client_id.encode(), config.client_id.encode())
    secret_ok = hmac.compare_digest(secret.encode(), config.client_secret.encode())
    if not (id_ok and secret_ok):
        return _oauth_error(401, "invalid_client", "client not found or bad secret")

    token = state.issue_token(config.permissions)
    return json_response(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": config.token_lifetime_s,
        }
    )
