"""``receipt budget``: set, list, delete, approve/deny; bad input is one stderr line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.receipts.conftest import ROOT, make_deployment, receipt_cmd


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(receipt_cmd("budget", *args), env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=120, check=False)


def test_set_list_delete(tmp_path: Path) -> None:
    env = make_deployment(tmp_path).env()
    made = _run(env, "set", "ranker", "--limit", "15000", "--scope", "team=search",
                "--scope", "project=ranker", "--at-limit", "deny", "--threshold", "80")
    assert made.returncode == 0, made.stderr
    assert "ranker" in made.stdout and "created" in made.stdout
    replaced = _run(env, "set", "ranker", "--limit", "20000", "--scope", "team=search")
    assert "replaced" in replaced.stdout
    table = _run(env, "list")
    assert "limit 20000.00 USD" in table.stdout and "notify" in table.stdout
    shown = json.loads(_run(env, "list", "--json").stdout)["budgets"]
    assert [(b["name"], b["scope"], b["thresholds"]) for b in shown] == [
        ("ranker", {"team": "search"}, [50, 80, 100])]
    assert _run(env, "delete", "ranker").returncode == 0
    assert _run(env, "list").stdout.strip() == "(no budgets)"


def test_bad_input_is_one_line_on_stderr(tmp_path: Path) -> None:
    env = make_deployment(tmp_path).env()
    for args, needle in (
            (("set", "x", "--limit", "1.5e3"), "limit"),
            (("set", "x", "--limit", "5", "--scope", "Team=a"), "scope"),
            (("set", "x", "--limit", "5", "--from", "2026-02-01T00:00:00Z",
              "--until", "2026-01-01T00:00:00Z"), "period.until"),
            (("delete", "nope"), "no budget"),
            (("approve", "ap_nope"), "no approval")):
        done = _run(env, *args)
        assert done.returncode != 0, args
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert needle in done.stderr or needle in done.stderr.lower(), done.stderr
