"""Run the command line in a subprocess, as a user's shell would."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from genesys_async.simulator import SimulatorConfig

DAY = timedelta(days=1)


@dataclass
class Finished:
    """A finished command: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without Genesys credentials, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    env.update(extra or {})
    return env


async def start(
    *args: str, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``genesys-async ARGS`` without waiting for it."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "genesys_async",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=environment(env),
    )


async def run(*args: str, env: Mapping[str, str] | None = None) -> Finished:
    """Run ``genesys-async ARGS`` to its end."""
    process = await start(*args, env=env)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


def simulate_config(
    start: datetime, end: datetime, conversations: int, seed: int = 1
) -> SimulatorConfig:
    """The simulator that ``export --simulate`` builds for these arguments."""
    return SimulatorConfig(
        seed=seed,
        start=start - DAY,
        end=end,
        conversations=conversations,
        rate_limit=None,
    )


UTC = timezone.utc
