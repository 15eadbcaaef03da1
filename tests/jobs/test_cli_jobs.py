"""The command line's --api modes against its built-in simulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_async import cli
from genesys_async.cli import main


@pytest.fixture(autouse=True)
def _logger_restored() -> Iterator[None]:
    """main() configures the package logger; leave it as other tests expect."""
    logger = logging.getLogger("genesys_async")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _export(tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run one simulated export of September's first week; (exit code, report)."""
    report = tmp_path / "report.json"
    code = main(
        [
            "export",
            "--simulate",
            "--simulate-conversations",
            "1500",
            "--start",
            "2026-09-01",
            "--end",
            "2026-09-08",
            "--out",
            str(tmp_path / "out.ndjson"),
            "--progress",
            "none",
            "--job-poll",
            "0",
            "0",
            "--report",
            str(report),
            *extra,
        ]
    )
    return code, orjson.loads(report.read_bytes())


def test_an_old_range_defaults_to_auto_with_a_provisional_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The simulator's datalake lags 6 hours: that part comes by the query."""
    code, report = _export(tmp_path)

    printed = capsys.readouterr().out
    expected_tail = "2026-09-07T18:00:00.000Z/2026-09-08T00:00:00.000Z"
    assert (code, report["api"], report["provisional"]) == (0, "auto", [expected_tail])
    assert f"provisional: {expected_tail}" in printed


def test_jobs_mode_warns_that_the_tail_is_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A range ending after the availability date is flagged, not hidden."""
    code, report = _export(tmp_path, "--api", "jobs")

    printed = capsys.readouterr().out
    assert (code, report["api"], len(report["warnings"])) == (0, "jobs", 1)
    assert "warning: The range ends after the data availability date" in printed


def test_query_mode_reads_no_availability(tmp_path: Path) -> None:
    """--api query is the synchronous path alone, as before jobs existed."""
    code, report = _export(tmp_path, "--api", "query")

    assert (code, report["api"], report["data_availability"]) == (0, "query", None)
    assert report["provisional"] == []


class _Stopped(Exception):
    """Raised by a stand-in export once it has seen its arguments."""


def test_job_max_wait_reaches_the_job_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--job-max-wait 90: a job still pending after 90 s of waiting fails."""
    seen: list[Any] = []

    async def export(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["jobs"])
        raise _Stopped

    monkeypatch.setattr(cli, "export_conversations", export)

    with pytest.raises(_Stopped):
        _export(tmp_path, "--api", "jobs", "--job-max-wait", "90")

    assert [options.max_wait for options in seen] == [90.0]
