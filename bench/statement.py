"""Time ``receipt statement`` on a simulated ledger: verification, the second read that lists
the tenant's receipts, then each format. The sample traffic has no tenant tag, so its
``team`` tag stands in for one (``--tenant search``). Prints figures; asserts nothing
(``--receipts N``, default 20,000)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer
from receipts.statements.build import build
from receipts.statements.records import Ask
from receipts.statements.render import RENDERERS
from receipts.statements.sources import from_ledger
from verifier.keys import load_public_key_pem
from verifier.rollup import utc_day
from verifier.verify import VerifyOptions, audit_ledger_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--tenant", default="search")
    args = parser.parse_args()
    signer = Signer.generate()
    with tempfile.TemporaryDirectory() as tmp:
        path, key = Path(tmp) / "ledger.cbor", Path(tmp) / "key.pem"
        with path.open("wb") as out:
            write_sample_ledger(out, signer, args.receipts)
        key.write_bytes(signer.public_pem())
        keys = (load_public_key_pem(key),)
        start = time.perf_counter()
        report = audit_ledger_file(path, VerifyOptions(trusted_keys=keys,
                                                       workers=args.workers))
        verify_only = time.perf_counter() - start
        assert report.valid, report.failure
        month = _last_month(path)
        ask = Ask(args.tenant, month, "team", "reporting")
        start = time.perf_counter()
        usage = from_ledger(path, keys, ask, args.workers)
        total = time.perf_counter() - start
        print(f"{args.receipts} receipts, month {month}, tenant {args.tenant}: "
              f"{len(usage.records)} receipts of the tenant; verify alone {verify_only:.2f} s, "
              f"verify+rollup+second read {total:.2f} s ({args.receipts / total:,.0f} "
              "receipts/s)")
        for fmt, render in RENDERERS.items():
            start = time.perf_counter()
            data = render(build(usage, ask))
            print(f"  build+{fmt}: {time.perf_counter() - start:.3f} s, {len(data):,} bytes")


def _last_month(path: Path) -> str:
    from verifier import cose
    from verifier.encoding import decode_strict, split_sequence
    from verifier.verify import read_chunks

    last = 0
    for _, item in split_sequence(read_chunks(path)):
        env = cose.parse(item)
        if env.content_type == cose.RECEIPT:
            last = max(last, decode_strict(env.payload)["issued_at"])
    return utc_day(last)[:7]


if __name__ == "__main__":
    main()
