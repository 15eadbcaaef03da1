"""The Python and command-line faces: ground truth, records, options, `run`."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from genesys_async.simulator import FaultConfig, Simulator, create_app
from genesys_async.simulator._cli import config_from_args, configure_parser, run

START = datetime(2026, 9, 3, tzinfo=timezone.utc)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(list(argv))


async def test_ground_truth_holds_the_ids_starting_in_the_half_open_interval(
    sim: Simulator,
) -> None:
    end = START + timedelta(days=1)

    actual = sim.ground_truth(START, end)

    data = sim.dataset
    low, high = int(START.timestamp() * 1000), int(end.timestamp() * 1000)
    expected = {
        data.conversation_id(i)
        for i in range(len(data))
        if low <= data.start_ms(i) < high
    }
    assert actual == expected


async def test_records_are_the_ones_the_api_serves_in_start_order(
    api: Any, sim: Simulator, token: str
) -> None:
    end = START + timedelta(hours=2)
    body = {
        "interval": "2026-09-03T00:00:00Z/2026-09-03T02:00:00Z",
        "paging": {"pageSize": 100},
    }

    served = (await api.query(sim, token, body)).body["conversations"]

    assert list(sim.records(START, end)) == served


async def test_base_url_is_loopback_with_the_chosen_port(sim: Simulator) -> None:
    assert sim.base_url == f"http://127.0.0.1:{sim.port}"
    assert sim.port > 0


def test_create_app_serves_both_the_token_and_the_query_routes() -> None:
    app = create_app()

    names = {route.name for route in app.router.routes()}

    assert {"oauth_token", "details_query"} <= names


def test_every_option_reaches_the_config() -> None:
    args = parse(
        "--seed", "9", "--start", "2026-01-01", "--end", "2026-01-08T00:00:00Z",
        "--conversations", "500", "--client-id", "me", "--client-secret", "s3",
        "--token-lifetime", "600", "--max-interval-days", "31",
        "--pagination-cap", "none", "--max-page-size", "300",
        "--max-request-bytes", "1000", "--too-large-threshold", "50",
        "--rate-limit", "5", "--rate-limit-period", "10", "--retry-after", "omit",
        "--error-rate", "503=0.1", "--error-rate", "500=0.05",
        "--disconnect-rate", "0.01", "--html-error-rate", "0.02",
        "--truncated-json-rate", "0.03", "--empty-body-rate", "0.04",
        "--latency-ms", "5", "--latency-per-record-ms", "0.5",
        "--latency-tail", "0.01x20", "--fault-seed", "3",
        "--now", "2026-01-05T12:00:00+02:00", "--token-error-rate", "0.2",
    )  # fmt: skip

    config = config_from_args(args)

    expected_faults = FaultConfig(
        error_rates={503: 0.1, 500: 0.05},
        disconnect_rate=0.01,
        html_error_rate=0.02,
        truncated_json_rate=0.03,
        empty_body_rate=0.04,
        latency_ms=5,
        latency_per_record_ms=0.5,
        latency_tail_probability=0.01,
        latency_tail_multiplier=20,
        seed=3,
        token_error_rate=0.2,
    )
    assert config.faults == expected_faults
    assert (config.seed, config.conversations, config.client_id) == (9, 500, "me")
    assert config.start == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert config.end == datetime(2026, 1, 8, tzinfo=timezone.utc)
    assert config.now == datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    assert (config.client_secret, config.token_lifetime_s) == ("s3", 600)
    assert (config.max_interval_days, config.pagination_cap) == (31, None)
    assert (config.max_page_size, config.max_request_bytes) == (300, 1000)
    assert (config.too_large_threshold, config.rate_limit) == (50, 5)
    assert (config.rate_limit_period_s, config.retry_after) == (10, "omit")


def test_every_simulate_option_has_a_help_string() -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)

    silent = [
        action.option_strings
        for action in parser._actions
        if action.option_strings
        and action.dest != "help"
        and not (action.help or "").strip()
    ]

    assert silent == []


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--rate-limit", "0"], "rate_limit must be positive"),
        (["--rate-limit-period", "0"], "rate_limit_period_s must be positive"),
        (["--error-rate", "418=0.5"], "must be one of (500, 502, 503, 504)"),
        (["--error-rate", "503=-0.2"], "probability in [0, 1]"),
        (["--error-rate", "503=1.2"], "probability in [0, 1]"),
        (["--error-rate", "503=0.6", "--error-rate", "500=0.6"], "at most 1"),
        (["--token-lifetime", "-5"], "token_lifetime_s must be positive"),
        (["--max-page-size", "0"], "max_page_size must be positive"),
        (["--token-error-rate", "1.5"], "probability in [0, 1]"),
    ],
)
def test_impossible_settings_exit_2_with_a_clear_message(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(parse("--port", "0", "--conversations", "10", *argv))

    assert code == 2
    assert complaint in capsys.readouterr().err


def test_client_secret_comes_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("GENESYS_SIMULATOR_CLIENT_SECRET", "from-env")

    config = config_from_args(parse())

    assert config.client_secret == "from-env"


def test_secret_stays_out_of_the_config_repr() -> None:
    config = config_from_args(parse("--client-secret", "hush-hush"))

    assert "hush-hush" not in repr(config)


async def test_module_entry_point_serves_until_sigint_without_printing_the_secret() -> (
    None
):
    env = {**os.environ, "GENESYS_SIMULATOR_CLIENT_SECRET": "very-secret"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "genesys_async.simulator", "--port", "0",
        "--conversations", "2000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    assert process.stdout is not None
    first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    base_url = first.rsplit(" ", 1)[-1].strip()

    async with aiohttp.ClientSession() as http:
        raw = base64.b64encode(b"simulator-client:very-secret").decode()
        async with http.post(
            base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {raw}"},
        ) as reply:
            status = reply.status
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 20)
    printed = first + out.decode() + err.decode()

    assert base_url.startswith("http://127.0.0.1:")
    assert (status, process.returncode) == (200, 0)
    assert "very-secret" not in printed


async def test_with_now_before_end_nothing_after_now_is_served_or_in_ground_truth(
    api: Any, make_sim: Any
) -> None:
    now = START + timedelta(hours=15)
    sim = await make_sim(now=now)
    token = await api.token(sim)
    body = {"interval": "2026-09-03T00:00:00Z/2026-09-05T00:00:00Z"}

    served = []
    for page in (1, 2, 3, 4, 5):
        paging = {"pageSize": 100, "pageNumber": page}
        reply = await api.query(sim, token, {**body, "paging": paging})
        served += reply.body.get("conversations", [])
    truth = sim.ground_truth(START, START + timedelta(days=2))

    starts = [c["conversationStart"] for c in served]
    assert reply.body["totalHits"] == len(served) == len(truth) > 0
    assert max(starts) < "2026-09-03T15:00:00.000Z"
    assert truth == {c["conversationId"] for c in served}
    assert all(c["participants"] for c in served)


async def test_callbacks_are_found_by_their_queue_and_counted_as_offered(
    api: Any, sim: Any, token: str
) -> None:
    queue = next(q.id for q in sim.dataset.queues if "callback" in q.media_types)
    interval = "2026-09-02T00:00:00Z/2026-09-09T00:00:00Z"
    callback = {"dimension": "mediaType", "value": "callback"}
    in_queue = {"dimension": "queueId", "value": queue}
    details = {
        "interval": interval,
        "segmentFilters": [{"type": "and", "predicates": [callback, in_queue]}],
    }
    aggregates = {
        "interval": interval,
        "metrics": ["nOffered"],
        "groupBy": ["mediaType"],
        "filter": {"type": "and", "predicates": [in_queue]},
    }

    found = await api.query(sim, token, details)
    counted = await api.post(
        sim,
        token,
        json.dumps(aggregates).encode(),
        "/api/v2/analytics/conversations/aggregates/query",
    )

    by_media = {
        r["group"]["mediaType"]: r["data"][0]["metrics"][0]["stats"]["count"]
        for r in counted.body["results"]
    }
    assert found.body["totalHits"] > 0
    assert by_media["callback"] > 0
