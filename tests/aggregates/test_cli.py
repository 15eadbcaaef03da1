"""The `aggregates` subcommand, run against its own built-in simulator."""

from __future__ import annotations

import argparse
import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from genesys_async._aggregates_cli import add_command
from genesys_async.simulator import Dataset

START = datetime(2026, 10, 24, tzinfo=timezone.utc)
END = datetime(2026, 10, 26, tzinfo=timezone.utc)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="genesys-async")
    add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def _argv(out: Path, *more: str) -> list[str]:
    return [
        "aggregates",
        "--simulate",
        "--simulate-conversations",
        "400",
        "--start",
        "2026-10-24",
        "--end",
        "2026-10-26",
        "--metrics",
        "nOffered,tHandle",
        "--group-by",
        "queueId",
        "--granularity",
        "PT1H",
        "--time-zone",
        "Europe/Berlin",
        "--out",
        str(out),
        *more,
    ]


def test_csv_export_from_the_simulator_counts_what_its_records_hold(
    tmp_path: Path, truth: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "queues.csv"

    code = _run(_argv(out, "--format", "csv"))

    # The command's simulator holds data from a day before the range.
    data = Dataset(seed=1, start=START - timedelta(days=1), end=END, conversations=400)
    records = (data.record(i) for i in range(len(data)))
    start_ms, end_ms = (int(t.timestamp() * 1000) for t in (START, END))
    offered = [
        m
        for m in truth.emitted_metrics(records)
        if m.name == "nOffered" and start_ms <= m.emit_ms < end_ms
    ]
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert code == 0
    assert len(offered) == sum(
        int(r["count"]) for r in rows if r["metric"] == "nOffered"
    )
    assert "Exported" in capsys.readouterr().out


def test_a_missing_output_folder_exits_2_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(_argv(tmp_path / "nowhere" / "out.ndjson"))

    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_granularity_in_seconds_is_refused_as_usage(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        _run(_argv(tmp_path / "out.ndjson", "--granularity", "PT30S"))

    assert caught.value.code == 2
