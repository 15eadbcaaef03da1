"""`python -m genesys_async.simulator`: serve the simulator from a shell."""

from __future__ import annotations

import argparse
import sys

from genesys_async.simulator._cli import configure_parser, run


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (None means the process's) and serve until a signal."""
    parser = argparse.ArgumentParser(
        prog="python -m genesys_async.simulator",
        description="Serve a simulated Genesys Cloud (OAuth and analytics API).",
    )
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
