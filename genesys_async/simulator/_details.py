"""`POST /api/v2/analytics/conversations/details/query`: the synchronous query."""

from __future__ import annotations

import asyncio
from array import array
from collections import OrderedDict
from typing import Any

import orjson
from aiohttp import web

from genesys_async.simulator._config import DETAIL_PERMISSION
from genesys_async.simulator._query import (
    DetailsQuery,
    find_matches,
    parse_details_query,
)
from genesys_async.simulator._state import (
    STATE_KEY,
    ApiError,
    State,
    json_response,
    require_permission,
)

__all__ = ["register"]

_PATH = "/api/v2/analytics/conversations/details/query"
_DAY_MS = 86_400_000
_CACHE_SIZE = 32
_MATCHES_KEY = web.AppKey("genesys_simulator_details_matches", OrderedDict)


def register(app: web.Application, state: State) -> None:
    """Add the details query route to `app`."""
    # Paging re-runs the same query many times: keep recent match lists (LRU).
    app[_MATCHES_KEY] = OrderedDict()
    app.router.add_post(_PATH, _details_query, name="details_query")


async def _details_query(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    require_permission(request, DETAIL_PERMISSION)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(
            400, "bad.request", "The request body is not valid JSON", field_name="body"
        ) from None
    query = parse_details_query(body)
    _check_limits(state, query)

    matches = await _matches(request.app, state, query)
    total = len(matches)
    threshold = state.config.too_large_threshold
    if threshold is not None and total > threshold:
        raise ApiError(
            413,
            "request.entity.too.large",
            f"The query matches {total} conversations, more than the maximum of "
            f"{threshold}; query a shorter interval",
        )

    first = (query.page_number - 1) * query.page_size
    page = matches[first : first + query.page_size]
    await state.delay(records=len(page))
    reply: dict[str, Any] = {}
    if page:
        reply["conversations"] = [state.dataset.record(i) for i in page]
    reply["totalHits"] = total
    return json_response(reply)


def _check_limits(state: State, query: DetailsQuery) -> None:
    config = state.config
    days = config.max_interval_days
    if days is not None and query.end_ms - query.start_ms > days * _DAY_MS:
        shown = f"{days:g}"
        template = (
            "You must specify a search interval as part of your query that does not "
            "exceed {days} days"
        )
        raise ApiError(
            400,
            "bad.request",
            template.format(days=shown),
            field_name="interval",
            message_params={"days": shown},
            message_with_params=template,
        )
    cap = config.pagination_cap
    if cap is not None and query.page_number * query.page_size > cap:
        raise ApiError(
            400,
            "bad.request",
            f"Pagination may not exceed {cap} results.",
            field_name="paging",
        )
    size = config.max_page_size
    if size is not None and query.page_size > size:
        raise ApiError(
            400,
            "bad.request",
            f"Max page size is {size}; pageSize {query.page_size} is too large",
            field_name="paging.pageSize",
        )


async def _matches(
    app: web.Application, state: State, query: DetailsQuery
) -> array[int]:
    cache: OrderedDict[tuple[Any, ...], array[int]] = app[_MATCHES_KEY]
    key = query.cache_key
    found = cache.get(key)
    if found is None:
        # Off the loop: a metric filter over a busy week takes seconds, and
        # token calls and other queries must not wait for it. The dataset is
        # read-only once built, so a worker thread may read it.
        found = await asyncio.to_thread(find_matches, state.dataset, query)
        cache[key] = found
        if len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return found
