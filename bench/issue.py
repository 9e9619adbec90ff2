"""Benchmark of the receipt service (issue 3): receipts/s and latency through real HTTP.

For each database (SQLite; PostgreSQL at 127.0.0.1:5432/test when reachable), each worker count
and each mode it starts a server on a fresh deployment and measures, with concurrent
keep-alive clients (bench/loadgen.py):

* single-call throughput (closed loop, 32 connections) with p50/p99 latency;
* batched throughput (batches of 500 calls, 4 connections);
  (each of these two runs three times, and the run of median rate is reported)
* p50/p99 latency at half the measured single-call maximum (open loop, paced);

(each run's connections open over its first 20 ms, not in one instant, so that they spread
over the workers: see ``loadgen.RAMP_SECONDS``)

in two modes on the same request path: ``signed`` (the product, ``receipt serve``: priced,
CBOR-encoded, signed, hash-chained) and ``baseline`` (bench/baseline_service.py: the same HTTP,
auth, validation, pricing, group commit and database insert, but storing an unsigned, unchained
JSON row). Figures are printed, never asserted. Targets (issue 3, this 2-core machine): signed
<= 1.5x baseline cost, >= 1,500 receipts/s single-call and >= 10,000 batched on SQLite, p99 < 25
ms at half the maximum rate.

    python bench/issue.py [--quick] [--workers 1,2] [--no-postgres] [--db sqlite|postgresql]
                          [--chains workers|N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"


@dataclass
class Figures:
    """One configuration's results."""

    db: str
    workers: int
    mode: str
    single_rate: float
    single_p50: float
    single_p99: float
    batch_rate: float
    batch_p50: float
    batch_p99: float
    half_rate: float
    half_p50: float
    half_p99: float


