"""The committed vectors: each verifies as expected.json says, and regenerates byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from verifier import VerifyOptions, audit_ledger
from verifier.keys import load_public_key_pem
from verifier.verify import read_chunks

EXPECTED = __import__("json").loads(
    (Path(__file__).resolve().parents[2] / "spec/vectors/expected.json").read_text()
)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vector_verifies_as_expected(name: str, vectors: Path) -> None:
    want: dict[str, Any] = EXPECTED[name]
    keys = tuple(load_public_key_pem(vectors / k) for k in want["keys"])
    report = audit_ledger(read_chunks(vectors / name), VerifyOptions(trusted_keys=keys, workers=1))
    if want["valid"]:
        assert report.valid, report.failure
        assert report.receipts == want["receipts"]
        assert report.chains == want["chains"]
        assert report.unpriced == want["unpriced"]
    else:
        assert report.failure is not None
        assert report.failure.code == want["code"]
        assert report.failure.position is not None
        assert report.failure.position.item == want["item"]


def test_each_tampering_class_has_its_own_vector() -> None:
    codes = {v["code"] for v in EXPECTED.values() if not v["valid"]}
    for required in ("bad_signature", "bad_protected_header", "untrusted_key", "missing_receipt",
                     "out_of_order", "duplicate_receipt", "chain_fork", "checkpoint_mismatch",
                     "missing_checkpoint", "cost_mismatch", "non_deterministic_encoding",
                     "non_canonical_signature", "malformed_item", "empty_ledger", "truncated"):
        assert required in codes


def test_vectors_regenerate_byte_for_byte(vectors: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(vectors / "generate.py"), "--check"], capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_vectors_checksums(vectors: Path) -> None:
    import hashlib

    for line in (vectors / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split("  ", 1)
        assert hashlib.sha256((vectors / path).read_bytes()).hexdigest() == digest, path


def test_receipt_vector_is_the_first_ledger_receipt(vectors: Path) -> None:
    cose_bytes = (vectors / "receipt.cose").read_bytes()
    assert cose_bytes in (vectors / "valid/ledger.cbor").read_bytes()
    assert (vectors / "receipt-payload.cbor").read_bytes() in cose_bytes


@pytest.mark.parametrize("name", sorted(n for n, v in EXPECTED.items() if "allocations" in v))
def test_allocated_rollup_of_the_vector_is_as_expected(name: str, vectors: Path) -> None:
    from click.testing import CliRunner

    from verifier.cli import COMMANDS
    from verifier.edge import command_line

    main = command_line("receipt", "The offline verifier alone (no service).", COMMANDS)
    result = CliRunner().invoke(main, ["rollup", str(vectors / name), "--with-allocations",
                                       "--format", "json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert __import__("json").loads(result.stdout) == EXPECTED[name]["allocations"]
