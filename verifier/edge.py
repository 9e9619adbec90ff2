"""The command line's one error edge: every error becomes one stderr line and an exit code.

Commands raise; they never print an error or pick an exit code for it (they may return the
code of a completed run, such as 1 for an INVALID ledger, spec §9.4). :class:`CommandLine` is a
click group whose :meth:`~CommandLine.main` is the only ``except`` that turns errors into
output: the auditor's ``python -m verifier`` uses it as it is, and the service's ``receipt``
command extends :meth:`~CommandLine.error_line` with its own error tree.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from verifier.errors import UsageError, VerifierError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CommandLine(click.Group):
    """A click group that exits with one line on stderr for any error, never a traceback."""

    def error_line(self, error: Exception) -> tuple[int, str]:
        """The exit code and the stderr line for an error that reached the edge."""
        if isinstance(error, UsageError):
            return EXIT_USAGE, f"error: {error}"
        if isinstance(error, VerifierError):
            return EXIT_ERROR, f"error: {error}"
        if isinstance(error, OSError):
            return EXIT_USAGE, f"error: {error.filename or ''}: {error.strerror or error}"
        return EXIT_ERROR, (f"error: internal error ({type(error).__name__}: {error}); "
                            "please report it")

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> NoReturn:
        """Run the command line; exit with the command's code or the error's."""
        try:
            code = super().main(args, prog_name or self.name, complete_var,
                                standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_ERROR)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except Exception as e:  # the promise is "never a traceback"
            status, line = self.error_line(e)
            click.echo(line, err=True)
            sys.exit(status)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def command_line(name: str, help_text: str, commands: tuple[click.Command, ...],
                 group: type[CommandLine] = CommandLine) -> CommandLine:
    """A command line group named ``name`` holding ``commands``, with ``-h`` and ``--version``."""
    line = group(name, context_settings={"help_option_names": ["-h", "--help"]}, help=help_text)
    click.version_option(package_name="receipts", prog_name=name)(line)
    for command in commands:
        line.add_command(command)
    return line
