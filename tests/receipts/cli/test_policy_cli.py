"""``receipt policy set|check|show|versions|flags``: versions with time and SHA-256, the file
shown as set, bad files refused on one stderr line naming the rule and field."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.receipts.cli.test_service_commands import run
from tests.receipts.conftest import Deployment, call

POLICY = """# production calls must be attributable
[[rule]]
name = "prod-cost-center"
kind = "require_tags"
when = { environment = "prod" }
tags = ["cost_center"]
message = "production calls name a cost_center"
"""


def test_set_show_versions_and_enforce(deployment: Deployment, tmp_path: Path) -> None:
    env = deployment.env()
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    assert run("policy", "show", env=env).stdout.strip() == "(no policy set)"
    checked = run("policy", "check", str(path))
    assert checked.returncode == 0 and "valid toml policy, 1 rule(s)" in checked.stdout
    made = run("policy", "set", str(path), env=env)
    assert made.returncode == 0, made.stderr
    digest = hashlib.sha256(POLICY.encode()).hexdigest()
    assert made.stdout.strip() == f"policy version 1 stored: 1 rule(s), sha256 {digest}"
    shown = run("policy", "show", env=env).stdout
    assert shown.startswith("# policy version 1, toml, set ") and shown.endswith(POLICY)

    _, agent = deployment.agent("search")
    with deployment.client() as client:  # (a new process reads the policy in force)
        denied = client.post("/v1/receipts", json=call("p1"), headers=agent)
    assert denied.status_code == 422 and "prod-cost-center" in denied.json()["error"]["message"]

    path.write_text(POLICY.replace('mode = "deny"', "") + 'mode = "flag"\n')
    assert run("policy", "set", str(path), env=env).returncode == 0
    with deployment.client() as client:
        flagged = client.post("/v1/receipts", json=call("p1"), headers=agent)
    assert flagged.status_code == 201
    receipt_id = flagged.json()["receipt"]["id"]
    listed = run("policy", "versions", env=env).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["1", "2"]
    assert digest in listed[0] and "toml  1 rule(s)" in listed[1]
    assert "mode = \"flag\"" not in run("policy", "show", "--version", "1", env=env).stdout
    assert '"mode": "flag"' in run("policy", "show", "--json", env=env).stdout
    flags = run("policy", "flags", env=env).stdout
    assert receipt_id in flags and "rule prod-cost-center (v2)" in flags


def test_bad_files_are_one_line(deployment: Deployment, tmp_path: Path) -> None:
    env = deployment.env()
    bad = tmp_path / "bad.toml"
    bad.write_text(POLICY.replace('tags = ["cost_center"]', 'tags = ["Cost Center"]'))
    for args in (("set", str(bad)), ("check", str(bad))):
        done = run("policy", *args, env=env)
        assert done.returncode == 1 and done.stdout == ""
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error: policy rule 'prod-cost-center': tags: ")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rule]\n")
    done = run("policy", "set", str(broken), env=env)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "not valid TOML" in done.stderr
    missing = run("policy", "show", "--version", "3", env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no policy version 3"
    assert run("policy", "versions", env=env).stdout.strip() == "(no policy set)"
