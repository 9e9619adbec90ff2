"""The report's rules on facts made by hand: month over month, drivers, budgets, forecast,
unallocated spend, attribution, year to date, and money kept exact."""

from __future__ import annotations

import pytest

from receipts.errors import Invalid
from receipts.report.build import Inputs, build, forecast
from receipts.report.facts import Fact, Facts, grouping, month_bounds
from receipts.report.render import to_csv, to_json

UNIT = 10**12
BY = grouping(("team",))


def fact(day: str, cost: int, team: str | None = "a", project: str | None = "p",
         center: str | None = "cc1", model: str = "m", unpriced: int = 0) -> Fact:
    return Fact((team, project, center, "openai", model), day, "EUR", cost, 1 + unpriced,
                unpriced)


FACTS = Facts(BY, (
    fact("2026-01-15", 7 * UNIT),                       # year to date only
    fact("2026-10-02", 10 * UNIT),                      # previous month
    fact("2026-11-01", 3 * UNIT + 1),                   # a tenth of a picounit above 3
    fact("2026-11-10", 5 * UNIT, team="b", center="cc2", model="big"),
    fact("2026-11-10", 2 * UNIT, team=None, project="orphan", center=None),
    fact("2026-11-20", 0, team="b", center="cc2", unpriced=4),
), "hand")


def test_sections_follow_their_rules() -> None:
    r = build(FACTS, Inputs("2026-11", ("team",), "EUR", budgets={"cc1": 4 * UNIT}))
    s = r["summary"]
    assert s["cost"] == "10.000000000001" and s["previous_cost"] == "10.000000000000"
    assert s["change"] == "0.000000000001" and s["change_ratio"] == "0.000000"
    assert s["receipts"] == 8 and s["unpriced"] == 4
    assert [(d["team"], d["cost"]) for d in s["top_drivers"]] == [
        ("b", "5.000000000000"), ("a", "3.000000000001"), (None, "2.000000000000")]
    centers = {c["cost_center"]: c for c in r["cost_centers"]}
    assert centers["cc1"]["budget"] == "4.000000000000"
    assert centers["cc1"]["remaining"] == "0.999999999999"
    assert centers["cc1"]["year_to_date"] == "20.000000000001"
    assert centers["cc2"]["budget"] is None
    assert r["unallocated"]["cost"] == "2.000000000000"
    assert r["unallocated"]["share"] == "0.200000"
    assert r["unallocated"]["projects"][0]["project"] == "orphan"
    assert r["attribution"]["attributed"] == "8.000000000001"
    assert r["attribution"]["confidence"] == "0.800000"
    assert [t["team"] for t in r["teams"]] == ["b", "a", None]
    assert r["anomalies"] is None


def test_forecast_is_the_daily_run_rate_times_next_month() -> None:
    # spend until the 20th: 20 basis days; December has 31
    got = forecast(20 * UNIT, ["2026-11-01", "2026-11-20"], "2026-11")
    assert got["basis_days"] == 20 and got["days_in_next_month"] == 31
    assert got["daily_rate"] == "1.000000000000" and got["projected"] == "31.000000000000"
    assert forecast(0, [], "2026-12")["projected"] is None
    assert forecast(0, [], "2026-12")["next_month"] == "2027-01"
    # half to even at 10^-12: 1 unit over 2 days times 31 (March) = 15.5 -> 16
    assert forecast(1, ["2026-02-02"], "2026-02")["projected"] == "0.000000000016"


def test_january_compares_with_december_and_bad_months_are_refused() -> None:
    assert [d.isoformat() for d in month_bounds("2027-01")] == [
        "2026-12-01", "2027-01-01", "2027-02-01"]
    for bad in ("2026-13", "2026-1", "26-11-01", "0000-01", "9999-12", "2026_11"):
        with pytest.raises(Invalid):
            month_bounds(bad)


def test_alerts_of_the_month_only_and_outputs_deterministic() -> None:
    alerts = [{"id": "al_1", "kind": "anomaly", "scope": "team=a",
               "created_at": "2026-11-03T10:00:00.000Z", "status": "delivered"},
              {"id": "al_0", "kind": "anomaly", "scope": "team=a",
               "created_at": "2026-10-30T10:00:00.000Z", "status": "delivered"}]
    r = build(FACTS, Inputs("2026-11", ("team",), "EUR", alerts=alerts))
    assert [a["id"] for a in r["anomalies"]] == ["al_1"]
    shuffled = Facts(BY, tuple(reversed(FACTS.rows)), "hand")
    again = build(shuffled, Inputs("2026-11", ("team",), "EUR", alerts=alerts))
    assert to_json(r) == to_json(again) and to_csv(r) == to_csv(again)
    assert b"10.000000000001" in to_csv(r)


def test_tag_values_are_escaped_in_html_and_defused_in_csv() -> None:
    from receipts.report.render import to_html

    facts = Facts(BY, (fact("2026-11-02", UNIT, team="<script>x</script>",
                            center="=HYPERLINK(1)"),), "hand")
    r = build(facts, Inputs("2026-11", ("team",), "EUR"))
    page = to_html(r).decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    rows = to_csv(r).decode().splitlines()
    centers = [line for line in rows if line.startswith("cost_center,")]
    assert centers and all(line.startswith("cost_center,'=HYPERLINK(1),") for line in centers)
