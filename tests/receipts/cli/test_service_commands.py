"""The service's commands: output, secrets shown once, one-line errors, lazy server extra."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.receipts.conftest import ROOT, receipt_cmd


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``receipt ARGS`` in a subprocess."""
    return subprocess.run(receipt_cmd(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)


def test_init_agent_export_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "d"
    made = run("init", "--data", str(data), "--reporting-currency", "eur")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("ra_") and "reporting currency EUR" in made.stdout
    assert (data / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert (data / "receipts.db").exists()
    again = run("init", "--data", str(data))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    agent = run("agent", "create", "--team", "search", "--tag", "project=ranker", "--data",
                str(data))
    assert agent.returncode == 0, agent.stderr
    key = agent.stdout.strip().splitlines()[-1]
    assert key.startswith("rk_")
    agent_id = agent.stdout.split()[1]
    listed = run("agent", "list", "--data", str(data))
    assert agent_id in listed.stdout and "team=search" in listed.stdout and key not in \
        listed.stdout
    bad_tag = run("agent", "create", "--team", "x", "--tag", "novalue", "--data", str(data))
    assert bad_tag.returncode == 2 and "Traceback" not in bad_tag.stderr

    revoked = run("agent", "revoke", agent_id, "--data", str(data))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    twice = run("agent", "revoke", agent_id, "--data", str(data))
    assert twice.returncode == 1 and twice.stderr.startswith("error: ")
    assert "active" not in run("agent", "list", "--data", str(data)).stdout

    out = tmp_path / "l.cbor"
    exported = run("export", "--data", str(data), "-o", str(out))
    assert exported.returncode == 0 and out.exists()
    assert run("verify", str(out), "--key", str(data / "signing-key.pub.pem")).returncode == 0


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    cases = [
        ("export", "--data", str(tmp_path / "none"), "-o", str(tmp_path / "x.cbor")),
        ("agent", "list", "--data", str(tmp_path / "none")),
        ("serve", "--data", str(tmp_path / "none")),
        ("init", "--data", str(tmp_path / "d2"), "--reporting-currency", "dollars"),
        ("init", "--data", str(tmp_path / "d3"), "--db", "mysql://x"),
        ("agent", "list", "--data", str(tmp_path / "none"), "--db",
         "postgresql+psycopg://nobody@127.0.0.1:1/none"),
    ]
    for args in cases:
        result = run(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)


BLOCK_SERVER_EXTRA = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'fastapi', 'sqlmodel', 'sqlalchemy', 'uvicorn', 'starlette',
                                  'psycopg', 'httpx', 'pydantic'}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from receipts.cli.main import main
main()
"""


def test_base_install_runs_verify_and_hints_for_service_commands(tmp_path: Path) -> None:
    from receipts.demo.traffic import write_sample_ledger
    from receipts.deployment.signing_key import Signer

    ledger = tmp_path / "l.cbor"
    with ledger.open("wb") as out:
        write_sample_ledger(out, Signer.generate(), 20)
    base = [sys.executable, "-c", BLOCK_SERVER_EXTRA]
    verify = subprocess.run([*base, "verify", str(ledger)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert verify.returncode == 0 and "VALID" in verify.stdout, verify.stderr
    for args in (["serve"], ["init", "--data", str(tmp_path / "d")], ["demo"],
                 ["export", "-o", "x"]):
        result = subprocess.run([*base, *args], capture_output=True, text=True, cwd=ROOT,
                                timeout=120)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip() == ("error: the receipt service needs the server extra: "
                                         f"pip install '.[server]' (missing "
                                         f"{result.stderr.split('(missing ')[1].strip()}")
        assert "Traceback" not in result.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = run("demo", "--calls", "60", "--keep", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout and "receipts: 66" in result.stdout  # (60 + the loop's 6)
    assert "HTTP 200: the original receipt" in result.stdout
    assert "HTTP 403" in result.stdout
    assert "POST /v1/budgets: search-monthly" in result.stdout
    assert "decision 'deny': budget 'search-monthly'" in result.stdout
    assert "Spend anomaly on team=support" in result.stdout
    assert "employee dev-7, project triage-bot, model gpt-4o" in result.stdout
    for team in ("search", "support", "research"):
        assert team in result.stdout
    assert "receipt serve" in result.stdout.splitlines()[-5]
    assert result.stdout.splitlines()[-1].endswith("http://127.0.0.1:8000/dashboard with a "
                                                   "token to sign in")
    assert (tmp_path / "demo" / "ledger.cbor").exists()


def test_demo_serve_keeps_the_dashboard_up_until_interrupted(tmp_path: Path) -> None:
    import signal

    import httpx

    from receipts.demo.walkthrough import free_port

    port = free_port()
    process = subprocess.Popen(receipt_cmd("demo", "--calls", "30", "--serve", "--port",
                                           str(port)), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 240
        while not any("dashboard: http://127.0.0.1" in line for line in lines[:-1]):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            lines.append(process.stdout.readline())
        token = lines[-1].strip()
        assert token.startswith("rt_")
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the server starts right after printing
            try:
                page = httpx.get(f"{url}/dashboard", timeout=5, follow_redirects=True)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page.status_code == 401 and "<form" in page.text  # the sign-in page
        spend = httpx.get(f"{url}/v1/spend", params={"by": "team"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert spend.status_code == 200 and len(spend.json()["rows"]) == 3
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
