"""Command-line options of the simulator and a `run` that serves until a signal.

`genesys-async simulate ...` and `python -m genesys_async.simulator ...` both use
`configure_parser` and `run`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import datetime, timezone

from genesys_async.simulator._config import FaultConfig, JobsConfig, SimulatorConfig
from genesys_async.simulator._server import Simulator

__all__ = ["configure_parser", "run"]

SECRET_ENV = "GENESYS_SIMULATOR_CLIENT_SECRET"
_D = SimulatorConfig()
_F = FaultConfig()
_J = JobsConfig()


def _date(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _error_rate(text: str) -> tuple[int, float]:
    status, sep, rate = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected STATUS=RATE, e.g. 503=0.05")
    return int(status), float(rate)


def _tail(text: str) -> tuple[float, float]:
    probability, sep, multiplier = text.partition("x")
    if not sep:
        raise argparse.ArgumentTypeError(
            "expected PROBABILITYxMULTIPLIER, e.g. 0.01x20"
        )
    return float(probability), float(multiplier)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add every simulator knob to `parser` as an option."""
    add = parser.add_argument
    off = " ('none' disables it)"
    add(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    add(
        "--port",
        type=int,
        default=8080,
        help="port to listen on, 0 for any free one (default %(default)s)",
    )
    add(
        "--seed",
        type=int,
        default=_D.seed,
        help="data seed: same seed, same conversations (default %(default)s)",
    )
    add(
        "--start",
        type=_date,
        default=_D.start,
        help="earliest conversationStart, ISO-8601, UTC if no offset"
        " (default %(default)s)",
    )
    add(
        "--end",
        type=_date,
        default=_D.end,
        help="end of the data, exclusive (default %(default)s)",
    )
    add(
        "--now",
        type=_date,
        default=None,
        help="the simulated present: conversations still running then have no"
        " conversationEnd (default: --end)",
    )
    add(
        "--conversations",
        type=int,
        default=_D.conversations,
        help="number of conversations between --start and --end (default %(default)s)",
    )
    add(
        "--client-id",
        default=_D.client_id,
        help="the OAuth client id accepted (default %(default)s)",
    )
    add(
        "--client-secret",
        default=None,
        help=f"the OAuth client secret accepted; also read from ${SECRET_ENV}"
        " (default: the built-in test secret); never printed",
    )
    add(
        "--token-lifetime",
        type=int,
        default=_D.token_lifetime_s,
        help="expires_in of issued tokens, seconds (default %(default)s)",
    )
    add(
        "--max-interval-days",
        type=_optional_float,
        default=_D.max_interval_days,
        help="longest query interval, days" + off + " (default %(default)s)",
    )
    add(
        "--pagination-cap",
        type=_optional_int,
        default=_D.pagination_cap,
        help="most results reachable by paging, pageNumber*pageSize"
        + off
        + " (default %(default)s)",
    )
    add(
        "--max-page-size",
        type=_optional_int,
        default=_D.max_page_size,
        help="largest pageSize accepted" + off + " (default %(default)s)",
    )
    add(
        "--max-request-bytes",
        type=_optional_int,
        default=_D.max_request_bytes,
        help="largest request body, bytes, else 413" + off + " (default %(default)s)",
    )
    add(
        "--too-large-threshold",
        type=_optional_int,
        default=None,
        help="answer 413 to any query matching more than this many"
        " conversations (default: off)",
    )
    add(
        "--rate-limit",
        type=_optional_int,
        default=_D.rate_limit,
        help="requests per token per --rate-limit-period, else 429"
        + off
        + " (default %(default)s)",
    )
    add(
        "--rate-limit-period",
        type=float,
        default=_D.rate_limit_period_s,
        help="rate-limit window, seconds (default %(default)s)",
    )
    add(
        "--retry-after",
        choices=("seconds", "http-date", "omit"),
        default=_D.retry_after,
        help="how a 429 gives Retry-After (default %(default)s)",
    )
    add(
        "--error-rate",
        type=_error_rate,
        action="append",
        default=[],
        metavar="STATUS=RATE",
        help="answer STATUS (500, 502, 503, 504) with this probability;"
        " repeatable (default: none)",
    )
    add(
        "--disconnect-rate",
        type=float,
        default=_F.disconnect_rate,
        help="probability of closing the connection without a reply"
        " (default %(default)s)",
    )
    add(
        "--html-error-rate",
        type=float,
        default=_F.html_error_rate,
        help="probability of a 502 with an HTML page (default %(default)s)",
    )
    add(
        "--truncated-json-rate",
        type=float,
        default=_F.truncated_json_rate,
        help="probability of a 200 with cut-off JSON (default %(default)s)",
    )
    add(
        "--empty-body-rate",
        type=float,
        default=_F.empty_body_rate,
        help="probability of a 200 with an empty body (default %(default)s)",
    )
    add(
        "--latency-ms",
        type=float,
        default=_F.latency_ms,
        help="base delay of every API reply, ms (default %(default)s)",
    )
    add(
        "--latency-per-record-ms",
        type=float,
        default=_F.latency_per_record_ms,
        help="extra delay per conversation served, ms (default %(default)s)",
    )
    add(
        "--latency-tail",
        type=_tail,
        default=None,
        metavar="PxM",
        help="with probability P multiply a reply's delay by M, e.g. 0.01x20"
        " (default: off)",
    )
    add(
        "--token-error-rate",
        type=float,
        default=_F.token_error_rate,
        help="probability that /oauth/token answers 503, to exercise a client's"
        " login retry (default %(default)s)",
    )
    add(
        "--fault-seed",
        type=int,
        default=_F.seed,
        help="seed of the fault generator (default %(default)s)",
    )
    _add_jobs_options(parser)


def _add_jobs_options(parser: argparse.ArgumentParser) -> None:
    """The details jobs routes' knobs (`JobsConfig`)."""
    jobs = parser.add_argument_group("details jobs")
    add = jobs.add_argument
    add(
        "--jobs-queued-seconds",
        type=float,
        default=_J.queued_s,
        help="seconds a job stays QUEUED (default %(default)s)",
    )
    add(
        "--jobs-pending-seconds",
        type=float,
        default=_J.pending_s,
        help="seconds a job then stays PENDING (default %(default)s)",
    )
    add(
        "--jobs-fail-first",
        type=int,
        default=_J.fail_first,
        help="the first N jobs end FAILED (default %(default)s)",
    )
    add(
        "--jobs-expire-first",
        type=int,
        default=_J.expire_first,
        help="the next N jobs end EXPIRED (default %(default)s)",
    )
    add(
        "--jobs-fail-rate",
        type=float,
        default=_J.fail_rate,
        help="probability that a later job ends FAILED (default %(default)s)",
    )
    add(
        "--jobs-expire-rate",
        type=float,
        default=_J.expire_rate,
        help="probability that a later job ends EXPIRED (default %(default)s)",
    )
    add(
        "--jobs-max-concurrent",
        type=_optional_int,
        default=_J.max_concurrent_jobs,
        help="jobs QUEUED or PENDING at once, else 429 ('none' disables it;"
        " default %(default)s)",
    )
    add(
        "--jobs-max-results",
        type=_optional_int,
        default=_J.max_results,
        help="conversations one job may hold, else it ends FAILED ('none'"
        " disables it; default %(default)s)",
    )
    add(
        "--jobs-max-page-size",
        type=int,
        default=_J.max_page_size,
        help="largest results pageSize, and the default (default %(default)s)",
    )
    add(
        "--jobs-availability",
        type=_date,
        default=None,
        help="the dataAvailabilityDate, ISO-8601 (default: --now minus"
        " --jobs-availability-lag-hours)",
    )
    add(
        "--jobs-availability-lag-hours",
        type=float,
        default=_J.availability_lag_h,
        help="hours the datalake lags the simulated now (default %(default)s)",
    )


def _jobs_from_args(args: argparse.Namespace) -> JobsConfig:
    return JobsConfig(
        queued_s=args.jobs_queued_seconds,
        pending_s=args.jobs_pending_seconds,
        fail_first=args.jobs_fail_first,
        expire_first=args.jobs_expire_first,
        fail_rate=args.jobs_fail_rate,
        expire_rate=args.jobs_expire_rate,
        max_concurrent_jobs=args.jobs_max_concurrent,
        max_results=args.jobs_max_results,
        max_page_size=args.jobs_max_page_size,
        availability=args.jobs_availability,
        availability_lag_h=args.jobs_availability_lag_hours,
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The `SimulatorConfig` the parsed options describe."""
    secret = args.client_secret or os.environ.get(SECRET_ENV) or _D.client_secret
    tail_p, tail_m = args.latency_tail or (0.0, _F.latency_tail_multiplier)
    faults = FaultConfig(
        error_rates=dict(args.error_rate),
        disconnect_rate=args.disconnect_rate,
        html_error_rate=args.html_error_rate,
        truncated_json_rate=args.truncated_json_rate,
        empty_body_rate=args.empty_body_rate,
        latency_ms=args.latency_ms,
        latency_per_record_ms=args.latency_per_record_ms,
        latency_tail_probability=tail_p,
        latency_tail_multiplier=tail_m,
        seed=args.fault_seed,
        token_error_rate=args.token_error_rate,
    )
    return SimulatorConfig(
        seed=args.seed,
        start=args.start,
        end=args.end,
        conversations=args.conversations,
        now=args.now,
        client_id=args.client_id,
        client_secret=secret,
        token_lifetime_s=args.token_lifetime,
        max_interval_days=args.max_interval_days,
        pagination_cap=args.pagination_cap,
        max_page_size=args.max_page_size,
        max_request_bytes=args.max_request_bytes,
        too_large_threshold=args.too_large_threshold,
        rate_limit=args.rate_limit,
        rate_limit_period_s=args.rate_limit_period,
        retry_after=args.retry_after,
        faults=faults,
        jobs=_jobs_from_args(args),
    )


async def _serve(config: SimulatorConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Simulator(config, host=host, port=port) as sim:
        print(f"Genesys Cloud simulator at {sim.base_url}", flush=True)
        print(f"client id: {sim.client_id}", flush=True)
        print(f"{len(sim.dataset)} conversations; Ctrl-C stops", flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve the simulator the options describe until SIGINT or SIGTERM; exit code."""
    try:
        config = config_from_args(args)
        asyncio.run(_serve(config, args.host, args.port))
    except (ValueError, OSError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    return 0
