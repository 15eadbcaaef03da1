"""The public surface: names in __all__, and the engines as client methods."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

import genesys_async
from genesys_async import GenesysClient, RetryPolicy
from genesys_async.simulator import Simulator, SimulatorConfig

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
END = START + timedelta(days=3)


def test_every_public_name_is_importable_and_documented() -> None:
    """__all__ lists only real objects, each with a docstring."""
    missing = [
        name for name in genesys_async.__all__ if not hasattr(genesys_async, name)
    ]
    undocumented = [
        name
        for name in genesys_async.__all__
        if not getattr(getattr(genesys_async, name), "__doc__", None)
        and name != "ApiMode"
    ]

    assert missing == []
    assert undocumented == []


async def test_client_methods_run_the_engines(tmp_path: Path) -> None:
    """client.export_conversations and client.conversation_details agree."""
    settings = SimulatorConfig(seed=5, start=START, end=END, conversations=500)
    out = tmp_path / "out.ndjson"
    async with (
        Simulator(settings) as simulator,
        GenesysClient(
            simulator.client_id,
            simulator.client_secret,
            api_url=simulator.base_url,
            retry=RetryPolicy.immediate(),
        ) as client,
    ):
        report = await client.export_conversations(START, END, out, api="query")
        records = client.conversation_details(START, END, api="query")
        async with contextlib.aclosing(records):
            streamed = {record["conversationId"] async for record in records}
        truth = simulator.ground_truth(START, END)

    written = {
        orjson.loads(line)["conversationId"] for line in out.read_bytes().splitlines()
    }
    assert written == truth
    assert streamed == truth
    assert report.conversations == len(truth)


def test_the_requester_protocol_that_types_the_engines_is_public() -> None:
    """Requester, the client argument of every engine, is importable and exported."""
    from genesys_async._http import Requester

    assert (genesys_async.Requester, "Requester" in genesys_async.__all__) == (
        Requester,
        True,
    )


def test_client_methods_carry_the_engines_documentation() -> None:
    """help(client.export_conversations) shows the engine's docstring."""
    assert GenesysClient.export_conversations.__doc__ == (
        genesys_async.export_conversations.__doc__
    )
