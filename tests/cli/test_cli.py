"""The command line, run as a subprocess against the simulator over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from genesys_async._errors import OutputError
from genesys_async.cli import run_command
from genesys_async.simulator import Simulator, SimulatorConfig

from .conftest import Finished, run, simulate_config, start

START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def _ids(path: Path) -> list[str]:
    return [
        orjson.loads(line)["conversationId"] for line in path.read_bytes().splitlines()
    ]


def _credentials(simulator: Simulator) -> dict[str, str]:
    return {
        "GENESYSCLOUD_OAUTHCLIENT_ID": simulator.client_id,
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": simulator.client_secret,
    }


async def test_simulated_export_is_exact_and_summarised(tmp_path: Path) -> None:
    """``export --simulate`` needs no credentials and writes every conversation once."""
    out = tmp_path / "conversations.ndjson"
    end = START + timedelta(days=10)

    done = await run(
        "export",
        "--simulate",
        "--simulate-conversations",
        "3000",
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-11",
        "--out",
        str(out),
    )

    assert done.code == 0, done.stderr
    async with Simulator(simulate_config(START, end, 3000)) as simulator:
        truth = simulator.ground_truth(START, end)
    ids = _ids(out)
    assert sorted(ids) == sorted(truth)
    assert f"Exported {len(truth)} conversations" in done.stdout


async def test_export_against_a_server_reads_credentials_from_the_environment(
    tmp_path: Path,
) -> None:
    """--api-url plus the two environment variables; the secret is never printed."""
    out = tmp_path / "out.ndjson"
    report = tmp_path / "report.json"
    settings = SimulatorConfig(
        seed=3, start=START, end=START + timedelta(days=3), conversations=800
    )
    async with Simulator(settings) as simulator:
        done = await run(
            "export",
            "--api-url",
            simulator.base_url,
            "--start",
            "2026-09-01",
            "--end",
            "2026-09-03T12:00:00+02:00",
            "--out",
            str(out),
            "--report",
            str(report),
            "-vv",
            env=_credentials(simulator),
        )
        truth = simulator.ground_truth(START, START + timedelta(days=2, hours=10))
        tokens = simulator.issued_tokens

    assert done.code == 0, done.stderr
    assert sorted(_ids(out)) == sorted(truth)
    assert orjson.loads(report.read_bytes())["conversations"] == len(truth)
    printed = done.stdout + done.stderr + report.read_text()
    assert simulator.client_secret not in printed
    assert all(token not in printed for token in tokens)


async def test_wrong_credentials_exit_3_with_a_clear_message(tmp_path: Path) -> None:
    """A refused token grant is an authentication error, not a crash."""
    async with Simulator(SimulatorConfig(conversations=100)) as simulator:
        done = await run(
            "export",
            "--api-url",
            simulator.base_url,
            "--start",
            "2026-09-01",
            "--end",
            "2026-09-02",
            "--out",
            str(tmp_path / "o.ndjson"),
            env={
                "GENESYSCLOUD_OAUTHCLIENT_ID": simulator.client_id,
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": "not-the-secret",
            },
        )

    assert done.code == 3
    assert "error:" in done.stderr
    assert "not-the-secret" not in done.stdout + done.stderr


async def test_role_without_the_permission_exits_3_naming_it(tmp_path: Path) -> None:
    """403 says which permission the OAuth client's role lacks."""
    settings = SimulatorConfig(conversations=100, permissions=frozenset())
    async with Simulator(settings) as simulator:
        done = await run(
            "export",
            "--api-url",
            simulator.base_url,
            "--start",
            "2026-09-01",
            "--end",
            "2026-09-02",
            "--out",
            str(tmp_path / "o.ndjson"),
            env=_credentials(simulator),
        )

    assert done.code == 3
    assert "analytics:conversationDetail:view" in done.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start", "2026-09-10", "--end", "2026-09-01"], "reversed"),
        (["--start", "2026-09-01", "--end", "2026-09-01"], "empty"),
        (["--start", "2026-09-01", "--end", "2999-01-01"], "future"),
        (["--start", "2026-09-01T08:00:00", "--end", "2026-09-02"], "no offset"),
        (["--start", "September", "--end", "2026-09-02"], "not a date"),
        (["--start", "2026-09-01T08:00:00+25:00", "--end", "2026-09-02"], "+25:00"),
        (["--start", "2026-09-01T08:00:00+02:99", "--end", "2026-09-02"], "+02:99"),
        (["--start", "0001-01-01", "--end", "0001-01-02"], "after 0001-01-01"),
    ],
)
async def test_bad_dates_exit_2_with_a_clear_message(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    """Dates are checked before anything is fetched or written."""
    done = await run(
        "export", "--simulate", *arguments, "--out", str(tmp_path / "o.ndjson")
    )

    assert done.code == 2
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        (
            ["--region", "mars-north-1"],
            {
                "GENESYSCLOUD_OAUTHCLIENT_ID": "i",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s",
            },
            "mars-north-1",
        ),
        (
            ["--api-url", "http://api.example.com"],
            {
                "GENESYSCLOUD_OAUTHCLIENT_ID": "i",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s",
            },
            "http",
        ),
        (
            ["--api-url", "not a url"],
            {
                "GENESYSCLOUD_OAUTHCLIENT_ID": "i",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s",
            },
            "URL",
        ),
        (["--region", "eu-west-1"], {}, "GENESYSCLOUD_OAUTHCLIENT_ID"),
        (
            ["--region", "eu-west-1", "--api-url", "https://api.mypurecloud.com"],
            {
                "GENESYSCLOUD_OAUTHCLIENT_ID": "i",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s",
            },
            "give one",
        ),
    ],
)
async def test_bad_connection_settings_exit_2_before_any_request(
    tmp_path: Path, arguments: list[str], env: dict[str, str], message: str
) -> None:
    """Unknown regions, plain HTTP off loopback, bad URLs, missing credentials."""
    done = await run(
        "export",
        *arguments,
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-02",
        "--out",
        str(tmp_path / "o.ndjson"),
        env=env,
    )

    assert done.code == 2, done.stderr
    assert message in done.stderr
    assert "s" * 0 + "GENESYSCLOUD_OAUTHCLIENT_SECRET=" not in done.stderr


