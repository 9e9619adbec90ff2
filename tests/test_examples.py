"""The examples run: the agent wrapper against the real app, the audit script on a ledger."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from receipts.api.app import create_app
from tests.receipts.conftest import make_deployment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from agent_wrapper import ReceiptsClient  # noqa: E402


def test_agent_wrapper_records_an_openai_call(tmp_path: Path) -> None:
    deployment = make_deployment(tmp_path)
    _, header = deployment.agent("search", project="ranker")
    with TestClient(create_app(deployment.settings)) as http:
        client = ReceiptsClient("http://testserver", header["Authorization"].split()[1],
                                client=http)
        receipt, cose = client.record(
            provider="openai", model="gpt-4o", usage_format="openai",
            usage={"prompt_tokens": 2000, "completion_tokens": 400,
                   "prompt_tokens_details": {"cached_tokens": 1500}},
            tags={"project": "ranker", "environment": "prod"}, request_id="ex-1")
    # 500 uncached x $2.50 + 1500 cached x $1.25 + 400 output x $10 per 1M tokens
    assert receipt["cost"] == "0.007125000000"
    assert receipt["usage"] == {"input": 500, "cache_read": 1500, "output": 400}
    assert cose[:2] == b"\xd2\x84"


def test_audit_script_verifies_reports_and_keeps_the_checkpoint(tmp_path: Path) -> None:
    vectors = ROOT / "spec/vectors"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    assert shutil.which("receipt", path=env["PATH"])
    for _ in range(2):  # the second run proves the ledger extends the first run's checkpoint
        proc = subprocess.run(
            ["bash", str(ROOT / "examples/audit.sh"), str(vectors / "valid/ledger.cbor"),
             str(vectors / "test-key.pub.pem"), str(tmp_path / "audit.ckpt")],
            capture_output=True, text=True, cwd=tmp_path, env=env, check=False)
        assert proc.returncode == 0, proc.stderr
    assert "VALID" in proc.stdout
    assert (tmp_path / "by-team.csv").read_text().startswith("team,project,period,currency")
    by_cost_center = list(csv.DictReader(io.StringIO((tmp_path / "by-cost-center.csv")
                                                     .read_text())))
    assert by_cost_center and all(r["cost_center"] == "" for r in by_cost_center)  # no such tag


def test_sdk_receipts_example_receipts_every_call(tmp_path: Path) -> None:
    """The SDK example's calls, on recorded provider answers, against the real app."""
    import anthropic
    import anthropic._base_client
    import httpx
    import openai
    from sdk_receipts import run

    from receipts.client import ReceiptsClient
    from tests.receipts.client import recorded

    deployment = make_deployment(tmp_path)
    _, header = deployment.agent("search")
    gpt = recorded.MockLLM(recorded.openai_answer)
    claude = recorded.MockLLM(recorded.anthropic_answer,
                              getattr(anthropic._base_client, "httpx2", httpx))
    with TestClient(create_app(deployment.settings)) as http:
        receipts = ReceiptsClient("http://testserver", header["Authorization"].split()[1],
                                  public_key=deployment.settings.data_dir
                                  / "signing-key.pub.pem")
        receipts.http.close()
        receipts.http = http  # the app in-process
        got = run(openai.OpenAI(api_key="sk-test", http_client=gpt.sync()),
                  anthropic.Anthropic(api_key="sk-ant", http_client=claude.sync()), receipts)
    made = [g.receipt for g in got]
    assert all(r is not None and r["status"] == "ok" for r in made) and len(made) == 6
    assert [r["provider"] for r in made if r] == ["openai"] * 4 + ["anthropic"] * 2
    assert [r["tags"]["feature"] for r in made if r] == ["geography"] * 4 + ["sub-agent"] * 2
    assert len({r["tags"]["trace_id"] for r in made if r}) == 1


def test_otel_receipts_example_receipts_each_model_call_span(tmp_path: Path) -> None:
    from otel_receipts import run

    from receipts.client import ReceiptsClient

    deployment = make_deployment(tmp_path)
    _, header = deployment.agent("search")
    with TestClient(create_app(deployment.settings)) as http:
        receipts = ReceiptsClient("http://testserver", header["Authorization"].split()[1])
        receipts.http.close()
        receipts.http = http
        got = run(receipts)
    made = [g.receipt for g in got]
    assert [r["tags"]["step"] for r in made if r] == ["rank", "explain"]
    assert all(r and r["request_id"].startswith("otlp:") and r["tags"]["environment"] == "dev"
               for r in made)


def test_litellm_callback_example_receipts_every_call(tmp_path: Path) -> None:
    """The LiteLLM example on LiteLLM's mock responses, against the real app."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from litellm_callback import run

    from receipts.client import ReceiptsClient

    deployment = make_deployment(tmp_path)
    _, header = deployment.agent("search")
    with TestClient(create_app(deployment.settings)) as http:
        receipts = ReceiptsClient("http://testserver", header["Authorization"].split()[1])
        receipts.http.close()
        receipts.http = http
        got = run(receipts, mock=True)
    made = [g.receipt for g in got if g.receipt]
    assert len(made) == 3 and all(r["request_id"].startswith("litellm:") for r in made)
    assert all(r["tags"]["project"] == "ranker" and r["provider"] == "openai" for r in made)
    assert sorted(r["tags"].get("feature", "") + r["tags"].get("ticket", "") for r in made) \
        == ["", "T-1", "geography"]
