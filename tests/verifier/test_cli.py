"""The auditor's CLI: exit codes 0/1/2, JSON output, incremental audits, rollups, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.verifier.signer import Signer, sample_ledger
from verifier.cli import COMMANDS
from verifier.edge import command_line
from verifier.encoding import split_sequence

main = command_line("receipt", "The offline verifier of receipt ledgers.", COMMANDS)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def test_valid_ledger_exits_0_and_summarizes(vectors: Path) -> None:
    code, out, _ = run("verify", str(vectors / "valid/ledger.cbor"),
                       "--key", str(vectors / "test-key.pub.pem"))
    assert code == 0
    assert "VALID" in out and "receipts: 6 in 2 chain(s)" in out
    assert "keys given with --key" in out


def test_without_key_says_it_trusts_the_ledger_keys(vectors: Path) -> None:
    code, out, _ = run("verify", str(vectors / "valid/ledger.cbor"))
    assert code == 0
    assert "keys listed in the ledger itself" in out
    assert "SHA256:" in out


@pytest.mark.parametrize("name", ["invalid/payload-byte-changed.cbor", "invalid/empty.cbor",
                                  "invalid/garbage.cbor", "invalid/json-file.cbor",
                                  "invalid/tail-truncated.cbor"])
def test_invalid_ledgers_exit_1_with_the_failure(vectors: Path, name: str) -> None:
    code, out, _ = run("verify", str(vectors / name), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    expected = json.loads((vectors / "expected.json").read_text())[name]
    assert report["failure"]["code"] == expected["code"]
    assert report["failure"]["item"] == expected["item"]


def test_json_report_of_a_valid_ledger(vectors: Path) -> None:
    code, out, _ = run("verify", str(vectors / "valid/ledger.cbor"), "--json")
    report = json.loads(out)
    assert code == 0 and report["valid"] and report["failure"] is None
    assert report["receipts"] == 6 and report["chains"] == {"c0": 3, "c1": 3}
    assert report["keys_source"] == "ledger"
    assert set(report["totals"]) == {"USD"} and set(report["totals_reporting"]) == {"GBP"}
    assert report["unpriced_receipts"] == 2


def test_usage_errors_exit_2(tmp_path: Path, vectors: Path) -> None:
    assert run("verify", str(tmp_path / "missing.cbor"))[0] == 2
    assert run("verify", str(vectors / "valid/ledger.cbor"), "--key",
               str(tmp_path / "nokey.pem"))[0] == 2
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")
    assert run("verify", str(vectors / "valid/ledger.cbor"), "--key", str(bad_key))[0] == 2
    assert run("verify", str(vectors / "valid/ledger.cbor"), "--bogus")[0] == 2
    assert run("rollup", str(vectors / "valid/ledger.cbor"))[0] == 2  # --by is required
    if hasattr(os, "mkfifo"):  # a path that exists but is no file to read, as /dev/null
        os.mkfifo(tmp_path / "fifo")
        code, _, err = run("rollup", str(tmp_path / "fifo"), "--by", "team")
        assert code == 2 and err.strip() == f"Error: {tmp_path / 'fifo'}: not a regular file"
    code, _, err = run("rollup", str(tmp_path / "missing.cbor"), "--by", "team")
    assert code == 2 and err.strip() == f"Error: {tmp_path / 'missing.cbor'}: no such file"


def test_no_traceback_on_any_input(tmp_path: Path) -> None:
    for i, data in enumerate([b"\xd2", b"\xd2\x84\x40\xa0\x40\x40", b"\x00" * 100,
                              b"\xff" * 10, b"\x5b" + b"\xff" * 8]):
        path = tmp_path / f"in{i}.cbor"
        path.write_bytes(data)
        proc = subprocess.run([sys.executable, "-m", "verifier", "verify", str(path)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout


def test_since_proves_extension_and_save_checkpoint(tmp_path: Path) -> None:
    signer = Signer.generate()
    key = tmp_path / "key.pub.pem"
    key.write_bytes(signer.public_pem())
    small, large = tmp_path / "small.cbor", tmp_path / "large.cbor"
    small.write_bytes(sample_ledger(signer, 40, chains=2))
    large.write_bytes(sample_ledger(signer, 60, chains=2))  # same seed: extends the first
    saved = tmp_path / "audit.ckpt"
    code, out, _ = run("verify", str(small), "--key", str(key), "--save-checkpoint", str(saved))
    assert code == 0 and saved.is_file()
    code, out, _ = run("verify", str(large), "--key", str(key), "--since", str(saved), "--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["receipts"] == 60 and report["verified_in_this_run"] == 20
    assert report["extends_since"] == {"chains": {"c0": {"checkpoint_size": 20, "size": 30},
                                                  "c1": {"checkpoint_size": 20, "size": 30}},
                                       "not_in_checkpoint": []}
    code, out, _ = run("verify", str(large), "--key", str(key), "--since", str(saved))
    assert code == 0
    assert "extends the --since checkpoint (append-only since it was saved): c0 20 -> 30, " \
           "c1 20 -> 30" in out
    # A checkpoint file holding one chain proves that chain only, and says so.
    one_chain = tmp_path / "one-chain.ckpt"
    one_chain.write_bytes(next(item for _, item in split_sequence([saved.read_bytes()])))
    code, out, _ = run("verify", str(large), "--key", str(key), "--since", str(one_chain))
    assert code == 0
    assert "extends the --since checkpoint (append-only since it was saved): c0 20 -> 30" in out
    assert "chains not in that checkpoint (verified from seq 0): c1" in out
    code, out, _ = run("verify", str(large), "--key", str(key), "--json")
    assert json.loads(out)["extends_since"] is None
    # A different history (another seed) does not extend the saved checkpoint.
    other = tmp_path / "other.cbor"
    other.write_bytes(sample_ledger(signer, 60, chains=2, seed=7))
    code, out, _ = run("verify", str(other), "--key", str(key), "--since", str(saved), "--json")
    assert code == 1 and json.loads(out)["failure"]["code"] == "not_an_extension"
    # A shorter ledger (history rolled back) does not either.
    code, out, _ = run("verify", str(small), "--key", str(key), "--since", str(saved), "--json")
    assert code == 0  # equal is an extension
    tiny = tmp_path / "tiny.cbor"
    tiny.write_bytes(sample_ledger(signer, 10, chains=2))
    code, out, _ = run("verify", str(tiny), "--key", str(key), "--since", str(saved), "--json")
    assert code == 1 and json.loads(out)["failure"]["code"] == "not_an_extension"


def test_failed_run_does_not_save_a_checkpoint(tmp_path: Path, vectors: Path) -> None:
    saved = tmp_path / "audit.ckpt"
    code, _, _ = run("verify", str(vectors / "invalid/receipt-deleted.cbor"),
                     "--save-checkpoint", str(saved))
    assert code == 1 and not saved.exists()


def test_rollup_json_csv_table(vectors: Path) -> None:
    ledger = str(vectors / "valid/ledger.cbor")
    code, out, _ = run("rollup", ledger, "--by", "team", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {r["team"] for r in rows} == {"search", "support", "research"}
    assert all({"receipts", "cost", "currency", "unpriced"} <= set(r) for r in rows)
    assert sum(r["receipts"] for r in rows) == 6
    code, out, _ = run("rollup", ledger, "--by", "team", "--by", "provider", "--format", "csv",
                       "--currency", "reporting", "--period", "month")
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert header[:5] == ["team", "provider", "period", "currency", "receipts"]
    assert "2025-12" in out and "GBP" in out
    code, out, _ = run("rollup", ledger, "--by", "cost_center")
    assert code == 0 and "(unattributed)" in out


def test_rollup_refuses_an_invalid_ledger(vectors: Path) -> None:
    ledger = str(vectors / "invalid/cost-not-from-prices.cbor")
    code, _, err = run("rollup", ledger, "--by", "team")
    assert code == 1 and "INVALID" in err
    code, out, _ = run("rollup", ledger, "--by", "team", "--no-verify", "--format", "json")
    assert code == 1 and json.loads(out) == []  # nothing before the first receipt's failure


def test_inspect_prints_receipts_as_json(vectors: Path) -> None:
    code, out, _ = run("inspect", str(vectors / "valid/ledger.cbor"), "--chain", "c1",
                       "--seq", "0")
    assert code == 0
    receipts = json.loads(out)
    assert len(receipts) == 1 and receipts[0]["chain"] == "c1" and receipts[0]["seq"] == 0
    assert receipts[0]["cost"].count(".") == 1  # money as a decimal string
    code, out, _ = run("inspect", str(vectors / "valid/ledger.cbor"))
    assert len(json.loads(out)) == 6


def test_a_forged_since_checkpoint_is_refused(tmp_path: Path) -> None:
    signer, forger = Signer.generate(), Signer.generate()
    ledger = tmp_path / "ledger.cbor"
    ledger.write_bytes(sample_ledger(signer, 30))
    forged_ledger = tmp_path / "forged.cbor"
    forged_ledger.write_bytes(sample_ledger(forger, 30))
    saved = tmp_path / "forged.ckpt"
    assert run("verify", str(forged_ledger), "--save-checkpoint", str(saved))[0] == 0
    code, out, _ = run("verify", str(ledger), "--since", str(saved), "--json")
    assert code == 1
    assert json.loads(out)["failure"]["code"] in ("untrusted_key", "not_an_extension")