async def test_missing_output_folder_exits_2(tmp_path: Path) -> None:
    """The output folder is checked before the first request."""
    done = await run(
        "export",
        "--simulate",
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-02",
        "--out",
        str(tmp_path / "missing" / "o.ndjson"),
    )

    assert done.code == 2
    assert "does not exist" in done.stderr


async def test_rerun_with_other_parameters_is_refused(tmp_path: Path) -> None:
    """A manifest of another export is never mixed into this one."""
    out = tmp_path / "o.ndjson"
    common = [
        "export",
        "--simulate",
        "--simulate-conversations",
        "500",
        "--out",
        str(out),
    ]
    first = await run(*common, "--start", "2026-09-01", "--end", "2026-09-03")
    out.unlink()

    second = await run(*common, "--start", "2026-09-01", "--end", "2026-09-04")

    assert first.code == 0, first.stderr
    assert second.code == 2
    assert "different export" in second.stderr
    assert "--restart" in second.stderr


async def test_rerun_of_a_finished_export_fetches_nothing(tmp_path: Path) -> None:
    """A complete manifest with its output short-circuits; --restart refetches."""
    out = tmp_path / "o.ndjson"
    common = [
        "export",
        "--simulate",
        "--simulate-conversations",
        "500",
        "--out",
        str(out),
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-03",
    ]
    first = await run(*common)
    exported = first.stdout.split()[1]
    written = out.read_bytes()

    again = await run(*common)
    restarted = await run(*common, "--restart")

    assert again.code == 0
    assert f"already complete ({exported} conversations)" in again.stdout
    assert not out.with_name(out.name + ".parts").exists()
    assert restarted.code == 0
    assert "Exported" in restarted.stdout
    assert out.read_bytes() == written


