"""``receipt spool status`` and ``receipt spool flush`` on a spool filled during an outage."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from receipts.cli.main import build_cli
from receipts.client import ReceiptsClient, Spool
from tests.receipts.client.conftest import Service
from tests.receipts.conftest import free_port

pytestmark = pytest.mark.slow


def _spool_three(path: Path, key: str) -> list[str]:
    down = ReceiptsClient(f"http://127.0.0.1:{free_port()}", key, spool=path, retries=0)
    ids = [f"cli-{i}" for i in range(3)]
    for rid in ids:
        assert down.record(provider="openai", model="gpt-4o", request_id=rid,
                           usage={"input_tokens": 10, "output_tokens": 2}).spooled
    down.http.close()
    return ids


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_cli(), list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_status_then_flush_delivers_each_call_once_in_order(service: Service,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    ids = _spool_three(path, service.key)
    code, out, _ = _run("spool", "status", "--spool", str(path))
    assert code == 0 and out.startswith("waiting: 3 (oldest spooled ") and "refused: 0" in out
    Spool(path).add({"request_id": "cli-bad", "provider": "openai", "model": "gpt-4o",
                     "usage": {"prompt_tokens": -1}, "usage_format": "openai", "tags": {}})
    pub = str(service.dep.settings.data_dir / "signing-key.pub.pem")
    code, out, err = _run("spool", "flush", "--spool", str(path), "--url", service.url,
                          "--public-key", pub, env={"RECEIPTS_AGENT_KEY": service.key})
    assert (code, out, err) == (0, "delivered: 3; refused: 1; waiting: 0\n", "")
    code, out, _ = _run("spool", "status", "--spool", str(path))
    assert out.splitlines()[:2] == ["waiting: 0", "refused: 1"]
    assert out.splitlines()[2].startswith("  cli-bad\tHTTP 422\t")
    # flushing again (or after a crash between the answer and the delete) adds nothing
    Spool(path).add({"request_id": "cli-0", "provider": "openai", "model": "gpt-4o",
                     "usage": {"input_tokens": 10, "output_tokens": 2}, "tags": {}})
    code, out, _ = _run("spool", "flush", "--spool", str(path), "--url", service.url,
                        "--key", service.key)
    assert (code, out) == (0, "delivered: 1; refused: 0; waiting: 0\n")
    mine = sorted((r for r in service.receipts() if str(r["request_id"]).startswith("cli-")),
                  key=lambda r: int(r["seq"]))  # type: ignore[call-overload]
    assert [r["request_id"] for r in mine] == ids


def test_a_wrong_key_or_an_outage_keeps_the_calls_and_says_so_on_one_line(
        service: Service, tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    _spool_three(path, service.key)
    code, out, err = _run("spool", "flush", "--spool", str(path), "--url", service.url,
                          "--key", "not-a-key")
    assert code == 1 and out == "" and err.startswith("error: HTTP 401") and err.count("\n") == 1
    code, out, err = _run("spool", "flush", "--spool", str(path), "--key", service.key,
                          "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and out == "delivered: 0; refused: 0; waiting: 3\n"
    assert err.startswith("error: http://127.0.0.1:") and err.count("\n") == 1
    assert Spool(path).count() == 3 and Spool(path).refused_items() == []


def test_no_spool_file_is_one_line(tmp_path: Path) -> None:
    code, out, err = _run("spool", "status", "--spool", str(tmp_path / "none.sqlite"))
    assert (code, out) == (1, "") and err == f"error: no spool file at {tmp_path}/none.sqlite\n"
