"""A statement's rules on records made by hand: lines per day, model and currency, numbered
in order; unknown cost never $0; totals per currency; other usage categories in the CSV."""

from __future__ import annotations

import csv
import io

from receipts.statements.build import build
from receipts.statements.records import Ask, UsageRecord
from receipts.statements.render import to_csv
from receipts.statements.sources import Usage

UNIT = 10**12
DAY = 86_400_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


def rec(rid: str, at: int, model: str = "m", currency: str = "USD", cost: int | None = UNIT,
        **tokens: int) -> UsageRecord:
    from verifier.rollup import utc_day

    return UsageRecord(rid, at, utc_day(at), "openai", model, currency, cost,
                       tokens or {"input": 10})


def test_lines_totals_and_order() -> None:
    records = (rec("b", T0 + DAY + 5), rec("a", T0 + DAY + 1, cost=UNIT + 1),
               rec("c", T0, model="z", cost=None), rec("d", T0, currency="EUR", audio=7),
               rec("e", T0 + 2 * DAY, model="z", cost=None))
    s = build(Usage(records, "hand"), Ask("acme", "2026-11", mode="native"))
    keys = [(line["day"], line["model"], line["currency"]) for line in s["lines"]]
    assert keys == [("2026-11-01", "m", "EUR"), ("2026-11-01", "z", "USD"),
                    ("2026-11-02", "m", "USD"), ("2026-11-03", "z", "USD")]
    second = s["lines"][2]
    assert second["receipt_ids"] == ["a", "b"]  # in the order issued
    assert second["cost"] == "2.000000000001" and second["tokens"] == {"input": 20}
    assert s["lines"][1]["cost"] is None and s["lines"][1]["unpriced"] == 1
    assert [(t["currency"], t["cost"], t["receipts"]) for t in s["totals"]] == [
        ("EUR", "1.000000000000", 1), ("USD", "2.000000000001", 4)]
    rows = list(csv.DictReader(io.StringIO(to_csv(s).decode())))
    assert rows[0]["tokens_other"] == '{"audio":7}' and rows[0]["tokens_input"] == "0"
    assert rows[1]["cost"] == "" and rows[2]["line"] == "3"


def test_an_empty_month_is_a_statement_with_no_line() -> None:
    s = build(Usage((), "hand"), Ask("acme", "2026-11"))
    assert s["lines"] == [] and s["totals"] == [] and s["currency"] == "USD"
    assert to_csv(s).decode().count("\n") == 1  # the header alone
