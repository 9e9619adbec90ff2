"""How much reconciling adds to verifying: ``python bench/reconcile.py [RECEIPTS]``.

Writes a simulated ledger (default 50,000 receipts over 30 days) and an invoice billing exactly
its receipts per provider, model and day, then times ``receipt verify``'s pass alone and the
whole reconciliation (the same verification with the rollup, invoice reading, matching, causes
and chargeback), and prints both with the receipts per second.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer
from receipts.reconcile.invoices import parse_map, read_invoices
from receipts.reconcile.ledger import load_ledger
from receipts.reconcile.summary import reconcile
from receipts.reconcile.teams import Bar
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.keys import PublicKey
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import utc_day
from verifier.verify import VerifyOptions, audit_ledger_file, read_chunks


def _invoice(ledger: Path, out: Path) -> int:
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for _, item in split_sequence(read_chunks(ledger)):
        env = cose.parse(item)
        if env.content_type == cose.RECEIPT:
            r = decode_strict(env.payload)
            if r["cost"] is not None:
                totals[(r["provider"], r["model"], utc_day(r["issued_at"]))] += r["cost"]
    lines = ["date,provider,model,amount,currency"]
    lines += [f"{d},{p},{m},{format_amount(a, COST_SCALE)},USD"
              for (p, m, d), a in sorted(totals.items())]
    out.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def main(n: int) -> None:
    signer = Signer.generate()
    key = (PublicKey(signer.public_key),)
    with tempfile.TemporaryDirectory() as tmp:
        ledger, bill = Path(tmp) / "ledger.cbor", Path(tmp) / "bill.csv"
        started = time.perf_counter()
        with ledger.open("wb") as out:
            write_sample_ledger(out, signer, n, chains=2, interval_ms=30 * 86_400_000 // n)
        print(f"ledger: {n} receipts, {ledger.stat().st_size / 1e6:.1f} MB, written in "
              f"{time.perf_counter() - started:.1f} s")
        print(f"invoice: {_invoice(ledger, bill)} lines")
        started = time.perf_counter()
        report = audit_ledger_file(ledger, VerifyOptions(trusted_keys=key))
        verify_s = time.perf_counter() - started
        assert report.valid, report.failure
        started = time.perf_counter()
        mapping = parse_map(("date=date", "provider=provider", "model=model", "amount=amount",
                             "currency=currency"))
        lines = read_invoices([str(bill)], mapping)
        side = load_ledger(ledger, key, "USD", "day", ("team",))
        result = reconcile(side, lines, (str(bill),), "day", ("team",),
                           Bar(Decimal(95), Decimal(2)))
        reconcile_s = time.perf_counter() - started
        assert result.met, "an exact invoice must meet the bar"
        assert result.totals.abs_variance == 0
        print(f"verify alone:   {verify_s:6.2f} s  {n / verify_s:9,.0f} receipts/s")
        print(f"reconcile:      {reconcile_s:6.2f} s  {n / reconcile_s:9,.0f} receipts/s "
              f"({len(result.cells)} cells, {reconcile_s / verify_s:.2f}x verify)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
