"""The command line: ``genesys-async export``, ``simulate`` and friends.

Exit codes: 0 done; 2 bad usage or input (dates, region, output path,
a manifest of another export, a query the server rejects); 3 authentication
or permission refused; 4 the export failed (the manifest keeps what was
finished: rerun to resume); 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM), both stopped cleanly with the manifest kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import orjson

from ._errors import (
    AuthenticationError,
    ConfigurationError,
    GenesysError,
    IntervalTooLongError,
    ManifestMismatchError,
    OutputError,
    PaginationCapError,
    PermissionDeniedError,
    QueryRejectedError,
)
from ._export import (
    ExportOptions,
    ExportProgress,
    ExportReport,
    export_conversations,
)
from ._intervals import (
    NaiveInstantError,
    OffsetOutOfRangeError,
    check_range,
    from_ms,
    parse_instant,
)
from ._jobs import JobOptions
from ._queries import DIRECTIONS, MEDIA_TYPES, ConversationFilters

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_FAILED = 4
EXIT_INTERRUPTED = 130
# 128 + SIGTERM, what a shell reports for a process SIGTERM killed.
EXIT_TERMINATED = 143

logger = logging.getLogger("genesys_async")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


def parse_when(text: str) -> datetime:
    """A command-line instant: a date is UTC midnight; a time needs an offset.

    Raises:
        argparse.ArgumentTypeError: the text is neither.
    """
    text = text.strip()
    try:
        if _DATE.match(text):
            return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        return from_ms(parse_instant(text))
    except NaiveInstantError:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no offset: add Z for UTC or an offset such as +02:00"
        ) from None
    except OffsetOutOfRangeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2026-09-01) or a date and time with an offset"
            " (2026-09-01T08:00:00Z, 2026-09-01T10:00:00+02:00)"
        ) from None


def _filter_json(text: str) -> dict[str, Any]:
    """A filter object given as JSON text, or as @path to a JSON file."""
    try:
        raw = Path(text[1:]).read_bytes() if text.startswith("@") else text.encode()
        value = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"not a JSON filter object: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("a filter must be a JSON object")
    return value


def _positive(kind: type[int] | type[float]) -> Any:
    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        # nan passes every comparison and inf overflows durations later.
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(
                f"{text} must be a finite number above zero"
            )
        return value

    return convert


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group(
        "where",
        "Credentials come only from GENESYSCLOUD_OAUTHCLIENT_ID and"
        " GENESYSCLOUD_OAUTHCLIENT_SECRET, never from the command line.",
    )
    where.add_argument(
        "--region",
        help="region name such as us-east-1 or eu-west-1"
        " (default: GENESYSCLOUD_REGION)",
    )
    where.add_argument("--api-url", help="API base URL, instead of a region")
    where.add_argument(
        "--login-url", help="login base URL (default: the API URL with login.)"
    )
    where.add_argument(
        "--simulate",
        action="store_true",
        help="export from a built-in simulator started in this process;"
        " no credentials needed",
    )
    where.add_argument(
        "--simulate-conversations",
        type=_positive(int),
        default=25_000,
        metavar="N",
        help="conversations the simulator holds over the range (default 25000)",
    )
    where.add_argument(
        "--simulate-seed", type=int, default=1, help="simulator data seed (default 1)"
    )
    how = parser.add_argument_group("how fast")
    how.add_argument(
        "--rate-limit",
        type=_positive(float),
        default=300.0,
        metavar="PER_MINUTE",
        help="requests per minute your organisation allows, all workers"
        " together (default 300, the Genesys default per OAuth client); requests"
        " leave at 98%% of it, so that jitter does not meet an empty bucket",
    )
    how.add_argument(
        "--concurrency",
        type=_positive(int),
        default=8,
        help="requests in flight at most (default 8)",
    )


def _add_jobs_options(parser: argparse.ArgumentParser) -> None:
    jobs = parser.add_argument_group(
        "bulk history (details jobs)",
        "The synchronous query reaches back about 35 days; details jobs reach"
        " further but hold only data before their dataAvailabilityDate (hours"
        " to a day behind). auto sends the range before that date through"
        " jobs and the rest through the query, and reports that part as"
        " provisional.",
    )
    jobs.add_argument(
        "--api",
        choices=("query", "jobs", "auto"),
        help="how to fetch (default: auto when --start is older than"
        " --query-reach-days, else query)",
    )
    jobs.add_argument(
        "--query-reach-days",
        type=_positive(float),
        default=35.0,
        metavar="DAYS",
        help="how far back the query reaches, for the default --api (default 35)",
    )
    jobs.add_argument(
        "--max-jobs",
        type=_positive(int),
        default=4,
        help="details jobs in flight at once (default 4)",
    )
    jobs.add_argument(
        "--job-poll",
        type=float,
        nargs=2,
        default=(2.0, 60.0),
        metavar=("FIRST", "MAX"),
        help="seconds between a job's status checks: FIRST, doubling up to"
        " MAX (default 2 60)",
    )
    jobs.add_argument(
        "--job-page-size",
        type=_positive(int),
        default=1000,
        help="results per page of a job (default 1000)",
    )
    jobs.add_argument(
        "--job-resubmits",
        type=int,
        default=2,
        metavar="N",
        help="times a FAILED or EXPIRED job is submitted again (default 2)",
    )
    jobs.add_argument(
        "--job-max-wait",
        type=float,
        default=6 * 3600.0,
        metavar="SECONDS",
        help="seconds to wait for one job to end; a job still QUEUED or PENDING"
        " then fails as TIMEOUT and is submitted again (default 21600, 6 h)",
    )


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a subcommand from resetting a -v given before it.
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="-v info, -vv debug",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genesys-async",
        description="Export Genesys Cloud CX conversation analytics at the API"
        " rate limit: chunked, retried, split, exactly once, resumable.",
        epilog="Exit codes: 0 done; 2 bad usage or input; 3 authentication or"
        " permission refused; 4 export failed (rerun to resume); 130 interrupted;"
        " 143 terminated (SIGTERM); after 4, 130 and 143 the same command resumes.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v info, -vv debug"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser(
        "export",
        help="export conversation details for a date range",
        description="Export every conversation whose conversationStart lies in"
        " [start, end), exactly once. Dates are UTC: a date is midnight; a"
        " date and time needs Z or an offset and is converted. The output"
        " appears only when complete; a manifest beside it lets a rerun of"
        " the same command resume after a crash.",
    )
    _add_verbosity(export)
    export.add_argument("--start", required=True, type=parse_when, help="range start")
    export.add_argument(
        "--end", required=True, type=parse_when, help="range end (excluded)"
    )
    export.add_argument("--out", required=True, type=Path, help="output file")
    export.add_argument(
        "--format",
        choices=("ndjson", "json"),
        default="ndjson",
        help="ndjson: one record a line (default); json: one array",
    )
    _add_connection_options(export)
    export.add_argument(
        "--chunk-days",
        type=_positive(float),
        default=7.0,
        help="longest chunk in days (default 7; the server may ask for less)",
    )
    export.add_argument(
        "--page-size",
        type=_positive(int),
        default=100,
        help="records per page (default 100)",
    )
    export.add_argument(
        "--min-chunk-seconds",
        type=_positive(float),
        default=60.0,
        help="a refused chunk shorter than twice this fails instead of"
        " splitting (default 60)",
    )
    _add_jobs_options(export)
    chosen = export.add_argument_group("filters (all must hold)")
    chosen.add_argument(
        "--media-type",
        action="append",
        default=[],
        choices=sorted(MEDIA_TYPES),
        help="a segment of this media type (repeat for any of several)",
    )
    chosen.add_argument(
        "--queue-id",
        action="append",
        default=[],
        help="a segment in this queue (repeat for any of several)",
    )
    chosen.add_argument(
        "--direction",
        choices=sorted(DIRECTIONS),
        help="the conversation's originatingDirection",
    )
    chosen.add_argument(
        "--conversation-filter",
        action="append",
        default=[],
        type=_filter_json,
        metavar="JSON",
        help="a conversationFilters object as the API takes it (or @file.json)",
    )
    chosen.add_argument(
        "--segment-filter",
        action="append",
        default=[],
        type=_filter_json,
        metavar="JSON",
        help="a segmentFilters object as the API takes it (or @file.json)",
    )
    export.add_argument(
        "--restart",
        action="store_true",
        help="ignore the manifest of an earlier run and start over",
    )
    export.add_argument(
        "--report",
        type=Path,
        help="also write the final report as JSON to this file",
    )
    export.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "none"),
        default="auto",
        help="a bar on a terminal, plain lines otherwise (default auto)",
    )
    export.set_defaults(run=_run_export)

    from ._aggregates_cli import add_command as add_aggregates_command

    add_aggregates_command(commands)

    simulate = commands.add_parser(
        "simulate",
        help="serve the built-in Genesys Cloud simulator",
        description="Serve a simulated Genesys Cloud (OAuth token and analytics"
        " routes) on one port, for testing pipelines without credentials.",
    )
    from .simulator import _cli as simulator_cli

    simulator_cli.configure_parser(simulate)
    simulate.set_defaults(run=lambda args: simulator_cli.run(args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING
    if verbosity == 1:
        level = logging.INFO
    elif verbosity > 1:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger("genesys_async")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def exit_code(error: GenesysError) -> int:
    """The exit code that tells a scheduler what kind of failure this was."""
    if isinstance(error, (ConfigurationError, ManifestMismatchError, OutputError)):
        return EXIT_USAGE
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(error, QueryRejectedError) and not isinstance(
        error, (PaginationCapError, IntervalTooLongError)
    ):
        # The query itself is refused (a filter the server rejects, say):
        # rerunning it cannot help, so it is bad input, not a failed export.
        return EXIT_USAGE
    return EXIT_FAILED


def run_command(work: Coroutine[Any, Any, int], failed: str) -> int:
    """Run a command's coroutine; report an error and map it to an exit code.

    Args:
        work: the command, returning its exit code.
        failed: what to tell the user when the work itself failed (exit 4).
    """
    try:
        return asyncio.run(_stoppable(work))
    except _Terminated:
        print(
            "terminated (SIGTERM); rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    except GenesysError as exc:
        _fail(exc)
        code = exit_code(exc)
        if code == EXIT_FAILED:
            print(failed, file=sys.stderr)
        elif isinstance(exc, OutputError):
            # Exit 2 like any path problem, but a full disk mid-export keeps
            # its manifest: say that the same command then resumes.
            print(
                "Fix the output path or free space, then rerun the same command:"
                " finished chunks are kept.",
                file=sys.stderr,
            )
        return code


class _Terminated(Exception):
    """The process received SIGTERM and stopped its work cleanly."""


async def _stoppable(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; SIGTERM cancels it as Ctrl-C does, then raises _Terminated.

    Schedulers stop jobs with SIGTERM, whose default kills at once. Cancelling
    instead unwinds the engine as SIGINT does: spools closed, the manifest
    kept for a resume.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError):  # pragma: no cover (Windows)
        return await work
    try:
        return await work
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _run_export(args: argparse.Namespace) -> int:
    return run_command(
        _export(args),
        "The export is incomplete; nothing was written to the output."
        " Rerun the same command to resume from the manifest.",
    )


def _fail(exc: BaseException) -> None:
    print(f"genesys-async: error: {exc}", file=sys.stderr)


async def _export(args: argparse.Namespace) -> int:
    check_range(args.start, args.end)
    if args.report is not None:
        # Found out now, not after an export of hours that then cannot report.
        _check_report_path(args.report)
    try:
        filters = ConversationFilters(
            conversation_filters=args.conversation_filter,
            segment_filters=args.segment_filter,
            media_types=args.media_type,
            queue_ids=args.queue_id,
            direction=args.direction,
        )
        options = ExportOptions(
            chunk_days=args.chunk_days,
            concurrency=args.concurrency,
            page_size=args.page_size,
            min_chunk_seconds=args.min_chunk_seconds,
        )
        jobs = JobOptions(
            max_jobs=args.max_jobs,
            poll_initial=args.job_poll[0],
            poll_max=args.job_poll[1],
            page_size=args.job_page_size,
            resubmits=args.job_resubmits,
            query_reach_days=args.query_reach_days,
            max_wait=args.job_max_wait,
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc

    progress = ExportProgress()
    async with _client(args) as client:
        display = _ProgressDisplay(progress, client, _progress_mode(args.progress))
        async with display:
            report = await export_conversations(
                client,
                args.start,
                args.end,
                args.out,
                fmt=args.format,
                filters=filters,
                options=options,
                restart=args.restart,
                progress=progress,
                origin=_origin(args),
                # None lets a resume keep the API its manifest records.
                api=args.api,
                jobs=jobs,
            )
    _summarise(report, sys.stdout)
    if args.report is not None:
        try:
            args.report.write_bytes(
                orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"
            )
        except OSError as exc:
            raise OutputError(
                str(args.report), f"{exc.strerror or exc} (the export is complete)"
            ) from exc
    return EXIT_OK


def _check_report_path(report: Path) -> None:
    """Refuse a --report path whose folder is missing or that is a folder."""
    if report.is_dir():
        raise OutputError(str(report), "it is a folder")
    if not report.parent.is_dir():
        raise OutputError(str(report), f"the folder {report.parent} does not exist")


def _origin(args: argparse.Namespace) -> str | None:
    """The data's origin for the manifest: a simulator is known by its data."""
    if not args.simulate:
        return None
    return (
        f"simulator seed={args.simulate_seed}"
        f" conversations={args.simulate_conversations}"
    )


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[Any]:
    """The client the command asked for; with --simulate, a simulator too."""
    from ._client import GenesysClient

    rate = {"rate_limit": args.rate_limit, "rate_period": 60.0}
    connections = max(32, args.concurrency * 2)
    if not args.simulate:
        if args.api_url is None and args.login_url is not None:
            raise ConfigurationError("--login-url needs --api-url")
        if args.api_url is not None and args.region is not None:
            # One would be ignored silently: data from the wrong region.
            raise ConfigurationError(
                "--region and --api-url both say where to export from: give one"
            )
        kwargs: dict[str, Any] = {"max_connections": connections, **rate}
        if args.api_url is not None:
            kwargs.update(api_url=args.api_url, login_url=args.login_url)
        elif args.region is not None:
            kwargs["region"] = args.region
        async with GenesysClient.from_env(**kwargs) as client:
            yield client
        return

    from .simulator import Simulator, SimulatorConfig

    # Data from a day before the range, so conversations crossing its first
    # midnight exist as they would in a real organisation.
    try:
        data_start = args.start - timedelta(days=1)
    except OverflowError:
        raise ConfigurationError(
            "--simulate needs a --start after 0001-01-01: the simulator holds"
            " data from the day before it"
        ) from None
    config = SimulatorConfig(
        seed=args.simulate_seed,
        start=data_start,
        end=args.end,
        conversations=args.simulate_conversations,
        rate_limit=args.rate_limit,
    )
    async with Simulator(config) as simulator:
        logger.info("simulator serving at %s", simulator.base_url)
        async with GenesysClient(
            simulator.client_id,
            simulator.client_secret,
            api_url=simulator.base_url,
            login_url=simulator.base_url,
            max_connections=connections,
            **rate,
        ) as client:
            yield client


