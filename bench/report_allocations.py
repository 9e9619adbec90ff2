"""Time the monthly report's allocations section from a ledger (``--receipts N``, default
20,000): the report without allocation sets, then with one in force, whose section verifies
the ledger a second time grouped as the set needs. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from receipts.allocations.source import to_payload
from receipts.demo.traffic import START_MS, write_sample_ledger
from receipts.deployment.signing_key import Signer
from receipts.report.sources import ledger_report
from verifier import cose
from verifier.keys import load_public_key_pem

RULES = {
    "name": "bench", "effective_from": "2025-12", "by": "team", "rules": [
        {"kind": "fixed", "name": "Seats", "category": "seat_licences", "unit_price": "30.00",
         "quantities": {"search": 12, "support": 5, "research": 3}},
        {"kind": "split", "name": "Triage bot", "category": "shared_agent",
         "match": {"project": "triage-bot"}, "ratios": {"search": 1, "support": 1}},
        {"kind": "distribute", "name": "Discount", "category": "discount",
         "amount": "-50.00", "scope": {"provider": "openai"}},
        {"kind": "distribute", "name": "Vector DB", "category": "tools", "amount": "100.00",
         "key": {"search": 2, "research": 1}}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    signer = Signer.generate()
    item = signer.sign(cose.ALLOCATION_SET, to_payload(RULES, "GBP", START_MS))
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key.pem"
        key.write_bytes(signer.public_pem())
        keys = (load_public_key_pem(key),)
        for label, items in (("without a set", ()), ("with a set", (item,))):
            path = Path(tmp) / "ledger.cbor"
            with path.open("wb") as out:
                write_sample_ledger(out, signer, args.receipts, allocation_items=items)
            start = time.perf_counter()
            report = ledger_report(path, keys, "2025-12", ("team",), args.workers)
            took = time.perf_counter() - start
            section = report["allocations"]
            extra = "" if section is None else (
                f", {len(section['groups'])} groups, invoice total "
                f"{section['invoice_total']}")
            print(f"{args.receipts} receipts {label}: whole report {took:.2f} s{extra}")


if __name__ == "__main__":
    main()
