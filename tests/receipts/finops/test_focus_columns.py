"""Every column of the FOCUS export against the FOCUS 1.2 column rules: presence of every
mandatory column, data type, nullability, allowed values and value formats.

The rules are read from ``focus-1.2-columns.txt`` (the constraint table extracted from the
FOCUS specification's v1.2 column files); the allowed values, which that table only names, are
the lists of the same column files, below.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from receipts.finops.focus import COLUMN_NAMES, COLUMNS, DATETIME, DECIMAL, INTEGER, JSON, STRING
from receipts.pricing.currencies import is_currency
from tests.receipts.finops.conftest import Exported, receipt

RULES_FILE = Path(__file__).with_name("focus-1.2-columns.txt")

ALLOWED_VALUES: dict[str, set[str | None]] = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {None, "Correction"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other"},
    "ServiceCategory": {
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
        "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
        "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
        "Storage", "Web", "Other"},
    "ServiceSubcategory": {  # those of AI and Machine Learning, the only category exported
        "AI Platforms", "Bots", "Generative AI", "Machine Learning",
        "Natural Language Processing", "Other (AI and Machine Learning)"},
    "CapacityReservationStatus": {None, "Used", "Unused"},
    "CommitmentDiscountCategory": {None, "Spend", "Usage"},
    "CommitmentDiscountStatus": {None, "Used", "Unused"},
}

KINDS = {"String": STRING, "Decimal": DECIMAL, "Date/Time": DATETIME, "JSON": JSON}
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
NUMERIC = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?")
UNIT = re.compile(r"(\d+ )?[A-Z][A-Za-z]*s(-[A-Z][a-z]+s|/[A-Z][a-z]+)?")


def rules() -> dict[str, dict[str, str]]:
    """Column id -> its constraints, from the extracted table."""
    names = ["ColumnId", "ColumnType", "FeatureLevel", "AllowsNulls", "DataType",
             "ValueFormat", "IntroducedVersion"]
    lines = [line for line in RULES_FILE.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {parts[0]: dict(zip(names, parts, strict=True))
            for parts in (line.split("|") for line in lines)}


@pytest.fixture(scope="module")
def cells(exported: Exported) -> list[dict[str, str]]:
    out = exported.tmp / "columns.csv"
    done = receipt("focus", str(exported.ledger), "--key", str(exported.key), "-o", str(out))
    assert done.exit_code == 0, done.output
    return list(csv.DictReader(io.StringIO(out.read_text())))


def test_the_rules_table_is_the_focus_1_2_column_list() -> None:
    table = rules()
    assert len(table) == 57  # v1.2's Cost and Usage columns
    assert table["BilledCost"]["FeatureLevel"] == "Mandatory"
    assert table["Tags"]["DataType"] == "JSON"
    assert table["InvoiceId"]["IntroducedVersion"] == "1.2"


def test_every_mandatory_column_is_there_and_extensions_come_last() -> None:
    table = rules()
    mandatory = {c for c, r in table.items() if r["FeatureLevel"] == "Mandatory"}
    assert mandatory <= set(COLUMN_NAMES), mandatory - set(COLUMN_NAMES)
    focus = [c for c in COLUMN_NAMES if not c.startswith("x_")]
    assert set(focus) <= set(table), set(focus) - set(table)  # no made-up FOCUS name
    assert COLUMN_NAMES[: len(focus)] == tuple(focus)  # x_ columns after every FOCUS column
    for name in COLUMN_NAMES[len(focus):]:
        assert re.fullmatch(r"x_[A-Z][A-Za-z]+", name), name
    assert {"ServiceCategory", "Tags", "PricingQuantity", "ConsumedQuantity"} <= set(focus)


def test_each_column_has_the_focus_data_type_and_nullability() -> None:
    table = rules()
    for column in COLUMNS:
        rule = table.get(column.name)
        if rule is None:
            assert column.name.startswith("x_")
            continue
        assert column.kind == KINDS[rule["DataType"]], column.name
        if rule["AllowsNulls"] == "False":
            assert not column.nullable, column.name
        if rule["ValueFormat"].lower() == "allowed values":
            assert column.name in ALLOWED_VALUES, column.name


def test_every_cell_follows_its_column_rule(cells: list[dict[str, str]]) -> None:
    table = rules()
    assert len(cells) == 20  # 6 priced receipts' categories; 2 unpriced ones left out
    for row in cells:
        assert list(row) == list(COLUMN_NAMES)
        for name, text in row.items():
            rule = table.get(name)
            if rule is None:
                continue
            value = text if text != "" else None
            if rule["AllowsNulls"] == "False":
                assert value is not None, name
            if value is None:
                continue
            fmt, kind = rule["ValueFormat"], rule["DataType"]
            if name in ALLOWED_VALUES:
                assert value in ALLOWED_VALUES[name], (name, value)
            if "Currency" in fmt:
                assert is_currency(value), (name, value)
            if kind == "Date/Time":
                assert DATE_TIME.fullmatch(value), (name, value)
            if kind == "Decimal":
                assert NUMERIC.fullmatch(value), (name, value)
            if "Unit Format" in fmt:
                assert UNIT.fullmatch(value), (name, value)
            if kind == "JSON":
                parsed = json.loads(value)
                assert isinstance(parsed, dict)
                assert all(isinstance(v, str | int | float | bool) or v is None
                           for v in parsed.values()), value


def test_rows_obey_the_focus_relations(cells: list[dict[str, str]]) -> None:
    """ListCost = ListUnitPrice × PricingQuantity (the same for contracted), every cost is
    the billed one, the charge period lies in the billing period, ends after starts."""
    for row in cells:
        d = {k: Decimal(row[k]) for k in ("BilledCost", "EffectiveCost", "ListCost",
                                          "ContractedCost", "ListUnitPrice",
                                          "ContractedUnitPrice", "PricingQuantity",
                                          "ConsumedQuantity")}
        assert d["ListCost"] == d["ListUnitPrice"] * d["PricingQuantity"]
        assert d["ContractedCost"] == d["ContractedUnitPrice"] * d["PricingQuantity"]
        assert d["BilledCost"] == d["EffectiveCost"] == d["ListCost"] == d["ContractedCost"]
        assert d["PricingQuantity"] == d["ConsumedQuantity"] and d["PricingQuantity"] >= 0
        assert row["PricingUnit"] == row["ConsumedUnit"] == "Tokens"
        assert row["BillingPeriodStart"] <= row["ChargePeriodStart"] < row["ChargePeriodEnd"] \
            <= row["BillingPeriodEnd"]
        assert row["ServiceCategory"] == "AI and Machine Learning"
        assert row["ChargeCategory"] == "Usage" and row["ChargeClass"] == ""


def test_kinds_are_only_those_focus_knows_plus_integer_extensions() -> None:
    assert {c.kind for c in COLUMNS if not c.name.startswith("x_")} <= set(KINDS.values())
    assert all(c.name.startswith("x_") for c in COLUMNS if c.kind == INTEGER)