def _progress_mode(choice: str) -> str:
    if choice != "auto":
        return choice
    return "bar" if sys.stderr.isatty() else "lines"


class _ProgressDisplay:
    """Shows an export's progress on stderr while it runs.

    A bar redrawn in place on a terminal; a plain line every ``period``
    seconds otherwise, so logs of scheduled runs stay readable.
    """

    def __init__(
        self, progress: ExportProgress, client: Any, mode: str, period: float = 10.0
    ) -> None:
        self._progress = progress
        self._client = client
        self._mode = mode
        self._period = 0.2 if mode == "bar" else period
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _ProgressDisplay:
        if self._mode != "none":
            self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._show(final=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            self._show(final=False)

    def _show(self, final: bool) -> None:
        line = self.line()
        if self._mode == "bar":
            end = "\n" if final else ""
            print(f"\r\x1b[2K{line}", end=end, file=sys.stderr, flush=True)
        elif not final:
            print(line, file=sys.stderr, flush=True)

    def line(self) -> str:
        """One line: chunks, conversations, requests per second, 429s, ETA."""
        p = self._progress
        stats = self._client.stats
        elapsed = max(time.monotonic() - p.started, 1e-9)
        planned = max(p.chunks_planned, 1)
        share = p.chunks_done / planned
        fetched = p.chunks_done - p.chunks_resumed
        eta = "?"
        if fetched > 0 and share < 1:
            remaining = elapsed / fetched * (p.chunks_planned - p.chunks_done)
            eta = _duration(remaining)
        width = 24
        filled = int(width * share)
        bar = "#" * filled + "-" * (width - filled)
        return (
            f"[{bar}] {p.chunks_done}/{p.chunks_planned} chunks"
            f" | {p.conversations} conversations"
            f" | {stats.requests / elapsed:.1f} req/s"
            f" | {stats.responses.get(429, 0)} x 429"
            f" | {p.splits} splits | ETA {eta}"
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _summarise(report: ExportReport, out: TextIO) -> None:
    if report.already_complete:
        print(
            f"{report.output} is already complete ({report.conversations}"
            " conversations); nothing fetched. Use --restart to export again.",
            file=out,
        )
        return
    requests = sum(report.requests.values())
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(report.requests.items()))
    retries = ", ".join(f"{k}: {v}" for k, v in sorted(report.retries.items()))
    print(
        f"Exported {report.conversations} conversations to {report.output}"
        f" in {report.seconds:.1f} s.",
        file=out,
    )
    print(
        f"  chunks: {report.chunks} ({report.chunks_resumed} resumed),"
        f" splits: {report.splits}",
        file=out,
    )
    print(f"  requests: {requests} ({statuses or 'none'})", file=out)
    print(f"  retries: {retries or 'none'}", file=out)
    if report.api != "query":
        print(
            f"  api: {report.api}, data available until"
            f" {report.data_availability or 'unknown'}",
            file=out,
        )
    if report.provisional:
        print(f"  provisional: {', '.join(report.provisional)}", file=out)
    for warning in report.warnings:
        print(f"  warning: {warning}", file=out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
