"""``receipt reconcile`` on the shipped samples: every cause, the bar, exit codes, currencies."""

from __future__ import annotations

import io
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from receipts.cli.main import main
from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import utc_day

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "examples" / "invoices"
sys.path.insert(0, str(SAMPLES))

import make_samples  # noqa: E402

LEDGER = [str(SAMPLES / "ledger.cbor"), "--key", str(SAMPLES / "issuer.pub.pem"),
          "--workers", "1"]
GOOGLE_MAP = ["--map", "Usage date=date", "--map", "Provider=provider", "--map", "Model=model",
              "--map", "Cost=amount", "--map", "Currency=currency",
              "--map", "Token type=token_type"]
ALL = ["--invoice", str(SAMPLES / "openai-costs.json"),
       "--invoice", str(SAMPLES / "anthropic-cost-report.json"),
       "--invoice", str(SAMPLES / "google-billing.csv"), *GOOGLE_MAP]
PLAIN_MAP = ["--map", "date=date", "--map", "provider=provider", "--map", "model=model",
             "--map", "amount=amount", "--map", "currency=currency"]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["reconcile", *args])


def report(*args: str) -> tuple[int, dict[str, Any]]:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def cell(data: dict[str, Any], provider: str, model: str, period: str) -> dict[str, Any]:
    found = [c for c in data["cells"] if (c["provider"], c["model"], c["period"]) ==
             (provider, model, period)]
    assert len(found) == 1, (provider, model, period)
    return found[0]


def causes(c: dict[str, Any]) -> dict[str, str | None]:
    return {x["code"]: x["amount"] for x in c["causes"]}


def units(text: str) -> int:
    return int(text.replace(".", "").replace("-", "")) * (-1 if text.startswith("-") else 1)


@pytest.fixture(scope="module")
def samples() -> tuple[int, dict[str, Any]]:
    return report(*LEDGER, *ALL)


def test_samples_reproduce_byte_for_byte() -> None:
    assert make_samples.main(["--check"]) == 0


def test_the_samples_do_not_meet_the_bar(samples: tuple[int, dict[str, Any]]) -> None:
    code, data = samples
    assert code == 1 and data["bar"]["met"] is False
    assert data["currency"] == "USD" and data["compared_with"] == "cost"
    assert data["totals"]["attributable_percent"] == "100.0000"
    assert {t["team"] for t in data["teams"]} == {"search", "support", "research"}


def test_alias_dated_snapshot_matches_the_receipts_model(samples: tuple[int, dict[str, Any]]
                                                         ) -> None:
    c = cell(samples[1], "openai", "gpt-4o", "2025-12-01")
    assert c["status"] == "matched" and c["billed_as"] == ["gpt-4o-2024-08-06"]
    assert causes(c) == {"alias": "0.000000000000"} and c["variance"] == "0.000000000000"


def test_batch_discount_marked_on_the_invoice(samples: tuple[int, dict[str, Any]]) -> None:
    c = cell(samples[1], "openai", "gpt-4o", "2025-12-02")
    found = causes(c)
    assert "batch_discount" in found
    assert units(found["batch_discount"] or "") == -units(c["invoice"])  # half of list price
    assert abs(units(c["unexplained"])) <= c["invoice_lines"]  # odd 10^-12 units halved


def test_cache_pricing_both_ways(samples: tuple[int, dict[str, Any]]) -> None:
    billed_cheaper = cell(samples[1], "anthropic", "claude-sonnet-4", "2025-12-02")
    assert units(billed_cheaper["variance"]) < 0
    assert causes(billed_cheaper)["cache_pricing"] == billed_cheaper["variance"]
    billed_as_input = cell(samples[1], "openai", "o3", "2025-12-01")
    assert units(billed_as_input["variance"]) > 0
    assert causes(billed_as_input)["cache_pricing"] == billed_as_input["variance"]
    assert billed_as_input["unexplained"] == billed_cheaper["unexplained"] == "0.000000000000"


def test_missing_day_and_one_sided_cells(samples: tuple[int, dict[str, Any]]) -> None:
    missing = cell(samples[1], "anthropic", "claude-3-5-haiku", "2025-12-04")
    assert missing["status"] == "invoice_only"
    assert causes(missing) == {"missing_day": missing["invoice"]}
    search = cell(samples[1], "anthropic", "Web Search Usage", "2025-12-01")
    assert causes(search) == {"not_in_ledger": None} and search["unexplained"] == "0.300000000000"
    unpriced = cell(samples[1], "openai", "experimental-model-x", "2025-12-02")
    assert unpriced["status"] == "ledger_only" and unpriced["unpriced_receipts"] == 2
    assert set(causes(unpriced)) == {"unpriced_receipts", "not_invoiced"}


