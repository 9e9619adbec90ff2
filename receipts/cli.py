"""The one ``receipt`` command.

The verifier's commands (``verify``, ``rollup``, ``inspect``) come from ``verifier.cli`` and work
from the base install, as does ``keygen``. The service's commands are registered from
``receipts.commands``; they import the ``server`` extra lazily, so a base install prints a clear
hint instead of a traceback when one is used.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from receipts.errors import ReceiptsError
from verifier.cli import main


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for signing-key.pem (0600) and signing-key.pub.pem.")
def keygen(out_dir: Path) -> None:
    """Make an Ed25519 signing key pair (private key encrypted if $RECEIPTS_KEY_PASSPHRASE)."""
    # imported here, as verifier.keys does: the verifier's commands start faster without it
    from receipts.signing import PASSPHRASE_ENV, write_key_pair

    try:
        signer, private_path, public_path = write_key_pair(out_dir)
    except ReceiptsError as e:
        raise click.ClickException(str(e)) from e
    encrypted = f", encrypted with ${PASSPHRASE_ENV}" if os.environ.get(PASSPHRASE_ENV) else ""
    click.echo(f"private key: {private_path} (mode 0600{encrypted})")
    click.echo(f"public key:  {public_path}")
    click.echo(f"key id:      {signer.kid.hex()}")
    click.echo(f"fingerprint: {signer.fingerprint}")


def _register_service_commands() -> None:
    """Attach the service's commands (module absent until the service lands)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("receipts.commands") is None:
        return
    importlib.import_module("receipts.commands").register(main)


_register_service_commands()

__all__ = ["main"]
