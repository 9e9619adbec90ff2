"""`receipt keygen`: key files, modes, key id, passphrase encryption, no overwrite."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from receipts.cli.main import main
from receipts.deployment.signing_key import PASSPHRASE_ENV, Signer, load_signer
from receipts.errors import KeyFileError
from verifier import cose
from verifier.keys import key_id, load_public_key_pem


def test_keygen_writes_a_private_key_0600_and_a_public_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "k/signing-key.pem", tmp_path / "k/signing-key.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"ENCRYPTED" not in private.read_bytes()
    signer = load_signer(private)
    pub = load_public_key_pem(public)
    assert pub.raw == signer.public_key
    assert pub.kid == key_id(signer.public_key) == signer.kid
    assert signer.kid.hex() in result.output and signer.fingerprint in result.output
    assert "PRIVATE" not in result.output


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["keygen", "--out", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "signing-key.pem").read_bytes()
    again = runner.invoke(main, ["keygen", "--out", str(tmp_path)])
    assert again.exit_code != 0 and "refusing to overwrite" in again.output
    assert (tmp_path / "signing-key.pem").read_bytes() == before


def test_keygen_where_it_cannot_write_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = CliRunner().invoke(main, ["keygen", "--out", str(tmp_path / "a-file" / "keys")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    assert "cannot write the key pair in" in result.output
    assert "Traceback" not in result.output


def test_passphrase_encrypts_the_private_key(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    assert CliRunner().invoke(main, ["keygen", "--out", str(tmp_path)]).exit_code == 0
    private = tmp_path / "signing-key.pem"
    assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
    assert load_signer(private).public_key == load_public_key_pem(
        tmp_path / "signing-key.pub.pem").raw
    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(KeyFileError, match="encrypted"):
        load_signer(private)
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    with pytest.raises(KeyFileError):
        load_signer(private)


def test_a_world_readable_private_key_is_refused(tmp_path: Path) -> None:
    CliRunner().invoke(main, ["keygen", "--out", str(tmp_path)])
    private = tmp_path / "signing-key.pem"
    private.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signer(private)


def test_signer_never_shows_its_secret() -> None:
    signer = Signer(b"\x11" * 32)
    assert "11111111" not in repr(signer)
    item = signer.sign(cose.CHECKPOINT, {"v": 1})
    assert b"\x11" * 32 not in item


def test_signer_signs_exactly_as_pynacl_signing_key() -> None:
    """The signer calls libsodium's crypto_sign directly: the item must be byte for byte what
    PyNaCl's SigningKey gives (Ed25519 is deterministic) and verify under the public key."""
    import nacl.signing

    seed = bytes(range(32))
    signer = Signer(seed)
    reference = nacl.signing.SigningKey(seed)
    assert signer.public_key == bytes(reference.verify_key)
    for payload in (b"\xa0", b"\xa1\x61v\x01" * 300):
        item = signer.sign_payload_bytes(cose.RECEIPT, payload)
        env = cose.parse(item)
        assert env.payload == payload
        assert env.signature == reference.sign(env.signed_bytes()).signature
        reference.verify_key.verify(env.signed_bytes(), env.signature)
