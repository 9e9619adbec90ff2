"""``receipt prices update/show/diff`` and book files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from receipts.cli.main import main
from receipts.errors import PriceBookFileError
from receipts.pricing.book_files import read_book, write_book
from receipts.pricing.book_update import BuiltBook


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["prices", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def two_books(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Books before and after OpenAI's o3 price cut of 2025-06-10."""
    out = tmp_path_factory.mktemp("books")
    hashes = []
    for at in ("2025-06-01", "2025-07-01T00:00:00Z"):
        code, stdout, _ = run("update", "--out", str(out), "--at", at)
        assert code == 0
        hashes.append(stdout.strip())
    return out / f"{hashes[0]}.cbor", out / f"{hashes[1]}.cbor"


def test_update_writes_the_book_named_by_its_hash_and_prints_only_the_hash(
        two_books: tuple[Path, Path]) -> None:
    for path in two_books:
        data = path.read_bytes()
        assert path.name == hashlib.sha256(data).hexdigest() + ".cbor"
        assert read_book(path).effective_from in (1_748_736_000_000, 1_751_328_000_000)


def test_update_reports_on_stderr(tmp_path: Path) -> None:
    code, stdout, stderr = run("update", "--out", str(tmp_path), "--at", "2026-11-01")
    assert code == 0
    assert len(stdout.strip()) == 64
    assert "models:" in stderr and "refused:" in stderr and "upcoming:" in stderr
    assert "effective in the past" in stderr


def test_update_strict_refuses_inexact_prices(tmp_path: Path) -> None:
    code, stdout, stderr = run("update", "--out", str(tmp_path), "--strict", "--at",
                               "2026-11-01")
    assert code == 1
    assert stdout == ""
    assert "price(s) refused" in stderr
    assert not list(tmp_path.iterdir())


def test_update_operator_only_book_in_gbp(tmp_path: Path) -> None:
    ops = tmp_path / "gbp.toml"
    ops.write_text('currency = "GBP"\n[[model]]\nprovider = "self-hosted"\nmodel = "llama"\n'
                   'prices = { input = "0.04", output = "0.16" }\nsource = "finance"\n')
    code, stdout, _ = run("update", "--out", str(tmp_path / "b"), "--no-genai", "--currency",
                          "GBP", "--overrides", str(ops))
    assert code == 0
    book = read_book(tmp_path / "b" / f"{stdout.strip()}.cbor")
    assert book.currency == "GBP"
    assert book.entries[("self-hosted", "llama")]["prices"] == {"input": 40_000,
                                                                "output": 160_000}


def test_update_bad_overrides_is_a_one_line_error(tmp_path: Path) -> None:
    ops = tmp_path / "bad.toml"
    ops.write_text('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { input = 0.1 }\n'
                   'source = "s"\n')
    code, _, stderr = run("update", "--out", str(tmp_path), "--overrides", str(ops))
    assert code == 1
    assert "decimal strings" in stderr and "Traceback" not in stderr


def test_show_resolves_like_the_service(two_books: tuple[Path, Path]) -> None:
    code, stdout, _ = run("show", "o3-2025-04-16", "--provider", "openai", "--book",
                          str(two_books[1]))
    assert code == 0
    assert stdout.startswith("openai/o3  (requested 'o3-2025-04-16'")
    assert "input                  2 per 1M tokens" in stdout
    assert "service tier" not in stdout  # variants had not started in mid-2025
    code, stdout, _ = run("show", "o3", "--book", str(two_books[0]), "--json")
    shown = json.loads(stdout)
    assert shown["entry"]["prices"]["input"] == "10"
    assert shown["entry"]["units"]["web_search"] == "per 1K requests"


def test_show_without_a_book_snapshots_now_and_lists_tiers() -> None:
    code, stdout, _ = run("show", "claude-sonnet-4-5-20250929", "--at", "2026-11-01")
    assert code == 0
    assert "input                  3 per 1M tokens (6 above 200,000 input tokens)" in stdout
    assert "service tier batch:" in stdout


def test_show_unknown_model_exits_1(two_books: tuple[Path, Path]) -> None:
    code, stdout, _ = run("show", "gpt-9", "--provider", "openai", "--book", str(two_books[1]))
    assert code == 1
    assert "unknown_model" in stdout


def test_diff_lists_the_repriced_models(two_books: tuple[Path, Path]) -> None:
    code, stdout, _ = run("diff", str(two_books[0]), str(two_books[1]))
    assert code == 0
    assert "~ openai/o3\n    input: 10 per 1M tokens -> 2 per 1M tokens\n" in stdout
    assert stdout.rstrip().splitlines()[-1].endswith("unchanged")
    code, stdout, _ = run("diff", str(two_books[0]), str(two_books[1]), "--json")
    result = json.loads(stdout)
    o3 = next(c for c in result["changed"] if (c["provider"], c["model"]) == ("openai", "o3"))
    assert "output: 40 per 1M tokens -> 8 per 1M tokens" in o3["changes"]
    code, stdout, _ = run("diff", str(two_books[1]), str(two_books[1]))
    assert "0 added, 0 removed, 0 changed" in stdout


def test_book_files_refuse_garbage_and_misnamed_files(tmp_path: Path, built: BuiltBook) -> None:
    path = write_book(tmp_path, built.payload_bytes)
    assert write_book(tmp_path, built.payload_bytes) == path
    assert read_book(path).id == built.book.id
    wrong = tmp_path / ("0" * 64 + ".cbor")
    wrong.write_bytes(built.payload_bytes)
    with pytest.raises(PriceBookFileError, match="hashes to"):
        read_book(wrong)
    junk = tmp_path / "junk.cbor"
    junk.write_bytes(b"\xa1\x01")
    with pytest.raises(PriceBookFileError, match="not a valid price book"):
        read_book(junk)
    with pytest.raises(PriceBookFileError):
        read_book(tmp_path / "absent.cbor")
    code, _, stderr = run("diff", str(junk), str(path))
    assert code == 1 and "not a valid price book" in stderr


def test_update_through_writes_a_book_per_price_change(tmp_path: Path) -> None:
    code, stdout, _ = run("update", "--out", str(tmp_path), "--at", "2026-11-01",
                          "--through", "2026-12-01")
    assert code == 0
    hashes = stdout.split()
    assert len(hashes) >= 3
    starts = [read_book(tmp_path / f"{h}.cbor").effective_from for h in hashes]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    code, _, stderr = run("update", "--out", str(tmp_path), "--no-genai", "--through", "2027")
    assert code == 2 and "--no-genai" in stderr
