"""``receipt focus`` time: verifying a ledger, then writing its FOCUS rows as CSV and Parquet.

Builds a valid simulated ledger (default 50,000 receipts over 2 chains, the demo's traffic),
then runs the real command for each format in a child process and prints its wall time, CPU
time (all its processes), rows, receipts/s and peak RSS, next to ``receipt verify`` alone (the
export reads the ledger a second time after verifying it).

    python bench/focus.py
    python bench/focus.py --receipts 200000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer


def _run(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child and its workers, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[3]} failed: {done.stderr.strip()}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receipts", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ledger, key = Path(tmp) / "ledger.cbor", Path(tmp) / "issuer.pub.pem"
        signer = Signer.generate()
        key.write_bytes(signer.public_pem())
        with ledger.open("wb") as out:
            write_sample_ledger(out, signer, args.receipts, chains=2)
        receipt = [sys.executable, "-m", "receipts"]
        wall, cpu, _ = _run([*receipt, "verify", str(ledger), "--key", str(key)])
        print(f"{args.receipts:,} receipts ({ledger.stat().st_size / 1e6:.0f} MB); receipt "
              f"verify alone: {wall:.1f} s wall, {cpu:.1f} s CPU")
        for suffix in ("csv", "parquet"):
            out_file = Path(tmp) / f"focus.{suffix}"
            wall, cpu, said = _run([*receipt, "focus", str(ledger), "--key", str(key), "-o",
                                    str(out_file)])
            rows = said.split(" -> ")[1].split(" FOCUS")[0]
            print(f"receipt focus -o focus.{suffix}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                  f"{rows} rows, {args.receipts / wall:,.0f} receipts/s, "
                  f"{out_file.stat().st_size / 1e6:.1f} MB")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest child process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