def exact_csv(ledger: bytes, *, currency: str = "USD", field: str = "cost",
              skip: tuple[str, str] | None = None, halve: tuple[str, str] | None = None) -> str:
    """An invoice billing exactly what the receipts cost, per provider, model and day."""
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for _, item in split_sequence([ledger]):
        env = cose.parse(item)
        if env.content_type == cose.RECEIPT:
            r = decode_strict(env.payload)
            if r[field] is not None:
                totals[(r["provider"], r["model"], utc_day(r["issued_at"]))] += r[field]
    lines = ["date,provider,model,amount,currency"]
    for (provider, model, day), amount in sorted(totals.items()):
        if (provider, day) == skip:
            continue
        if (model, day) == halve:
            amount //= 2
        lines.append(f"{day},{provider},{model},{format_amount(amount, COST_SCALE)},{currency}")
    return "\n".join(lines) + "\n"


def test_an_exact_invoice_meets_the_bar(tmp_path: Path) -> None:
    bill = tmp_path / "bill.csv"
    bill.write_text(exact_csv((SAMPLES / "ledger.cbor").read_bytes()))
    code, data = report(*LEDGER, "--invoice", str(bill), *PLAIN_MAP)
    assert code == 0 and data["bar"]["met"] is True
    t = data["totals"]
    assert t["variance"] == t["abs_variance"] == t["invoice_only"] == "0.000000000000"
    assert t["ledger"] == t["invoice"] == t["matched_ledger"]
    assert all(team["meets_bar"] for team in data["teams"])
    assert all(c["status"] == "matched" or c["unpriced_receipts"] for c in data["cells"])


def test_bar_not_met_for_attribution_and_options_move_it(tmp_path: Path) -> None:
    bill = tmp_path / "bill.csv"
    bill.write_text(exact_csv((SAMPLES / "ledger.cbor").read_bytes()))
    code, data = report(*LEDGER, "--invoice", str(bill), *PLAIN_MAP, "--require",
                        "team,owner")
    assert code == 1 and data["totals"]["attributable_percent"] == "0.0000"
    assert data["required_tags"] == ["team", "owner"]
    code, _ = report(*LEDGER, *ALL, "--variance-max", "25")
    assert code == 0  # the samples' gross variance is about 20% of the invoice


def test_ratio_batch_discount_and_not_billed_day(tmp_path: Path) -> None:
    bill = tmp_path / "bill.csv"
    bill.write_text(exact_csv((SAMPLES / "ledger.cbor").read_bytes(),
                              skip=("google", "2025-12-03"), halve=("gpt-4o", "2025-12-02")))
    code, data = report(*LEDGER, "--invoice", str(bill), *PLAIN_MAP)
    assert code == 1
    halved = cell(data, "openai", "gpt-4o", "2025-12-02")
    assert units(causes(halved)["batch_discount"] or "") == -(units(halved["ledger"]) // 2)
    assert abs(units(halved["unexplained"])) <= 1
    gone = cell(data, "google", "gemini-2.5-pro", "2025-12-03")
    assert gone["status"] == "ledger_only"
    assert causes(gone) == {"not_billed": "-" + gone["ledger"]}


def test_a_page_without_line_items_is_compared_per_provider(tmp_path: Path) -> None:
    totals: dict[str, int] = defaultdict(int)
    for line in exact_csv((SAMPLES / "ledger.cbor").read_bytes()).splitlines()[1:]:
        day, provider, _, amount, _ = line.split(",")
        if provider == "openai":
            totals[day] += units(amount)
    page = {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": make_samples._start(day),
         "end_time": make_samples._start(day) + 86_400,
         "results": [{"object": "organization.costs.result", "project_id": None,
                      "amount": {"value": format_amount(amount, COST_SCALE),
                                 "currency": "usd"}}]}
        for day, amount in sorted(totals.items())]}
    bill = tmp_path / "costs.json"
    bill.write_text(json.dumps(page))
    code, data = report(*LEDGER, "--invoice", str(bill))
    assert code == 0
    assert [(c["model"], c["status"], c["variance"]) for c in data["cells"]] == \
        [("(not itemized)", "matched", "0.000000000000")] * 3
    assert all("not_itemized" in causes(c) for c in data["cells"])