async def _kill_after_chunks(
    process: asyncio.subprocess.Process, manifest: Path, chunks: int
) -> None:
    """SIGKILL the exporter once the manifest records ``chunks`` more chunks."""

    def finished() -> int:
        if not manifest.exists():
            return 0
        return manifest.read_bytes().count(b'"chunk"')

    async def watch(target: int) -> None:
        # The manifest is another process's file: polling it is the only
        # way to see its progress.
        while finished() < target and process.returncode is None:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(watch(finished() + chunks), timeout=60)
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()


def _resumable_export(out: Path, api: str) -> list[str]:
    """A 24-day simulated export in one-day chunks, one request at a time."""
    return [
        "export",
        "--simulate",
        "--simulate-conversations",
        "12000",
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-25",
        "--chunk-days",
        "1",
        "--concurrency",
        "1",
        # 20 requests a second: long enough to be stopped midway, short
        # enough not to wait out the default 300 a minute.
        "--rate-limit",
        "1200",
        "--api",
        api,
        "--out",
        str(out),
    ]


async def _assert_exact_resumed_output(out: Path) -> None:
    """The output holds every conversation the simulator serves, each once."""
    end = START + timedelta(days=24)
    async with Simulator(simulate_config(START, end, 12000)) as simulator:
        served = {r["conversationId"]: r for r in simulator.records(START, end)}
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(records) == len(served)
    assert all(record == served[record["conversationId"]] for record in records)


async def _assert_same_as_uninterrupted(out: Path, api: str) -> None:
    """The output is byte for byte what one uninterrupted run writes.

    Details jobs serve their own record shape and stop at the data
    availability date, so the uninterrupted run is the truth to compare with.
    """
    reference = out.with_name("reference.ndjson")
    whole = await run(*_resumable_export(reference, api))
    assert whole.code == 0, whole.stderr
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("api", ["query", "jobs"])
async def test_export_killed_three_times_resumes_to_an_exact_output(
    tmp_path: Path, api: str
) -> None:
    """kill -9 at several points; each rerun fetches only what is missing."""
    out = tmp_path / "o.ndjson"
    manifest = tmp_path / "o.ndjson.manifest.jsonl"
    command = _resumable_export(out, api)

    for chunks in (2, 5, 5):
        process = await start(*command)
        await _kill_after_chunks(process, manifest, chunks)
        assert process.returncode == -signal.SIGKILL
        assert not out.exists(), "a killed export must not leave an output"
    done = await run(*command)

    assert done.code == 0, done.stderr
    resumed = int(done.stdout.split("(")[1].split(" resumed")[0])
    assert resumed >= 12
    await _assert_same_as_uninterrupted(out, api)
    if api == "query":
        await _assert_exact_resumed_output(out)


async def test_export_killed_at_random_moments_resumes_to_an_exact_output(
    tmp_path: Path,
) -> None:
    """kill -9 wherever it lands: mid-request, mid-commit, mid-assembly."""
    out = tmp_path / "o.ndjson"
    command = _resumable_export(out, "query")
    moments = random.Random(20261203)

    for _ in range(4):
        process = await start(*command)
        # The moment is random on purpose (seeded): a crash comes anywhere.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), moments.uniform(0.5, 3.0))
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        if out.exists():
            # Only a whole export is ever renamed into place.
            await _assert_exact_resumed_output(out)
    done = await run(*command)

    assert done.code == 0, done.stderr
    await _assert_exact_resumed_output(out)


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        ({"dimension": "nosuchdimension", "value": "x"}, "nosuchdimension"),
        ({"dimension": "queueId", "value": 5}, "HTTP 400"),
    ],
    ids=["unknown-dimension", "bad-type"],
)
async def test_filter_the_server_rejects_exits_2_without_a_resume_hint(
    tmp_path: Path, predicate: dict[str, object], message: str
) -> None:
    """Rerunning a rejected query cannot help: it is bad input, not a failure."""
    segment_filter = {"type": "and", "predicates": [predicate]}

    done = await run(
        "export",
        "--simulate",
        "--simulate-conversations",
        "100",
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-02",
        "--segment-filter",
        orjson.dumps(segment_filter).decode(),
        "--out",
        str(tmp_path / "o.ndjson"),
    )

    assert (done.code, message in done.stderr) == (2, True), done.stderr
    assert "resume" not in done.stderr


