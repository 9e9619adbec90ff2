"""The one ``receipt`` command: the group built explicitly, on the verifier's one error edge.

:func:`build_cli` assembles the group: the auditor's commands from ``verifier.cli`` (``verify``,
``rollup``, ``inspect``, base install), ``keygen``, the service's commands and ``prices`` (which
import the ``server`` extra only when run), and ``spool`` (the ``client`` extra, likewise).
Commands raise; they never print an error or choose an exit code for it.
:class:`ReceiptCommand` is ``verifier.edge.CommandLine`` (the one place errors become a stderr
line and an exit code) taught the service's errors.
"""

from __future__ import annotations

import click

from receipts.cli import prices, service_commands
from receipts.cli.alerts import alerts
from receipts.cli.allocations import allocations
from receipts.cli.audit import audit
from receipts.cli.budgets import budget
from receipts.cli.focus import focus
from receipts.cli.imports import import_logs
from receipts.cli.keygen import keygen
from receipts.cli.policy import policy
from receipts.cli.reconcile import reconcile
from receipts.cli.report import report
from receipts.cli.spool import spool
from receipts.cli.statement import statement
from receipts.cli.tokens import token
from receipts.errors import ReceiptsError
from verifier import cli as verifier_cli
from verifier.edge import EXIT_ERROR, CommandLine, command_line

SERVER_PACKAGES = frozenset({"fastapi", "sqlmodel", "sqlalchemy", "uvicorn", "psycopg", "httpx",
                             "starlette", "pydantic", "orjson", "genai_prices"})
SERVER_HINT = "the receipt service needs the server extra: pip install '.[server]'"


def _is_server_package(module: str | None) -> bool:
    return (module or "").split(".")[0] in SERVER_PACKAGES


class ReceiptCommand(CommandLine):
    """The ``receipt`` group: the verifier's edge plus the service's error tree."""

    def error_line(self, error: Exception) -> tuple[int, str]:
        """Service errors, a missing server extra and database errors; else the verifier's."""
        if isinstance(error, ReceiptsError):
            return error.exit_code, f"error: {error}"
        if isinstance(error, ModuleNotFoundError) and _is_server_package(error.name):
            return EXIT_ERROR, f"error: {SERVER_HINT} (missing {error.name})"
        if type(error).__module__.startswith("sqlalchemy"):
            cause = str(getattr(error, "orig", None) or error).strip()
            first = cause.splitlines()[0] if cause else type(error).__name__
            return EXIT_ERROR, f"error: database: {first}"
        return super().error_line(error)


def build_cli() -> click.Group:
    """The ``receipt`` group with every command, in the order ``--help`` lists them."""
    return command_line(
        "receipt", "Signed, hash-chained cost receipts for LLM calls, and their offline verifier.",
        (*verifier_cli.COMMANDS,
         audit,
         focus,
         reconcile,
         report,
         statement,
         import_logs,
         keygen,
         *service_commands.COMMANDS,
         prices.prices,
         spool,
         alerts,
         budget,
         token,
         policy,
         allocations,
         ),
        group=ReceiptCommand)


main = build_cli()
"""The ``receipt`` console script (``pyproject.toml``) and ``python -m receipts``."""

__all__ = ["build_cli", "main"]
