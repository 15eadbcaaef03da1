"""Benchmarks of genesys-async against the simulator: one command, every scenario.

    python -m benchmarks.run            # the full run (several minutes)
    python -m benchmarks.run --quick    # every scenario, small (well under a minute)

The simulator runs in a process of its own, and so does every export, so the
CPU seconds and peak RSS reported are the exporter's alone. Scenarios:

- ceiling: 90 days at ~300 ms latency with a long tail and a rate limit of
  50 requests a second: requests sent against the minimum, achieved rate
  against the limit, share of 429s, wall time against the ideal.
- versus: the same export by a sequential baseline written the tutorial's way
  (`benchmarks/_sequential.py`) and by genesys-async, in alternating runs.
- memory: peak RSS of the exporting process for two sizes, 10x apart.
- cpu: exporter CPU seconds per 10,000 conversations against an instant,
  unlimited simulator, beside the CPU of merely parsing the same replies.

Results go to `benchmarks/results/latest.json` and a chart of requests per
second over time to `benchmarks/results/requests_per_second.png` (the quick
mode writes `quick.json` and `quick_requests_per_second.png`).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
END = START + timedelta(days=90)
CLIENT_ID = "benchmark-client"
CLIENT_SECRET = "benchmark-secret"  # the simulator's, on loopback only
PAGE_SIZE = 100
MAX_INTERVAL_DAYS = 7

# Median 300 ms for a full page (200 ms + 1 ms a record); 3% of replies take 8x.
REALISTIC_LATENCY = {
    "latency_ms": 200.0,
    "latency_per_record_ms": 1.0,
    "latency_tail_probability": 0.03,
    "latency_tail_multiplier": 8.0,
}
# 3,000 a minute as 50 a second, so that the bucket a fresh token starts with
# (one period's worth) is a second of requests, not the whole run.
RATE_LIMIT = 50
RATE_PERIOD_S = 1.0
UNLIMITED = 1_000_000.0
# The client's limiter in the second ceiling run, as a share of the server's.
HEADROOM = 0.02


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is in one mode."""

    ceiling_conversations: int
    ceiling_concurrency: int
    versus_conversations: int
    versus_rounds: int
    memory_conversations: tuple[int, int]
    cpu_conversations: int


FULL = Sizes(100_000, 64, 20_000, 2, (100_000, 1_000_000), 100_000)
QUICK = Sizes(10_000, 64, 1_000, 1, (10_000, 50_000), 10_000)


# -- processes ------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["GENESYSCLOUD_OAUTHCLIENT_ID"] = CLIENT_ID
    env["GENESYSCLOUD_OAUTHCLIENT_SECRET"] = CLIENT_SECRET
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    return env


@contextmanager
def simulator(**config: Any) -> Iterator[str]:
    """Run the simulator in a child process; yield its base URL."""
    spec = {
        "start": START.isoformat(),
        "end": END.isoformat(),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "max_interval_days": MAX_INTERVAL_DAYS,
        **config,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._simulator", orjson.dumps(spec).decode()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process exited before listening")
        yield str(orjson.loads(line)["base_url"])
    finally:
        process.terminate()
        process.wait(timeout=30)