def _receipt(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "receipts", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    return out.stdout.strip().splitlines()[-1]


def _pg_schema() -> str | None:
    try:
        import psycopg

        schema = "receipts_bench_" + secrets.token_hex(4)
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True,
                             connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return schema
    except Exception as e:
        print(f"PostgreSQL not reachable ({type(e).__name__}); skipping it")
        return None


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def measure(db: str, workers: int, mode: str, quick: bool, chains: int) -> Figures | None:
    """Start a fresh service and measure it."""
    schema = None
    with tempfile.TemporaryDirectory(prefix="receipts-bench-") as tmp:
        env = {**os.environ, "RECEIPTS_DATA": str(Path(tmp) / "data"),
               "RECEIPTS_CHAINS": str(chains)}
        if db == "postgresql":
            schema = _pg_schema()
            if schema is None:
                return None
            env["RECEIPTS_DB"] = f"{PG}?options=-csearch_path%3D{schema}"
        try:
            _receipt("init", env=env)
            key = _receipt("agent", "create", "--team", "bench", env=env)
            port = _free_port()
            serve = (["-m", "receipts", "serve"] if mode == "signed"
                     else [str(BENCH / "baseline_service.py")])
            server = subprocess.Popen(
                [sys.executable, *serve, "--port", str(port), "--workers", str(workers)],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            try:
                loadgen.wait_for_port(HOST, port)
                time.sleep(1.0 + workers * 0.5)  # all workers up
                return _run(db, workers, mode, port, key, quick)
            finally:
                server.terminate()
                server.wait(timeout=60)
        finally:
            if schema:
                _drop_schema(schema)


REPEATS = 3
"""Each throughput phase runs this many times and the median run is kept: a single run of a few
seconds on this VM varied by +-20 %, enough to move a signed/baseline ratio by 0.2."""


def _median_run(port: int, make: Callable[[str], list[tuple[bytes, int]]], connections: int,
                count: Callable[[loadgen.Result], int], repeats: int) -> loadgen.Result:
    """Run a phase ``repeats`` times (fresh request ids each time); the run of median rate."""
    runs = [asyncio.run(loadgen.run(HOST, port, make(f"r{i}-"), connections))
            for i in range(repeats)]
    runs.sort(key=lambda r: count(r) / r.seconds)
    return runs[len(runs) // 2]


def _run(db: str, workers: int, mode: str, port: int, key: str, quick: bool) -> Figures:
    n_single = 3000 if quick else 12000
    n_batches = 12 if quick else 48
    repeats = 1 if quick else REPEATS
    run = asyncio.run
    run(loadgen.run(HOST, port, loadgen.single_requests(HOST, port, key, 400, "warm"), 16))
    single = _median_run(port, lambda tag: loadgen.single_requests(HOST, port, key, n_single,
                                                             tag + "s"),
                         32, lambda r: r.ok, repeats)
    batch = _median_run(port, lambda tag: loadgen.batch_requests(HOST, port, key, n_batches, 500,
                                                           tag + "b"),
                        4, lambda r: r.receipts, repeats)
    rate = single.ok / single.seconds
    half = rate / 2
    paced = run(loadgen.run(HOST, port, loadgen.single_requests(
        HOST, port, key, int(half * (4 if quick else 8)), "h"), 32, rate=half))
    for name, result in (("single", single), ("batch", batch), ("half-rate", paced)):
        bad = {s: c for s, c in result.statuses.items() if s not in (200, 201)}
        if bad or result.errors:
            print(f"  warning: {db}/{mode} {name}: statuses {bad}, errors {result.errors}")
    return Figures(db, workers, mode, rate, single.percentile(50), single.percentile(99),
                   batch.receipts / batch.seconds, batch.percentile(50), batch.percentile(99),
                   paced.ok / paced.seconds, paced.percentile(50), paced.percentile(99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (CI smoke run)")
    parser.add_argument("--workers", default="1,2", help="worker counts to try (default 1,2)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append",
                        help="only this database (repeatable; default: SQLite, then PostgreSQL "
                             "unless --no-postgres)")
    parser.add_argument("--chains", default="workers",
                        help="chains appends are spread over: a number, or 'workers' (default: "
                             "one per worker, the set-up the README recommends for several)")
    args = parser.parse_args()
    print(f"receipt service benchmark on {os.cpu_count()} cores (client and server share them)")
    results: list[Figures] = []
    dbs = args.db or ["sqlite", *(() if args.no_postgres else ("postgresql",))]
    for db in dbs:
        for workers in (int(w) for w in args.workers.split(",")):
            for mode in ("baseline", "signed"):
                chains = workers if args.chains == "workers" else int(args.chains)
                figures = measure(db, workers, mode, args.quick, chains)
                if figures is None:
                    break
                results.append(figures)
                f = figures
                print(f"{f.db:10} workers={f.workers} chains={chains} {f.mode:8}  single "
                      f"{f.single_rate:7.0f}/s (p50 {f.single_p50:5.1f} ms, "
                      f"p99 {f.single_p99:6.1f} ms)  batch "
                      f"{f.batch_rate:7.0f}/s (p50 {f.batch_p50:6.0f} ms per 500)  at "
                      f"{f.half_rate:5.0f}/s: p50 {f.half_p50:5.1f} ms, p99 {f.half_p99:5.1f} ms",
                      flush=True)
    print("\ncost of signing and chaining (baseline rate / signed rate; target <= 1.5x):")
    for signed in (r for r in results if r.mode == "signed"):
        base = next(r for r in results if r.mode == "baseline" and r.db == signed.db
                    and r.workers == signed.workers)
        print(f"  {signed.db:10} workers={signed.workers}: single "
              f"{base.single_rate / signed.single_rate:4.2f}x, batch "
              f"{base.batch_rate / signed.batch_rate:4.2f}x")
    sqlite = [r for r in results if r.db == "sqlite" and r.mode == "signed"]
    if sqlite:
        best_single = max(r.single_rate for r in sqlite)
        best_batch = max(r.batch_rate for r in sqlite)
        p99 = min(r.half_p99 for r in sqlite)
        print(f"\nSQLite signed, best: single {best_single:.0f}/s (target 1,500), batch "
              f"{best_batch:.0f}/s (target 10,000), p99 at half rate {p99:.1f} ms (target 25)")


if __name__ == "__main__":
    main()