def test_month_periods_and_other_formats(tmp_path: Path) -> None:
    code, data = report(*LEDGER, *ALL, "--by", "month")
    assert code == 1 and {c["period"] for c in data["cells"]} == {"2025-12"}
    assert causes(cell(data, "openai", "gpt-4o", "2025-12"))["batch_discount"]
    table = run(*LEDGER, *ALL)
    assert table.exit_code == 1 and "Chargeback bar (>= 95% attributable, <= 2% variance): " \
        "NOT MET." in table.stdout and "missing_day" in table.stdout
    csv_out = run(*LEDGER, *ALL, "--format", "csv")
    rows = csv_out.stdout.splitlines()
    assert rows[0].startswith("row,period,provider,model,team,status,ledger,invoice,variance")
    assert rows[-1].startswith("total,") and rows[-1].endswith(",False")
    assert sum(r.startswith("team,") for r in rows) == 3


def test_only_invoiced_providers_are_compared() -> None:
    code, data = report(*LEDGER, "--invoice", str(SAMPLES / "openai-costs.json"))
    assert code == 1
    assert {c["provider"] for c in data["cells"]} == {"openai"}
    assert set(data["ledger"]["not_invoiced_providers"]) == {"anthropic", "google"}


def _sample(reporting_currency: str = "GBP") -> tuple[bytes, bytes]:
    signer = Signer.generate()
    out = io.BytesIO()
    write_sample_ledger(out, signer, 120, reporting_currency=reporting_currency,
                        interval_ms=1_800_000)
    return out.getvalue(), signer.public_pem()


def test_invoice_in_the_reporting_currency_uses_cost_reporting(tmp_path: Path) -> None:
    ledger, pem = _sample("GBP")
    (tmp_path / "l.cbor").write_bytes(ledger)
    (tmp_path / "k.pem").write_bytes(pem)
    bill = tmp_path / "gbp.csv"
    bill.write_text(exact_csv(ledger, currency="GBP", field="cost_reporting"))
    args = [str(tmp_path / "l.cbor"), "--key", str(tmp_path / "k.pem")]
    code, data = report(*args, "--invoice", str(bill), *PLAIN_MAP)
    assert code == 0 and data["currency"] == "GBP" and data["compared_with"] == "cost_reporting"
    eur = tmp_path / "eur.csv"
    eur.write_text(exact_csv(ledger, currency="EUR"))
    refused = run(*args, "--invoice", str(eur), *PLAIN_MAP)
    assert refused.exit_code == 2
    assert "the invoices are in EUR, the ledger prices in USD and reports in GBP" in \
        refused.stderr


def test_unusable_input_is_exit_2_with_one_line(tmp_path: Path) -> None:
    data = bytearray((SAMPLES / "ledger.cbor").read_bytes())
    data[-10] ^= 1  # a signature byte of the last receipt
    (tmp_path / "bad.cbor").write_bytes(bytes(data))
    other = tmp_path / "other.pem"
    other.write_bytes(Signer.generate().public_pem())
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("date,provider,model,amount,currency\n2025-12-01,openai,gpt-4o,1,USD\n"
                     "2025-12-01,openai,gpt-4o,1,EUR\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"object": "page", "data": [\n{"start_time": 1,\n')
    cases = [
        ([str(tmp_path / "bad.cbor"), "--key", LEDGER[2], *ALL], "is INVALID"),
        ([LEDGER[0], "--key", str(other), *ALL], "is INVALID"),
        ([LEDGER[0], *ALL], "--key PUB is required"),
        ([*LEDGER, "--data", str(tmp_path), *ALL], "give either LEDGER"),
        ([*ALL], "give either LEDGER"),
        ([*LEDGER, "--invoice", str(mixed), *PLAIN_MAP], "mixed.csv:3: currency EUR"),
        ([*LEDGER, "--invoice", str(broken)], "broken.json:3: not JSON"),
        ([*LEDGER, *ALL, "--variance-max", "lots"], "--variance-max: 'lots' is not a number"),
        ([str(tmp_path / "none.cbor"), "--key", LEDGER[2], *ALL], "none.cbor: no such file"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (message, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
