"""``receipt keygen``: an Ed25519 signing key pair, from the base install."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for signing-key.pem (0600) and signing-key.pub.pem.")
def keygen(out_dir: Path) -> None:
    """Make an Ed25519 signing key pair (private key encrypted if $RECEIPTS_KEY_PASSPHRASE)."""
    # imported here, as verifier.keys does: the verifier's commands start faster without it
    from receipts.deployment.signing_key import PASSPHRASE_ENV, write_key_pair

    signer, private_path, public_path = write_key_pair(out_dir)
    encrypted = f", encrypted with ${PASSPHRASE_ENV}" if os.environ.get(PASSPHRASE_ENV) else ""
    click.echo(f"private key: {private_path} (mode 0600{encrypted})")
    click.echo(f"public key:  {public_path}")
    click.echo(f"key id:      {signer.kid.hex()}")
    click.echo(f"fingerprint: {signer.fingerprint}")
