"""``receipt token create|list|revoke``: the token once on the last line, never listed, one-line
errors."""

from __future__ import annotations

from tests.receipts.cli.test_service_commands import run
from tests.receipts.conftest import Deployment


def test_create_list_revoke(deployment: Deployment) -> None:
    env = deployment.env()
    made = run("token", "create", "--role", "team", "--team", "search", "--name", "lead",
               env=env)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    secret = lines[-1]
    assert secret.startswith("rt_") and len(secret) > 40
    token_id = lines[0].split()[1]
    assert token_id.startswith("tok_") and "reads team search only" in lines[0]
    finance = run("token", "create", "--role", "finance", env=env)
    assert finance.returncode == 0 and finance.stdout.strip().splitlines()[-1].startswith("rt_")

    listed = run("token", "list", env=env)
    assert listed.returncode == 0
    assert f"{token_id}  role=team  team=search  name=lead" in listed.stdout
    assert "role=finance" in listed.stdout and secret not in listed.stdout

    with deployment.client() as client:
        header = {"Authorization": f"Bearer {secret}"}
        assert client.get("/v1/receipts", headers=header).status_code == 200
        assert run("token", "revoke", token_id, env=env).stdout.strip() == \
            f"token {token_id} revoked"
        assert client.get("/v1/receipts", headers=header).status_code == 401
    assert "revoked" in run("token", "list", env=env).stdout


def test_bad_use_is_one_line(deployment: Deployment) -> None:
    env = deployment.env()
    for args, code in ((("create", "--role", "team"), 2),
                       (("create", "--role", "finance", "--team", "x"), 2),
                       (("create", "--role", "owner"), 2),
                       (("revoke", "tok_nope"), 1)):
        done = run("token", *args, env=env)
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert done.stderr.strip().splitlines()[-1].startswith(("error:", "Error:")), done.stderr