def child(module: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run `python -m module spec` and return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", module, orjson.dumps(spec).decode()],
        capture_output=True,
        env=_env(),
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace"))
        raise RuntimeError(f"{module} failed with exit code {done.returncode}")
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def export(base_url: str, folder: Path, **spec: Any) -> dict[str, Any]:
    """One genesys-async export in its own process, with the given client knobs."""
    full = {
        "base_url": base_url,
        "start": START.isoformat(),
        "end": END.isoformat(),
        "output": str(folder / f"export-{time.monotonic_ns()}.ndjson"),
        "page_size": PAGE_SIZE,
        **spec,
    }
    return child("benchmarks._exporter", full)


# -- ground truth ------------------------------------------------------------------


def expected_and_minimum(conversations: int) -> tuple[int, int]:
    """Conversations starting in the range, and the fewest requests that get them.

    The fewest: the range in as few chunks as the server's interval limit
    allows, each paged once (ceil(matches / page size), at least one page).
    Computed with the simulator's own matching, in this process.
    """
    from genesys_async.simulator import Dataset
    from genesys_async.simulator._query import find_matches, parse_details_query

    data = Dataset(seed=1, start=START, end=END, conversations=conversations)
    start_ms = int(START.timestamp() * 1000)
    end_ms = int(END.timestamp() * 1000)
    step = MAX_INTERVAL_DAYS * 86_400_000
    requests = 0
    for low in range(start_ms, end_ms, step):
        high = min(low + step, end_ms)
        query = parse_details_query(
            {
                "interval": f"{_iso_ms(low)}/{_iso_ms(high)}",
                "paging": {"pageSize": PAGE_SIZE, "pageNumber": 1},
            }
        )
        requests += max(1, math.ceil(len(find_matches(data, query)) / PAGE_SIZE))
    return len(data.index_range(start_ms, end_ms)), requests


def _iso_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- scenarios ---------------------------------------------------------------------


def _api_requests(result: dict[str, Any]) -> int:
    return int(result["requests_sent"]) - int(result["token_requests"])


def _last_send(samples: list[dict[str, Any]]) -> float:
    """Seconds from the start to the sample that first saw the final count."""
    final = samples[-1]["requests"]
    return float(next(s["t"] for s in samples if s["requests"] == final))


def _ceiling_figures(
    result: dict[str, Any], minimum: int, expected: int
) -> dict[str, Any]:
    sent = _api_requests(result)
    wall = result["wall_s"]
    rate = RATE_LIMIT / RATE_PERIOD_S
    too_many = int(result["report"]["requests"].get("429", 0))
    accepted = sent - too_many
    sending = _last_send(result["samples"])
    # What the server would have accepted while the exporter still had
    # requests to send: the bucket a new token starts with, then the rate.
    offered = RATE_LIMIT + rate * sending
    return {
        "conversations_expected": expected,
        "conversations_exported": result["report"]["conversations"],
        "requests_minimum": minimum,
        "requests_sent": sent,
        "requests_extra_pct": round(100 * (sent - minimum) / minimum, 2),
        "responses_by_status": result["report"]["requests"],
        "share_429_pct": round(100 * too_many / sent, 3),
        "limit_rps": rate,
        "sending_s": sending,
        "accepted_rps_while_sending": round(accepted / sending, 2),
        "share_of_ceiling_pct": round(100 * accepted / offered, 1),
        "achieved_rps_overall": round(sent / wall, 2),
        "wall_s": wall,
        "ideal_s": round(minimum / rate, 2),
        "ideal_after_initial_bucket_s": round(max(0, minimum - RATE_LIMIT) / rate, 2),
        "wall_over_ideal": round(wall / (minimum / rate), 3),
        "shared_pauses": result["pauses"],
        "retries": result["report"]["retries"],
        "samples": result["samples"],
    }


def ceiling(sizes: Sizes, folder: Path) -> dict[str, Any]:
    """How close an export comes to the rate limit, and at what cost in 429s.

    Run twice: with the client's limiter at the full limit (rate_headroom 0),
    and with the default 2% headroom, to show what the margin does to 429s
    and to throughput.
    """
    parameters = {
        "days": 90,
        "conversations": sizes.ceiling_conversations,
        "rate_limit": RATE_LIMIT,
        "rate_period_s": RATE_PERIOD_S,
        "latency": REALISTIC_LATENCY,
        "max_interval_days": MAX_INTERVAL_DAYS,
        "page_size": PAGE_SIZE,
        "concurrency": sizes.ceiling_concurrency,
        "rate_headrooms": [0.0, HEADROOM],
    }
    _announce("ceiling", parameters)
    expected, minimum = expected_and_minimum(sizes.ceiling_conversations)
    results = []
    for headroom in (0.0, HEADROOM):
        with simulator(
            conversations=sizes.ceiling_conversations,
            rate_limit=RATE_LIMIT,
            rate_limit_period_s=RATE_PERIOD_S,
            faults=REALISTIC_LATENCY,
        ) as base_url:
            results.append(
                export(
                    base_url,
                    folder,
                    rate_limit=RATE_LIMIT,
                    rate_headroom=headroom,
                    rate_period=RATE_PERIOD_S,
                    concurrency=sizes.ceiling_concurrency,
                    max_connections=sizes.ceiling_concurrency,
                )
            )
        print(f"  rate headroom {headroom:g} done", flush=True)

    figures = _ceiling_figures(results[0], minimum, expected)
    figures["default_2pct_headroom"] = _ceiling_figures(results[1], minimum, expected)
    return _done("ceiling", parameters, figures)


def versus(sizes: Sizes, folder: Path) -> dict[str, Any]:
    """The sequential baseline against genesys-async, alternating, same data."""
    parameters = {
        "days": 90,
        "conversations": sizes.versus_conversations,
        "rate_limit": RATE_LIMIT,
        "rate_period_s": RATE_PERIOD_S,
        "latency": REALISTIC_LATENCY,
        "max_interval_days": MAX_INTERVAL_DAYS,
        "baseline": "one request at a time, 30-day chunks split as refused,"
        " pages one after another (benchmarks/_sequential.py)",
        "genesys_async_concurrency": sizes.ceiling_concurrency,
        "rounds": sizes.versus_rounds,
    }
    _announce("versus", parameters)
    expected, _ = expected_and_minimum(sizes.versus_conversations)
    sequential: list[dict[str, Any]] = []
    parallel: list[dict[str, Any]] = []
    with simulator(
        conversations=sizes.versus_conversations,
        rate_limit=RATE_LIMIT,
        rate_limit_period_s=RATE_PERIOD_S,
        faults=REALISTIC_LATENCY,
    ) as base_url:
        for round_number in range(sizes.versus_rounds):
            # Alternate which goes first, so drift in the machine's load
            # falls on both alike.
            order = ["sequential", "genesys-async"]
            if round_number % 2:
                order.reverse()
            for who in order:
                if who == "sequential":
                    spec = {
                        "base_url": base_url,
                        "start": START.isoformat(),
                        "end": END.isoformat(),
                        "output": str(folder / "sequential.ndjson"),
                        "page_size": PAGE_SIZE,
                    }
                    sequential.append(child("benchmarks._sequential", spec))
                else:
                    parallel.append(
                        export(
                            base_url,
                            folder,
                            rate_limit=RATE_LIMIT,
                            rate_period=RATE_PERIOD_S,
                            concurrency=sizes.ceiling_concurrency,
                            max_connections=sizes.ceiling_concurrency,
                        )
                    )
                print(f"  round {round_number + 1}: {who} done", flush=True)

    seq_wall = [r["wall_s"] for r in sequential]
    par_wall = [r["wall_s"] for r in parallel]
    figures = {
        "conversations_expected": expected,
        "sequential_conversations": [r["conversations"] for r in sequential],
        "genesys_async_conversations": [r["report"]["conversations"] for r in parallel],
        "sequential_wall_s": seq_wall,
        "genesys_async_wall_s": par_wall,
        "sequential_requests": [r["requests_sent"] for r in sequential],
        "genesys_async_requests": [_api_requests(r) for r in parallel],
        "genesys_async_429s": [
            int(r["report"]["requests"].get("429", 0)) for r in parallel
        ],
        "speedup_median": round(
            statistics.median(seq_wall) / statistics.median(par_wall), 2
        ),
    }
    return _done("versus", parameters, figures)


def memory(sizes: Sizes, folder: Path) -> dict[str, Any]:
    """Peak RSS of the exporting process for two sizes, 10x apart."""
    small, large = sizes.memory_conversations
    parameters = {
        "days": 90,
        "conversations": [small, large],
        "simulator": "instant (no latency), no rate limit",
        "concurrency": 8,
        "output": "NDJSON file",
    }
    _announce("memory", parameters)
    runs = {}
    for conversations in (small, large):
        with simulator(conversations=conversations, rate_limit=None) as base_url:
            runs[conversations] = export(
                base_url,
                folder,
                rate_limit=UNLIMITED,
                rate_period=1.0,
                concurrency=8,
                max_connections=8,
            )
        print(f"  {conversations} conversations done", flush=True)
    figures: dict[str, Any] = {}
    for conversations, result in runs.items():
        figures[f"peak_rss_mb_{conversations}"] = result["peak_rss_mb"]
        figures[f"rss_before_export_mb_{conversations}"] = result[
            "rss_before_export_mb"
        ]
        figures[f"wall_s_{conversations}"] = result["wall_s"]
        figures[f"exported_{conversations}"] = result["report"]["conversations"]
        figures[f"rss_samples_{conversations}"] = [
            [s["t"], s["rss_mb"]] for s in result["samples"] if s["rss_mb"] is not None
        ]
    figures["large_over_small_pct"] = round(
        100 * (runs[large]["peak_rss_mb"] / runs[small]["peak_rss_mb"] - 1), 1
    )
    return _done("memory", parameters, figures)


def cpu(sizes: Sizes, folder: Path) -> dict[str, Any]:
    """Exporter CPU per 10,000 conversations beside the CPU of parsing alone."""
    conversations = sizes.cpu_conversations
    parameters = {
        "days": 90,
        "conversations": conversations,
        "simulator": "instant (no latency), no rate limit",
        "concurrency": 8,
    }
    _announce("cpu", parameters)
    with simulator(conversations=conversations, rate_limit=None) as base_url:
        result = export(
            base_url,
            folder,
            rate_limit=UNLIMITED,
            rate_period=1.0,
            concurrency=8,
            max_connections=8,
        )
        parse = child(
            "benchmarks._parse",
            {
                "base_url": base_url,
                "start": START.isoformat(),
                "end": END.isoformat(),
                "page_size": PAGE_SIZE,
            },
        )
    per = result["report"]["conversations"] / 10_000
    export_cpu = result["export_cpu_s"] / per
    parse_cpu = parse["parse_cpu_s"] / per
    figures = {
        "exported": result["report"]["conversations"],
        "api_requests": _api_requests(result),
        "reply_bytes": parse["bytes"],
        "export_cpu_s": result["export_cpu_s"],
        "export_wall_s": result["wall_s"],
        "process_cpu_s": result["process_cpu_s"],
        "exporter_cpu_s_per_10k": round(export_cpu, 3),
        "parse_only_cpu_s_per_10k": round(parse_cpu, 3),
        "parse_and_dump_cpu_s_per_10k": round(parse["parse_and_dump_cpu_s"] / per, 3),
        "exporter_over_parse": round(export_cpu / parse_cpu, 2),
    }
    return _done("cpu", parameters, figures)


SCENARIOS = {"ceiling": ceiling, "versus": versus, "memory": memory, "cpu": cpu}


# -- reporting --------------------------------------------------------------------


def _announce(name: str, parameters: dict[str, Any]) -> None:
    print(f"\n== {name}", flush=True)
    for key, value in parameters.items():
        print(f"  {key}: {value}", flush=True)


def _done(
    name: str, parameters: dict[str, Any], figures: dict[str, Any]
) -> dict[str, Any]:
    print(f"-- {name} results", flush=True)
    _show(figures, "  ")
    return {"scenario": name, "parameters": parameters, "figures": figures}


def _show(figures: dict[str, Any], indent: str) -> None:
    for key, value in figures.items():
        if "samples" in key:
            continue
        if isinstance(value, dict) and key not in ("responses_by_status", "retries"):
            print(f"{indent}{key}:", flush=True)
            _show(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}", flush=True)


def _rates(samples: list[dict[str, Any]], bin_s: float) -> tuple[list[float], ...]:
    """Requests per second in bins of `bin_s` seconds, from cumulative samples."""
    times, rates = [], []
    edge, before = bin_s, samples[0]
    for sample in samples:
        if sample["t"] >= edge or sample is samples[-1]:
            span = sample["t"] - before["t"]
            if span > 0:
                times.append(before["t"])
                rates.append((sample["requests"] - before["requests"]) / span)
            before, edge = sample, sample["t"] + bin_s
    return times, rates


def chart(ceiling_result: dict[str, Any], path: Path) -> None:
    """Requests per second over time in the ceiling runs, against the limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = ceiling_result["figures"]
    runs = [
        ("rate_headroom=0 (the full limit)", figures),
        ("default rate_headroom=0.02", figures["default_2pct_headroom"]),
    ]
    limit = figures["limit_rps"]
    figure, axes = plt.subplots(figsize=(9, 4.5))
    for label, run in runs:
        times, rates = _rates(run["samples"], 0.5)
        too_many = run["responses_by_status"].get("429", 0)
        axes.step(
            times,
            rates,
            where="post",
            label=f"{label}: {run['wall_s']:.1f} s, {too_many} x 429",
        )
    axes.axhline(limit, color="red", linestyle="--", label=f"rate limit ({limit:g}/s)")
    axes.set_xlabel("seconds since the export began")
    axes.set_ylabel("requests sent per second (0.5 s bins)")
    parameters = ceiling_result["parameters"]
    axes.set_title(
        f"ceiling: {parameters['conversations']:,} conversations over"
        f" {parameters['days']} days, ~300 ms latency"
    )
    axes.set_ylim(bottom=0)
    axes.legend(loc="lower center", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _merged_results(path: Path, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results in ``path`` with the scenarios of ``fresh`` replaced."""
    try:
        held = orjson.loads(path.read_bytes()).get("results", [])
    except (FileNotFoundError, orjson.JSONDecodeError):
        held = []
    ran = {result["scenario"] for result in fresh}
    kept = [result for result in held if result.get("scenario") not in ran]
    order = list(SCENARIOS)
    merged = kept + fresh
    return sorted(merged, key=lambda result: order.index(result["scenario"]))


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; write the JSON results and the chart."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument(
        "--quick", action="store_true", help="every scenario, small: a smoke check"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        help="run this scenario only (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    names = args.only or list(SCENARIOS)

    began = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="genesys-bench-") as folder:
        for name in names:
            result = SCENARIOS[name](sizes, Path(folder))
            result["generated"] = _now()
            results.append(result)

    stem = "quick" if args.quick else "latest"
    prefix = "quick_" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    if args.only:
        # A partial run replaces its own scenarios' entries and keeps the
        # others, so `--only cpu` does not throw away a full run's figures.
        results = _merged_results(RESULTS / f"{stem}.json", results)
    document = {
        "mode": "quick" if args.quick else "full",
        "generated": _now(),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "seconds": round(time.monotonic() - began, 1),
        "results": results,
    }
    (RESULTS / f"{stem}.json").write_bytes(
        orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    )
    for result in results:
        if result["scenario"] == "ceiling":
            chart(result, RESULTS / f"{prefix}requests_per_second.png")
    print(f"\nwrote {RESULTS / f'{stem}.json'} in {document['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
