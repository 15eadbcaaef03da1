"""The README's promises that a test can hold it to."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_the_quickstart_is_two_commands_that_ci_runs_verbatim() -> None:
    """CI runs each quickstart command exactly as the README prints it."""
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()

    commands = _quickstart_commands()

    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert [command in ci_lines for command in commands] == [True, True]


def test_the_readme_example_names_only_public_names() -> None:
    """The Python example imports what ``genesys_async.__all__`` offers."""
    import genesys_async

    readme = (ROOT / "README.md").read_text()
    imported = re.findall(r"from genesys_async import (.+)", readme)

    names = {name.strip() for line in imported for name in line.split(",")}

    assert names
    assert names <= set(genesys_async.__all__)
