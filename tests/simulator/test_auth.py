"""`POST /oauth/token` and the bearer check on API routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from genesys_async.simulator import Simulator
from genesys_async.simulator._config import AGGREGATE_PERMISSION

BODY = {"interval": "2026-09-02T00:00:00Z/2026-09-03T00:00:00Z"}
MakeSim = Callable[..., Awaitable[Simulator]]


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_client_credentials_grant_issues_a_bearer_token(
    api: Any, sim: Simulator
) -> None:
    auth = api.basic(sim.client_id, sim.client_secret)

    reply = await api.post_token(sim, auth, "client_credentials")

    assert reply.status == 200
    assert {"access_token", "token_type", "expires_in"} == set(reply.body)
    assert (reply.body["token_type"], reply.body["expires_in"]) == ("bearer", 86_400)
    assert [reply.body["access_token"]] == sim.issued_tokens


async def test_wrong_secret_answers_the_oauth_error(api: Any, sim: Simulator) -> None:
    auth = api.basic(sim.client_id, "wrong")

    reply = await api.post_token(sim, auth, "client_credentials")

    assert (reply.status, reply.body["error"]) == (401, "invalid_client")
    assert {"error", "description", "error_description"} == set(reply.body)
    assert sim.client_secret not in str(reply.body)


async def test_wrong_client_id_answers_the_oauth_error(
    api: Any, sim: Simulator
) -> None:
    auth = api.basic("someone-else", sim.client_secret)

    reply = await api.post_token(sim, auth, "client_credentials")

    assert (reply.status, reply.body["error"]) == (401, "invalid_client")


async def test_missing_basic_header_answers_401(api: Any, sim: Simulator) -> None:
    reply = await api.post_token(sim, None, "client_credentials")

    assert (reply.status, reply.body["error"]) == (401, "invalid_client")


async def test_other_grant_types_answer_400(api: Any, sim: Simulator) -> None:
    auth = api.basic(sim.client_id, sim.client_secret)

    reply = await api.post_token(sim, auth, "password")

    assert (reply.status, reply.body["error"]) == (400, "unsupported_grant_type")


async def test_token_lifetime_is_configurable(api: Any, make_sim: MakeSim) -> None:
    sim = await make_sim(token_lifetime_s=300)
    auth = api.basic(sim.client_id, sim.client_secret)

    reply = await api.post_token(sim, auth, "client_credentials")

    assert reply.body["expires_in"] == 300


async def test_api_call_without_a_token_answers_401(api: Any, sim: Simulator) -> None:
    reply = await api.query(sim, None, BODY)

    assert (reply.status, reply.body["code"]) == (401, "authentication.required")


async def test_unknown_token_answers_401_bad_credentials(
    api: Any, sim: Simulator
) -> None:
    reply = await api.query(sim, "not-a-token", BODY)

    assert (reply.status, reply.body["code"]) == (401, "bad.credentials")
    expected_keys = {"message", "code", "status", "contextId", "details", "errors"}
    assert expected_keys <= set(reply.body)


async def test_token_expires_after_its_lifetime(api: Any, make_sim: MakeSim) -> None:
    clock = Clock()
    sim = await make_sim(clock=clock, token_lifetime_s=300)
    token = await api.token(sim)

    before = await api.query(sim, token, BODY)
    clock.now += 299.9
    still = await api.query(sim, token, BODY)
    clock.now += 0.1
    after = await api.query(sim, token, BODY)

    assert (before.status, still.status, after.status) == (200, 200, 401)
    assert after.body["code"] == "bad.credentials"


async def test_expire_tokens_revokes_every_issued_token(
    api: Any, sim: Simulator, token: str
) -> None:
    sim.expire_tokens()

    reply = await api.query(sim, token, BODY)

    assert (reply.status, reply.body["code"]) == (401, "bad.credentials")


async def test_client_without_detail_permission_gets_403_naming_it(
    api: Any, make_sim: MakeSim
) -> None:
    sim = await make_sim(permissions=frozenset({AGGREGATE_PERMISSION}))
    token = await api.token(sim)

    reply = await api.query(sim, token, BODY)

    assert (reply.status, reply.body["code"]) == (403, "missing.permissions")
    assert "analytics:conversationDetail:view" in reply.body["message"]


async def test_unknown_api_route_answers_404_and_is_counted(
    api: Any, sim: Simulator, token: str
) -> None:
    reply = await api.post(sim, token, b"{}", path="/api/v2/nothing")

    assert reply.status == 404
    assert sim.counters[("unknown", 404)] == 1


async def test_requests_are_counted_by_route_and_status(
    api: Any, sim: Simulator, token: str
) -> None:
    await api.query(sim, token, BODY)
    await api.query(sim, "bad", BODY)

    expected = {("oauth_token", 200): 1, ("details_query", 200): 1}
    expected[("details_query", 401)] = 1
    assert expected == dict(sim.counters)
