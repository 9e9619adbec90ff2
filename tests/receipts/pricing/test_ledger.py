"""Receipts priced with a genai-prices book verify with the standalone verifier."""

from __future__ import annotations

import io
import uuid

from receipts.deployment.signing_key import Signer
from receipts.issuing.receipt_builder import Call, ChainHead, price_fields, sign_receipt
from receipts.pricing.book_update import BuiltBook
from receipts.pricing.model_names import ModelNames
from receipts.storage.ledger_file import fx_rate_item, key_item, price_book_item, write_ledger
from tests.receipts.pricing.billing import prepare_call
from tests.receipts.pricing.conftest import AT_MS
from tests.receipts.pricing.test_real_calls import CASES
from verifier.pricing import FxRate
from verifier.verify import VerifyOptions, verify_ledger


def test_the_real_call_table_as_a_ledger_verifies(built: BuiltBook, names: ModelNames) -> None:
    signer = Signer.generate()
    rate = FxRate("USD", "GBP", "2026-11-01", 790_000_000, "test", AT_MS)
    head = ChainHead("c0")
    items, costs, statuses = [], 0, set()
    for i, case in enumerate(c for c in CASES if not c.old_book):
        issued = AT_MS + 3_600_000 + i
        prepared = prepare_call(names, provider=case.provider, model=case.model,
                                usage=case.usage, usage_format=case.fmt,
                                service_tier=case.tier, at_ms=issued)
        call = Call(request_id=f"req-{i}", provider=prepared.provider, model=prepared.model,
                    model_requested=prepared.model_requested, agent="agent-1",
                    tags={"team": "t"}, usage=prepared.usage, issued_at=issued,
                    receipt_id=str(uuid.UUID(int=i + 1)), usage_detail=prepared.usage_detail,
                    service_tier=prepared.service_tier)
        pricing = price_fields(call, built.book, [rate], "GBP")
        statuses.add(pricing["pricing_status"])
        costs += pricing["cost"] or 0
        items.append(sign_receipt(signer, head, call, pricing).item)
    out = io.BytesIO()
    write_ledger(out, signer, issuer="pricing-test", reporting_currency="GBP",
                 created_at=AT_MS + 86_400_000, key_items=[key_item(signer, AT_MS - 1)],
                 price_book_items=[price_book_item(signer, built.payload_bytes)],
                 fx_rate_items=[fx_rate_item(signer, rate)], chains=[head], receipts=items)
    report = verify_ledger([out.getvalue()], VerifyOptions(workers=1))
    assert report.valid, report.failure
    assert report.receipts == len(items)
    assert report.totals == {"USD": costs}
    assert statuses == {"priced", "unknown_model", "not_metered"}