def test_output_error_exits_2_and_says_the_rerun_resumes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A full disk mid-export is a path problem (2) whose manifest is kept."""

    async def fill_the_disk() -> int:
        raise OutputError("o.ndjson.parts/1.spool", "No space left on device")

    code = run_command(fill_the_disk(), "unused")

    err = capsys.readouterr().err
    assert code == 2
    assert "No space left on device" in err
    assert "rerun the same command" in err
    assert "Traceback" not in err


async def _one_day_export(tmp_path: Path, *extra: str) -> Finished:
    """Run a one-day simulated export into ``tmp_path/o.ndjson``."""
    out = str(tmp_path / "o.ndjson")
    return await run(
        "export",
        "--simulate",
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-02",
        "--out",
        out,
        *extra,
    )


async def test_report_in_a_missing_folder_exits_2_before_any_work(
    tmp_path: Path,
) -> None:
    """The report's folder is checked at start-up, not after the export."""
    done = await _one_day_export(
        tmp_path, "--report", str(tmp_path / "missing" / "r.json")
    )

    assert done.code == 2, done.stderr
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--chunk-days", "0.0000001"], "at least twice"),
        (["--chunk-days", "0.001", "--min-chunk-seconds", "60"], "at least twice"),
        (["--chunk-days", "inf"], "finite"),
        (["--chunk-days", "nan"], "finite"),
        (["--rate-limit", "nan"], "finite"),
        (["--rate-limit", "inf"], "finite"),
        (["--rate-limit", "0"], "above zero"),
        (["--min-chunk-seconds", "inf"], "finite"),
        (["--query-reach-days", "inf"], "finite"),
        (["--concurrency", "inf"], "not a number"),
    ],
)
async def test_unbounded_numbers_exit_2_before_any_work(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    """nan, inf and absurdly short chunks are refused, not run into the ground."""
    done = await _one_day_export(tmp_path, *arguments)

    assert done.code == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
    ids=["SIGTERM", "SIGINT"],
)
async def test_export_stopped_by_a_signal_exits_cleanly_and_resumes(
    tmp_path: Path, stop: signal.Signals, code: int, said: str
) -> None:
    """What schedulers and Ctrl-C send stops the export with its manifest kept."""
    out = tmp_path / "o.ndjson"
    manifest = tmp_path / "o.ndjson.manifest.jsonl"
    command = _resumable_export(out, "query")
    process = await start(*command)

    async def two_chunks_recorded() -> None:
        # Another process's file: polling it is the only way to see progress.
        while not (manifest.exists() and manifest.read_bytes().count(b'"chunk"') >= 2):
            assert process.returncode is None, "the export ended before the signal"
            await asyncio.sleep(0.01)

    await asyncio.wait_for(two_chunks_recorded(), timeout=60)
    process.send_signal(stop)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    done = await run(*command)

    assert process.returncode == code
    assert said in stderr.decode()
    assert "rerun the same command to resume" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert done.code == 0, done.stderr
    assert "0 resumed" not in done.stdout
    await _assert_same_as_uninterrupted(out, "query")


async def test_json_format_writes_one_array_of_the_ndjson_records(
    tmp_path: Path,
) -> None:
    """--format json holds the same records, in the same order, as one array."""
    common = [
        "export",
        "--simulate",
        "--simulate-conversations",
        "500",
        "--start",
        "2026-09-01",
        "--end",
        "2026-09-04",
    ]
    lines, array = tmp_path / "o.ndjson", tmp_path / "o.json"

    as_lines = await run(*common, "--out", str(lines))
    as_array = await run(*common, "--out", str(array), "--format", "json")

    assert (as_lines.code, as_array.code) == (0, 0), as_array.stderr
    records = orjson.loads(array.read_bytes())
    assert records == [orjson.loads(line) for line in lines.read_bytes().splitlines()]
    assert records, "the range holds conversations"
