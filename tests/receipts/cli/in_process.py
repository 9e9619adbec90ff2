"""``receipt`` commands run in the test's own process: the real command group and its one error
edge, without the seconds a fresh interpreter takes to import the server extra."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner

from receipts.cli.main import main


@dataclass
class Ran:
    """What a ``receipt`` command printed and returned."""

    returncode: int
    stdout: str
    stderr: str


def run(*args: str, env: dict[str, str] | None = None) -> Ran:
    """``receipt ARGS`` in this process (the one CLI edge included), with ``env`` set."""
    result = CliRunner().invoke(main, list(args), env=env)
    return Ran(result.exit_code, result.stdout, result.stderr)
