"""Every error leaves in the real `ErrorBody` JSON, aiohttp's own refusals too."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from genesys_async.simulator import Simulator

ERROR_BODY_KEYS = {"message", "code", "status", "contextId", "details", "errors"}


async def read(reply: aiohttp.ClientResponse) -> tuple[int, str, Any]:
    return reply.status, reply.content_type, await reply.json()


async def test_an_unknown_route_answers_404_not_found_as_json(
    api: Any, sim: Simulator, token: str
) -> None:
    async with api.http.get(sim.base_url + "/no/such/page") as reply:
        plain = await read(reply)
    outside = await api.post(sim, token, b"{}", "/api/v2/users/nobody")

    status, content_type, body = plain
    assert (status, content_type) == (404, "application/json")
    assert body.keys() >= ERROR_BODY_KEYS
    assert (body["code"], body["status"]) == ("not.found", 404)
    assert (outside.status, outside.body["code"]) == (404, "not.found")


async def test_a_wrong_method_answers_405_as_json(
    api: Any, sim: Simulator, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    async with api.http.delete(sim.base_url + api.query_path, headers=headers) as r:
        status, content_type, body = await read(r)

    assert (status, content_type) == (405, "application/json")
    assert body.keys() >= ERROR_BODY_KEYS
    assert body["code"] == "method.not.allowed"


async def test_an_unexpected_exception_answers_500_as_json(api: Any) -> None:
    sim = Simulator()

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug in a route")

    sim.app.router.add_get("/api/v2/broken", broken)
    async with sim:
        token = await api.token(sim)
        headers = {"Authorization": f"Bearer {token}"}
        async with api.http.get(sim.base_url + "/api/v2/broken", headers=headers) as r:
            status, content_type, body = await read(r)
            limit_header = r.headers.get("inin-ratelimit-allowed")

    assert (status, content_type) == (500, "application/json")
    assert (body["code"], body["status"]) == ("internal.server.error", 500)
    assert "a bug in a route" not in body["message"]
    assert limit_header == "300"
