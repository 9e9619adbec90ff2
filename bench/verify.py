#!/usr/bin/env python3
"""Benchmark `receipt verify` and `receipt rollup` against the raw Ed25519 verify rate.

    python bench/verify.py [--receipts 200000] [--chains 4] [--keep DIR]

Builds a ledger of N simulated receipts (signed in parallel), then times the real CLI commands
in subprocesses, and, in the same run, the raw libsodium (PyNaCl) Ed25519 verify rate with one
process per core on messages of the same size. Prints receipts/s, the ratio to the raw rate
(target: at least 75 %) and the peak resident memory of the verifier (target: under 150 MB).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nacl.signing

from receipts.signing import Signer
from receipts.simulate import write_sample_ledger


def _raw_verify(count: int) -> int:
    signing = nacl.signing.SigningKey.generate()
    message = os.urandom(560)  # a receipt's Sig_structure is about this long
    signed = signing.sign(message)
    verify = signing.verify_key.verify
    for _ in range(count):
        verify(signed.message, signed.signature)
    return count


def raw_rate(cores: int, seconds: float = 3.0) -> float:
    """Signatures verified per second with one process per core."""
    per_core = int(seconds * 14_000)
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(_raw_verify, [200] * cores)  # warm up
        start = time.perf_counter()
        done = sum(pool.map(_raw_verify, [per_core] * cores))
        return done / (time.perf_counter() - start)


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB, largest of the process tree) of a command."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=200_000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="Write the ledger here instead of a temp dir.")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-verify-"))
    ledger = workdir / "ledger.cbor"
    signer = Signer.generate()
    start = time.perf_counter()
    buffer = io.BytesIO()
    write_sample_ledger(buffer, signer, args.receipts, chains=args.chains)
    ledger.write_bytes(buffer.getvalue())
    del buffer
    build = time.perf_counter() - start
    size_mb = ledger.stat().st_size / 1e6
    print(f"ledger: {args.receipts:,} receipts, {args.chains} chains, {size_mb:.1f} MB "
          f"(built and signed in {build:.1f} s)")
    cli = [sys.executable, "-m", "receipts"]
    verify_s, verify_mb = timed([*cli, "verify", str(ledger)])
    rollup_s, rollup_mb = timed([*cli, "rollup", str(ledger), "--by", "team", "--by", "project",
                                 "--period", "day", "--format", "csv"])
    raw = raw_rate(cores)
    rate = args.receipts / verify_s
    print(f"cores: {cores}")
    print(f"raw Ed25519 verify (PyNaCl/libsodium, {cores} processes): {raw:,.0f} signatures/s")
    print(f"receipt verify: {verify_s:.2f} s = {rate:,.0f} receipts/s = {rate / raw:.0%} of raw "
          f"(target >= 75 %); peak RSS {verify_mb} MB (target < 150 MB)")
    print(f"receipt rollup --by team --by project --period day: {rollup_s:.2f} s = "
          f"{args.receipts / rollup_s:,.0f} receipts/s; peak RSS {rollup_mb} MB")
    if not args.keep:
        ledger.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
