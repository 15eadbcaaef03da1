"""Chaos: whatever the network and server do, an export is exact or fails clearly."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from genesys_async import (
    ExportOptions,
    GenesysError,
    RetryPolicy,
    ServerError,
    export_conversations,
)
from genesys_async.simulator import FaultConfig

from ..engine.conftest import START, assert_exact, config, connected, read_output

END = START + timedelta(days=14)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_mixed_faults_over_several_seeds_end_exact(
    tmp_path: Path, seed: int
) -> None:
    """5% 5xx, 2% drops, malformed replies and 3-second tokens lose nothing."""
    out = tmp_path / "out.ndjson"
    faults = FaultConfig(
        error_rates={500: 0.02, 502: 0.01, 503: 0.01, 504: 0.01},
        disconnect_rate=0.02,
        html_error_rate=0.01,
        truncated_json_rate=0.01,
        empty_body_rate=0.01,
        seed=seed,
    )
    settings = config(days=14, conversations=4_000, faults=faults, token_lifetime_s=3)
    async with connected(settings, retry=RetryPolicy.immediate(max_attempts=15)) as (
        simulator,
        client,
    ):
        report = await export_conversations(client, START, END, out, api="query")

        assert_exact(read_output(out), simulator, START, END)
    assert sum(report.retries.values()) > 0


@pytest.mark.parametrize("style", ["seconds", "http-date", "omit"])
async def test_429_storm_is_waited_out_in_every_retry_after_style(
    tmp_path: Path, style: str
) -> None:
    """A server bucket below the client's limit: the first wave meets 429s,
    then the client paces at the server's inin-ratelimit-allowed; exact."""
    out = tmp_path / "out.ndjson"
    settings = config(
        days=7,
        conversations=600,
        rate_limit=5,
        rate_limit_period_s=1.0,
        retry_after=style,
    )
    # Real waits (the server's bucket refills in real time), kept short. The
    # client knows the period (1 s), not the server's limit: its first seven
    # requests leave at once, five fit the server's bucket.
    policy = RetryPolicy(max_attempts=20, initial_backoff=0.05, max_backoff=0.5)
    async with connected(settings, retry=policy, rate_period=1.0) as (
        simulator,
        client,
    ):
        report = await export_conversations(
            client,
            START,
            START + timedelta(days=7),
            out,
            options=ExportOptions(concurrency=8, chunk_days=1, page_size=50),
            api="query",
        )

        assert_exact(read_output(out), simulator, START, START + timedelta(days=7))
    assert report.requests.get(429, 0) > 0


async def test_latency_spikes_past_the_request_timeout_are_retried(
    tmp_path: Path,
) -> None:
    """Replies slower than the timeout are abandoned and asked again.

    One reply in ten takes 3 s against a 0.1 s timeout: no scheduling jitter
    makes such a reply arrive in time, and no wall-clock wait decides the
    outcome (retries are immediate, with room for many slow replies in a row).
    """
    out = tmp_path / "out.ndjson"
    faults = FaultConfig(
        latency_ms=1,
        latency_tail_probability=0.1,
        latency_tail_multiplier=3_000,
        seed=4,
    )
    settings = config(days=7, conversations=1_500, faults=faults)
    async with connected(
        settings,
        request_timeout=0.1,
        retry=RetryPolicy.immediate(max_attempts=40),
    ) as (simulator, client):
        report = await export_conversations(
            client, START, START + timedelta(days=7), out, api="query"
        )

        assert_exact(read_output(out), simulator, START, START + timedelta(days=7))
    assert report.retries.get("timeout", 0) > 0


@pytest.mark.parametrize(
    "faults",
    [
        FaultConfig(truncated_json_rate=1.0),
        FaultConfig(empty_body_rate=1.0),
        FaultConfig(html_error_rate=1.0),
    ],
    ids=["truncated", "empty", "html"],
)
async def test_server_that_only_sends_garbage_fails_clearly(
    tmp_path: Path, faults: FaultConfig
) -> None:
    """Never a silent gap: malformed replies become an error and no output."""
    out = tmp_path / "out.ndjson"
    settings = config(days=2, conversations=200, faults=faults)
    async with connected(settings, retry=RetryPolicy.immediate(max_attempts=3)) as (
        _,
        client,
    ):
        with pytest.raises(ServerError) as caught:
            await export_conversations(
                client, START, START + timedelta(days=2), out, api="query"
            )

    assert "2026-09-0" in str(caught.value)
    assert not out.exists()


async def test_filter_the_server_rejects_is_reported_with_its_message(
    tmp_path: Path,
) -> None:
    """A 400 for a bad filter stops the export with the server's words."""
    from genesys_async import ConversationFilters, QueryRejectedError

    out = tmp_path / "out.ndjson"
    bad = ConversationFilters(
        conversation_filters=[{"type": "sometimes", "predicates": []}]
    )
    async with connected(config(days=2, conversations=100)) as (_, client):
        with pytest.raises(QueryRejectedError) as caught:
            await export_conversations(
                client, START, START + timedelta(days=2), out, filters=bad, api="query"
            )

    assert caught.value.status == 400
    assert not out.exists()


async def test_secrets_never_reach_logs_manifest_output_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With DEBUG on, neither the secret nor any issued token is written anywhere."""
    out = tmp_path / "out.ndjson"
    caplog.set_level(logging.DEBUG, logger="genesys_async")
    faults = FaultConfig(error_rates={503: 0.05}, seed=2)
    settings = config(days=3, conversations=600, faults=faults, token_lifetime_s=2)
    async with connected(settings) as (simulator, client):
        await export_conversations(
            client, START, START + timedelta(days=3), out, api="query"
        )
        simulator.set_faults(FaultConfig(error_rates={503: 1.0}))
        with pytest.raises(GenesysError) as caught:
            await export_conversations(
                client,
                START,
                START + timedelta(days=3),
                tmp_path / "failed.ndjson",
                api="query",
            )
        secrets = [simulator.client_secret, *simulator.issued_tokens]
        written = "".join(
            path.read_text() for path in tmp_path.rglob("*") if path.is_file()
        )
        seen = "\n".join(
            [caplog.text, written, str(caught.value), repr(caught.value), repr(client)]
        )

    assert len(secrets) > 1
    assert all(secret not in seen for secret in secrets)
