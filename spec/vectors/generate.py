#!/usr/bin/env python3
"""Regenerate the test vectors of spec/receipt.md from fixed keys, fixed times and fixed ids.

    python spec/vectors/generate.py            # rewrite spec/vectors/
    python spec/vectors/generate.py --check    # regenerate in memory, fail if any byte differs

Everything is deterministic (Ed25519 signatures are), so the committed vectors are exactly what
this script prints; tests/verifier/test_vectors.py runs the --check comparison. Each invalid
ledger isolates one defect and ``expected.json`` names the failure code and item index the
verifier must report. The keys are the RFC 8032 §7.1 TEST 1 and TEST 2 secret keys: public
knowledge, for tests only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from defects import allocation_vectors, invalid_vectors
from reference import HERE, OTHER_SEED, TEST_SEED, build
from variants import (
    allocations_ledger,
    optional_fields_ledger,
    rotated_ledger,
    small_order_key_ledger,
)

from receipts.deployment.signing_key import Signer
from receipts.pricing.books import shipped_price_book
from verifier import VerifyOptions, audit_ledger
from verifier.allocate import allocate
from verifier.allocation_view import row_json
from verifier.encoding import encode
from verifier.jsonview import receipt_json
from verifier.rollup import RollupSpec


def allocated_rows(ledger: bytes) -> list[dict[str, Any]]:
    """What ``receipt rollup --with-allocations --format json`` prints for ``ledger``
    (spec §8.1), from the verifier's own pass."""
    report = audit_ledger([ledger], VerifyOptions(rollup=RollupSpec((), allocations=True),
                                                  workers=1))
    assert report.valid, report.failure
    assert report.rollup is not None
    return [row_json(r) for r in allocate(report.rollup, report.allocation_sets)]


def render() -> dict[str, bytes]:
    """Every vector file, by path relative to spec/vectors/."""
    base = build()
    signer = Signer(TEST_SEED)
    files: dict[str, bytes] = {
        "test-key.pub.pem": signer.public_pem(),
        "other-key.pub.pem": Signer(OTHER_SEED).public_pem(),
        "price-book.cbor": shipped_price_book()[0],
        "receipt-payload.cbor": encode(base.receipt_payloads[0]),
        "receipt.cose": base.receipts[0],
        "receipt.json": (json.dumps(receipt_json(base.receipt_payloads[0]), indent=2,
                                    sort_keys=True) + "\n").encode(),
        "valid/ledger.cbor": base.ledger(),
        "valid/rotated-keys.cbor": rotated_ledger(),
        "valid/optional-fields.cbor": optional_fields_ledger(),
        "valid/allocations.cbor": allocations_ledger(),
    }
    expected: dict[str, Any] = {
        "valid/ledger.cbor": {"valid": True, "receipts": 6, "chains": {"c0": 3, "c1": 3},
                              "unpriced": 2, "keys": ["test-key.pub.pem"]},
        "valid/optional-fields.cbor": {"valid": True, "receipts": 6,
                                       "chains": {"c0": 3, "c1": 3}, "unpriced": 2,
                                       "keys": ["test-key.pub.pem"]},
        "valid/rotated-keys.cbor": {"valid": True, "receipts": 6, "chains": {"c0": 3, "c1": 3},
                                    "unpriced": 2,
                                    "keys": ["test-key.pub.pem", "other-key.pub.pem"]},
    }
    expected["valid/allocations.cbor"] = {
        "valid": True, "receipts": 6, "chains": {"c0": 3, "c1": 3}, "unpriced": 2,
        "keys": ["test-key.pub.pem"],
        "allocations": allocated_rows(files["valid/allocations.cbor"])}
    vectors = {**invalid_vectors(), **allocation_vectors()}
    vectors["small-order-key"] = (small_order_key_ledger(), "bad_key", 1, None)
    for name, (data, code, item, key) in sorted(vectors.items()):
        path = f"invalid/{name}.cbor"
        files[path] = data
        expected[path] = {"valid": False, "code": code, "item": item,
                          "keys": (key or "test-key.pub.pem").split(",")}
    files["expected.json"] = (json.dumps(expected, indent=2, sort_keys=True) + "\n").encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n"
                   for path, data in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    files = render()
    if args.check:
        stale = [p for p, data in files.items()
                 if not (args.out / p).is_file() or (args.out / p).read_bytes() != data]
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path, data in files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
