"""Every invoice format read exactly, and every unreadable one named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receipts.errors import UnreadableInvoice
from receipts.reconcile.invoices import InvoiceLine, parse_map, read_invoices

DAY = 1_764_547_200  # 2025-12-01T00:00:00Z
SCALE = 10**12
OPENAI_PAGE = {
    "object": "page", "has_more": False, "next_page": None,
    "data": [{"object": "bucket", "start_time": DAY, "end_time": DAY + 86_400, "results": [
        {"object": "organization.costs.result",
         "amount": {"value": 0.8958740000000000, "currency": "usd"},
         "line_item": "gpt-4o-2024-08-06, input", "project_id": "proj_abc"},
        {"object": "organization.costs.result",
         "amount": {"value": 0.0720000000000000, "currency": "usd"},
         "line_item": "gpt-4o-2024-08-06, cached input", "project_id": "proj_abc"},
        {"object": "organization.costs.result", "amount": {"value": 0.25, "currency": "usd"},
         "line_item": "gpt-4o-mini-2024-07-18, output (batch)", "project_id": None},
        {"object": "organization.costs.result", "amount": {"value": 1, "currency": "usd"},
         "line_item": "Image models", "project_id": None},
        {"object": "organization.costs.result", "amount": {"value": 2, "currency": "usd"},
         "line_item": None},
    ]}],
}
ANTHROPIC_REPORT = {
    "has_more": False, "next_page": None,
    "data": [{"starting_at": "2025-12-01T00:00:00Z", "ending_at": "2025-12-02T00:00:00Z",
              "results": [
                  {"amount": "123.78912", "currency": "USD", "cost_type": "tokens",
                   "description": "Claude Sonnet 4 Usage - Input Tokens",
                   "model": "claude-sonnet-4", "token_type": "uncached_input_tokens",
                   "service_tier": "standard"},
                  {"amount": "50", "currency": "USD", "cost_type": "tokens",
                   "model": "claude-sonnet-4",
                   "token_type": "cache_creation.ephemeral_1h_input_tokens",
                   "service_tier": "batch"},
                  {"amount": "30", "currency": "USD", "cost_type": "web_search",
                   "description": "Web Search Usage", "model": None, "token_type": None},
              ]}],
}


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_openai_costs_page_dollars_exact_with_line_items(tmp_path: Path) -> None:
    text = json.dumps(OPENAI_PAGE, indent=2).replace("0.895874", "0.8958740000000000")
    lines = read_invoices([_write(tmp_path, "costs.json", text)])
    assert [(x.model, x.kind, x.batch, x.amount) for x in lines] == [
        ("gpt-4o-2024-08-06", "input", False, 895_874_000_000),
        ("gpt-4o-2024-08-06", "cache_read", False, 72_000_000_000),
        ("gpt-4o-mini-2024-07-18", "output", True, 250_000_000_000),
        ("Image models", None, False, SCALE),
        ("(not itemized)", None, False, 2 * SCALE),
    ]
    assert {(x.provider, x.currency, x.at_ms) for x in lines} == {("openai", "USD",
                                                                    DAY * 1000)}
    assert lines[0].where.endswith("costs.json:1: data[0].results[0]")


def test_openai_pages_as_json_lines_and_as_a_list(tmp_path: Path) -> None:
    page = json.dumps(OPENAI_PAGE)
    later = page.replace(str(DAY), str(DAY + 86_400))  # the next day's page
    jsonl = read_invoices([_write(tmp_path, "p.jsonl", page + "\n\n" + later + "\n")])
    listed = read_invoices([_write(tmp_path, "l.json", f"[{page}, {later}]")])
    assert len(jsonl) == len(listed) == 10
    assert jsonl[5].where.endswith("p.jsonl:3: data[0].results[0]")
    assert sum(x.amount for x in jsonl) == sum(x.amount for x in listed)


def test_a_page_given_twice_is_refused(tmp_path: Path) -> None:
    page = json.dumps(OPENAI_PAGE)
    first = _write(tmp_path, "a.json", page)
    with pytest.raises(UnreadableInvoice, match=r"b\.json:1: the same page as .*a\.json:1"):
        read_invoices([first, _write(tmp_path, "b.json", page)])


def test_anthropic_cost_report_cents_as_decimal_strings(tmp_path: Path) -> None:
    lines = read_invoices([_write(tmp_path, "cost.json", json.dumps(ANTHROPIC_REPORT))])
    assert lines == [
        InvoiceLine(lines[0].where, "anthropic", "claude-sonnet-4", DAY * 1000,
                    1_237_891_200_000, "USD", "input", False),
        InvoiceLine(lines[1].where, "anthropic", "claude-sonnet-4", DAY * 1000,
                    500_000_000_000, "USD", "cache_write", True),
        InvoiceLine(lines[2].where, "anthropic", "Web Search Usage", DAY * 1000,
                    300_000_000_000, "USD", None, False),
    ]  # "123.78912" cents is $1.2378912


def test_csv_through_a_column_map(tmp_path: Path) -> None:
    text = ("Day,Vendor,SKU model,Cost,Ccy,Kind,Tier\n"
            "2025-12-01,gemini,gemini-2.5-flash,0.008232900000,usd,input,\n"
            "\n"
            "2025-12-01T00:00:00Z,vertex_ai,gemini-2.5-pro,1.5,USD,,batch\n")
    mapping = parse_map(("Day=date", "Vendor=provider", "SKU model=model", "Cost=amount",
                         "Ccy=currency", "Kind=token_type", "Tier=service_tier"))
    lines = read_invoices([_write(tmp_path, "bill.csv", text)], mapping)
    assert [(x.provider, x.model, x.amount, x.currency, x.kind, x.batch, x.at_ms)
            for x in lines] == [
        ("google", "gemini-2.5-flash", 8_232_900_000, "USD", "input", False, DAY * 1000),
        ("google", "gemini-2.5-pro", 1_500_000_000_000, "USD", None, True, DAY * 1000),
    ]
    assert lines[1].where.endswith("bill.csv:4")


CSV_MAP = ("d=date", "p=provider", "m=model", "a=amount", "c=currency")


@pytest.mark.parametrize(("name", "text", "mapping", "message"), [
    ("a.json", '{"object": "page",\n "data": [\n  {"start_time": 1, "results": [}]}',
     (), "a.json:3: not JSON"),
    ("a.jsonl", json.dumps(OPENAI_PAGE) + "\n{oops\n", (), "a.jsonl:2: not JSON"),
    ("a.json", '{"hello": 1}', (), "a.json:1: expected an OpenAI Costs API page"),
    ("a.json", '{"data": [{"results": []}]}', (), "a.json:1: data[0]: no start_time"),
    ("a.json", '{"data": [{"start_time": 1, "results": [{"object": '
     '"organization.usage.completions.result"}]}]}', (),
     "a.json:1: data[0].results[0].object: 'organization.usage.completions.result' is not "
     "organization.costs.result (a Usage API page counts tokens"),
    ("a.json", '{"data": [{"start_time": 1, "results": [{"object": '
     '"organization.costs.result", "amount": {"value": "1e", "currency": "usd"}}]}]}', (),
     "a.json:1: data[0].results[0].amount.value: '1e' is not a decimal amount"),
    ("a.json", '{"data": [{"start_time": 1, "results": [{"object": '
     '"organization.costs.result", "amount": {"value": 1}}]}]}', (),
     "a.json:1: data[0].results[0].amount.currency: None is not an ISO 4217"),
    ("a.json", '{"data": [{"starting_at": "2025-12-01T00:00:00Z", "results": [{"amount": 12, '
     '"currency": "USD"}]}]}', (),
     "a.json:1: data[0].results[0].amount: must be a decimal string in cents"),
    ("a.json", '{"data": [{"starting_at": "yesterday", "results": []}]}', (),
     "a.json:1: data[0].starting_at: 'yesterday' is not an RFC 3339 time"),
    ("a.csv", "d,p,m,a,c\n2025-12-01,openai,gpt-4o,1,USD\n", (), "a.csv:1: a CSV invoice needs "
     "--map"),
    ("a.csv", "d,p,m,a\n", CSV_MAP[:4], "a.csv:1: --map must name a column for currency"),
    ("a.csv", "d,p,m,a,x\n", CSV_MAP, "a.csv:1: --map names columns the header lacks: c"),
    ("a.csv", "d,p,m,a,c\n2025-12-01,openai,gpt-4o,1\n", CSV_MAP, "a.csv:2: 4 cells"),
    ("a.csv", "d,p,m,a,c\n2025-12-01,openai,gpt-4o,1,USD\n2025-12-01,openai,gpt-4o,1$,USD\n",
     CSV_MAP, "a.csv:3: a: '1$' is not a decimal amount"),
    ("a.csv", "d,p,m,a,c\nlater,openai,gpt-4o,1,USD\n", CSV_MAP, "a.csv:2: d: 'later'"),
    ("a.csv", "d,p,m,a,c\n2025-12-01,openai,gpt-4o,1,dollars\n", CSV_MAP,
     "a.csv:2: c: 'dollars' is not an ISO 4217"),
    ("a.csv", "d,p,m,a,c,k\n2025-12-01,openai,gpt-4o,1,USD,prompt\n", (*CSV_MAP, "k=token_type"),
     "a.csv:2: k: 'prompt' is not one of"),
    ("a.json", "", (), "a.json:1: empty file"),
])
def test_unreadable_invoices_name_file_line_and_field(
        tmp_path: Path, name: str, text: str, mapping: tuple[str, ...], message: str) -> None:
    with pytest.raises(UnreadableInvoice) as caught:
        read_invoices([_write(tmp_path, name, text)], parse_map(mapping))
    assert message in str(caught.value)
    assert str(tmp_path) in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInvoice, match=r"nothere\.json: No such file"):
        read_invoices([str(tmp_path / "nothere.json")])
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{}")
    with pytest.raises(UnreadableInvoice, match=r"bad\.json: not UTF-8"):
        read_invoices([str(bad)])


def test_column_map_refusals() -> None:
    with pytest.raises(UnreadableInvoice, match="field must be one of date, provider"):
        parse_map(("a=cost",))
    with pytest.raises(UnreadableInvoice, match="expected column=field"):
        parse_map(("a",))
