"""Time ``receipt report`` on a simulated ledger: verification and recomputation, then each
format. Prints figures; asserts nothing (``--receipts N``, default 20,000)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer
from receipts.report.facts import from_ledger
from receipts.report.render import RENDERERS
from verifier.keys import load_public_key_pem


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    signer = Signer.generate()
    with tempfile.TemporaryDirectory() as tmp:
        path, key = Path(tmp) / "ledger.cbor", Path(tmp) / "key.pem"
        with path.open("wb") as out:
            write_sample_ledger(out, signer, args.receipts)
        key.write_bytes(signer.public_pem())
        from receipts.report.build import Inputs, build
        from receipts.report.sources import ledger_report

        keys = (load_public_key_pem(key),)
        start = time.perf_counter()
        facts = from_ledger(path, keys, "2026-01", ("team",), args.workers)
        verified = time.perf_counter() - start
        months = sorted({f.day[:7] for f in facts.rows})
        month = months[-1] if months else "2026-01"
        start = time.perf_counter()
        report = ledger_report(path, keys, month, ("team",), args.workers)
        total = time.perf_counter() - start
        print(f"{args.receipts} receipts, month {month}: verify+rollup {verified:.2f} s, "
              f"whole report (verify again) {total:.2f} s, "
              f"{args.receipts / total:,.0f} receipts/s")
        facts = from_ledger(path, keys, month, ("team",), args.workers)
        for fmt, render in RENDERERS.items():
            start = time.perf_counter()
            data = render(build(facts, Inputs(month, ("team",), report["currency"])))
            print(f"  build+{fmt}: {time.perf_counter() - start:.3f} s, {len(data):,} bytes")


if __name__ == "__main__":
    main()
