"""Pre-flight authorizations per second on one worker, and their latency (p50, p99).

Starts a fresh ``receipt serve --workers 1`` (SQLite, then PostgreSQL when reachable) with two
budgets covering the agent (one ``deny``, one ``notify``, limits never reached), then:

* closed loop: 32 keep-alive connections send ``POST /v1/authorize`` back to back (each a new
  request id, so each holds a new reservation against both budgets): the rate is the most one
  worker answers, with the latency at that load;
* open loop: the same requests paced at 2,000/s (or 80 % of the closed-loop rate if lower),
  for the latency of a worker at the target rate.

It also prints the service's CPU time per authorization (the worker and its parents, from
/proc), which says what one worker answers with a core to itself: on a shared machine the
rates above are those of whatever share of the CPU the worker got. Every answer must be 200
``allow``. Targets: 2,000/s on one worker, p99 under 10 ms. Prints the
figures (median of three closed-loop runs); ``--quick`` runs shorter phases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen
from issue import HOST, PG, ROOT, _drop_schema, _free_port, _pg_schema, _receipt

TARGET_RATE = 2000.0
TARGET_P99_MS = 10.0


def _requests(port: int, key: str, n: int, tag: str) -> list[tuple[bytes, int]]:
    return [(loadgen.request_bytes(HOST, port, "/v1/authorize", key, json.dumps({
        "request_id": f"{tag}-{i}", "provider": "openai", "model": "gpt-4o",
        "estimated_cost": "0.01", "tags": {"project": "bench"}}).encode()), 1)
        for i in range(n)]


def _cpu_seconds(root: int) -> float:
    """CPU time (user + system) of process ``root`` and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, total = {root}, 0
    for _ in range(4):  # (descendants a few levels down: serve -> uvicorn -> worker)
        tree |= {pid for pid, (ppid, _) in stats.items() if ppid in tree}
    for pid in tree:
        total += stats.get(pid, (0, 0))[1]
    return total / ticks


def _check(name: str, result: loadgen.Result) -> None:
    bad = {s: c for s, c in result.statuses.items() if s != 200}
    denied = sum(b'"allow"' not in body for body in result.bodies)
    if bad or result.errors or denied:
        print(f"  warning: {name}: statuses {bad}, errors {result.errors}, not allowed {denied}")


def measure(db: str, quick: bool) -> None:
    """Start a service on ``db`` and print its figures."""
    schema = None
    with tempfile.TemporaryDirectory(prefix="receipts-bench-") as tmp:
        env = {**os.environ, "RECEIPTS_DATA": str(Path(tmp) / "data")}
        if db == "postgresql":
            schema = _pg_schema()
            if schema is None:
                return
            env["RECEIPTS_DB"] = f"{PG}?options=-csearch_path%3D{schema}"
        try:
            _receipt("init", "--price-book", "shipped", env=env)
            key = _receipt("agent", "create", "--team", "bench", env=env)
            _receipt("budget", "set", "bench-deny", "--limit", "1000000", "--scope",
                     "team=bench", "--at-limit", "deny", env=env)
            _receipt("budget", "set", "bench-notify", "--limit", "1000000", "--scope",
                     "project=bench", env=env)
            port = _free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "receipts", "serve", "--port", str(port), "--workers",
                 "1"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            try:
                loadgen.wait_for_port(HOST, port)
                time.sleep(1.0)
                _run(db, port, key, quick, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=60)
        finally:
            if schema:
                _drop_schema(schema)


def _run(db: str, port: int, key: str, quick: bool, pid: int) -> None:
    n = 2000 if quick else 8000
    run = asyncio.run
    run(loadgen.run(HOST, port, _requests(port, key, 300, "warm"), 16))
    runs = []
    cpu = []
    for i in range(1 if quick else 3):
        requests = _requests(port, key, n, f"c{i}")
        before = _cpu_seconds(pid)
        result = run(loadgen.run(HOST, port, requests, 32, keep_bodies=True))
        cpu.append((_cpu_seconds(pid) - before) / max(result.ok, 1))
        _check(f"{db} closed loop", result)
        runs.append(result)
    runs.sort(key=lambda r: r.ok / r.seconds)
    closed = runs[len(runs) // 2]
    rate = closed.ok / closed.seconds
    paced_rate = min(TARGET_RATE, 0.8 * rate)
    paced = run(loadgen.run(HOST, port, _requests(port, key, int(paced_rate * (3 if quick
                                                                               else 6)), "p"),
                            32, rate=paced_rate, keep_bodies=True))
    _check(f"{db} open loop", paced)
    print(f"{db:10s} closed loop: {rate:7.0f} authorizations/s  p50 {closed.percentile(50):5.2f} "
          f"ms  p99 {closed.percentile(99):6.2f} ms   (target {TARGET_RATE:.0f}/s)")
    per = sorted(cpu)[len(cpu) // 2]
    print(f"{db:10s} service CPU per authorization {per * 1000:.3f} ms: {1 / per:7.0f}/s per "
          f"CPU-second (the rate of one worker with a core to itself; load average now "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{db:10s} open loop at {paced.ok / paced.seconds:5.0f}/s: p50 "
          f"{paced.percentile(50):5.2f} ms  p99 {paced.percentile(99):6.2f} ms   (target p99 < "
          f"{TARGET_P99_MS:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        measure(db, args.quick)


if __name__ == "__main__":
    main()
