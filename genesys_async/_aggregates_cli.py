"""The ``genesys-async aggregates`` command: metrics per group and bucket to a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._aggregates import Granularity, export_aggregates
from ._errors import ConfigurationError
from .cli import (
    EXIT_OK,
    _add_connection_options,
    _client,
    _filter_json,
    _positive,
    parse_when,
    run_command,
)

__all__ = ["add_command"]


def _names(text: str) -> list[str]:
    """A comma-separated list such as ``nOffered,tHandle``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _granularity(text: str) -> str:
    try:
        return Granularity.parse(text).text
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_command(subparsers: Any) -> None:
    """Add the ``aggregates`` subcommand to the command line's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "aggregates",
        help="export aggregate metrics per group and time bucket",
        description="Export aggregate metrics (nOffered, tHandle, ...) per group"
        " and time bucket over [start, end). Buckets start at --start and"
        " follow --granularity in --time-zone (a P1D bucket on a DST day lasts"
        " 23 or 25 hours); to get local days, start at a local midnight such as"
        " 2026-10-24T00:00:00+02:00. Dates are UTC: a date is midnight. The"
        " range is queried in chunks of whole buckets, split further when the"
        " server refuses one, and merged so each group and bucket appears once."
        " The output appears only when complete.",
    )
    parser.add_argument("--start", required=True, type=parse_when, help="range start")
    parser.add_argument(
        "--end", required=True, type=parse_when, help="range end (excluded)"
    )
    parser.add_argument(
        "--metrics",
        required=True,
        type=_names,
        help="comma-separated metric names, such as nOffered,tHandle",
    )
    parser.add_argument(
        "--group-by",
        type=_names,
        default=[],
        help="comma-separated dimensions, such as queueId,mediaType (default:"
        " one group)",
    )
    parser.add_argument(
        "--granularity",
        type=_granularity,
        default="PT30M",
        help="bucket length as an ISO-8601 duration: PT15M, PT30M, PT1H, P1D,"
        " P1M or any whole minutes (default PT30M)",
    )
    parser.add_argument(
        "--time-zone",
        default="UTC",
        help="IANA time zone the buckets follow, such as Europe/Berlin (default UTC)",
    )
    parser.add_argument(
        "--filter",
        type=_filter_json,
        metavar="JSON",
        help="the API's filter object {type, predicates, clauses} (or @file.json)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output file")
    parser.add_argument(
        "--format",
        choices=("ndjson", "csv"),
        default="ndjson",
        help="ndjson: one API result (group) a line (default); csv: one row"
        " per group, bucket and metric, a column per stat",
    )
    parser.add_argument(
        "--chunk-days",
        type=_positive(float),
        default=7.0,
        help="longest query in days (default 7; at least one bucket; the"
        " server may ask for less)",
    )
    _add_connection_options(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    return run_command(_export(args), "Nothing was written to the output.")


async def _export(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        report = await export_aggregates(
            client,
            args.start,
            args.end,
            metrics=args.metrics,
            group_by=args.group_by,
            granularity=args.granularity,
            time_zone=args.time_zone,
            filter=args.filter,
            output=args.out,
            fmt=args.format,
            concurrency=args.concurrency,
            chunk_days=args.chunk_days,
        )
    print(
        f"Exported {report.groups} groups, {report.buckets} group buckets"
        f" ({report.rows} {'rows' if report.fmt == 'csv' else 'lines'}) to"
        f" {report.output} in {report.seconds:.1f} s: {report.chunks} queries,"
        f" {report.splits} splits."
    )
    return EXIT_OK
