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
``allow``. Targets: 2,000/s on one worker, p99 under 10 ms.

Then, in the same worker, the same closed loop on two routes that answer like it but stop
early (bench/authorize_app.py): after the HTTP edge (a no-op: middleware, key, body, schema),
and after the estimate and the tag policy (no budget transaction), and the no-op route paced
at the open loop's rate. What separates them from ``/v1/authorize`` is the budgets'
transaction. Prints the figures (median of three closed-loop
runs), then both databases side by side; ``--quick`` runs shorter phases.
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
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen
from issue import BENCH, HOST, PG, ROOT, _drop_schema, _free_port, _pg_schema, _receipt

TARGET_RATE = 2000.0
TARGET_P99_MS = 10.0


def _requests(port: int, key: str, n: int, tag: str, path: str = "/v1/authorize",
              ) -> list[tuple[bytes, int]]:
    return [(loadgen.request_bytes(HOST, port, path, key, json.dumps({
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


@dataclass
class Phase:
    """One measured phase: rate, latency and the service's CPU per request."""

    rate: float
    p50: float
    p99: float
    cpu_ms: float

    def cell(self) -> str:
        return f"{self.rate:6.0f}/s {self.p50:5.2f} {self.p99:6.2f} ms"


def measure(db: str, quick: bool) -> dict[str, Phase]:
    """Start a service on ``db``; its figures by phase (empty when ``db`` is unreachable)."""
    schema = None
    with tempfile.TemporaryDirectory(prefix="receipts-bench-") as tmp:
        env = {**os.environ, "RECEIPTS_DATA": str(Path(tmp) / "data")}
        if db == "postgresql":
            schema = _pg_schema()
            if schema is None:
                return {}
            env["RECEIPTS_DB"] = f"{PG}?options=-csearch_path%3D{schema}"
        try:
            _receipt("init", "--price-book", "shipped", env=env)
            key = _receipt("agent", "create", "--team", "bench", env=env)
            _receipt("budget", "set", "bench-deny", "--limit", "1000000", "--scope",
                     "team=bench", "--at-limit", "deny", env=env)
            _receipt("budget", "set", "bench-notify", "--limit", "1000000", "--scope",
                     "project=bench", env=env)
            port = _free_port()
            # (``receipt serve --workers 1`` runs this same app in one process; the factory
            # adds the two routes that stop early, see bench/authorize_app.py)
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "authorize_app:create", "--factory",
                 "--app-dir", str(BENCH), "--port", str(port), "--log-level", "warning",
                 "--no-access-log"], env={**env, "RECEIPTS_SELF_CHECK": "0"}, cwd=ROOT,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                loadgen.wait_for_port(HOST, port)
                time.sleep(1.0)
                return _run(db, port, key, quick, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=60)
        finally:
            if schema:
                _drop_schema(schema)


def _closed(port: int, key: str, n: int, tag: str, pid: int, path: str = "/v1/authorize",
            ) -> tuple[loadgen.Result, float]:
    """A closed-loop run of ``n`` requests on 32 connections; (result, CPU s per request)."""
    before = _cpu_seconds(pid)
    result = asyncio.run(loadgen.run(HOST, port, _requests(port, key, n, tag, path), 32,
                                     keep_bodies=True))
    return result, (_cpu_seconds(pid) - before) / max(result.ok, 1)


def _phase(result: loadgen.Result, cpu: float) -> Phase:
    return Phase(result.ok / result.seconds, result.percentile(50), result.percentile(99),
                 cpu * 1000)


def _run(db: str, port: int, key: str, quick: bool, pid: int) -> dict[str, Phase]:
    n = 2000 if quick else 8000
    asyncio.run(loadgen.run(HOST, port, _requests(port, key, 300, "warm"), 16))
    runs = []
    for i in range(1 if quick else 3):
        result, cpu = _closed(port, key, n, f"c{i}", pid)
        _check(f"{db} closed loop", result)
        runs.append((result, cpu))
    runs.sort(key=lambda r: r[0].ok / r[0].seconds)
    closed = _phase(*runs[len(runs) // 2])
    paced_rate = min(TARGET_RATE, 0.8 * closed.rate)
    paced = asyncio.run(loadgen.run(HOST, port, _requests(
        port, key, int(paced_rate * (3 if quick else 6)), "p"), 32, rate=paced_rate,
        keep_bodies=True))
    _check(f"{db} open loop", paced)
    phases = {"closed": closed, "paced": _phase(paced, float("nan"))}
    for name, path in (("priced", "/bench/priced"), ("noop", "/bench/noop")):
        result, cpu = _closed(port, key, n, name, pid, path)
        _check(f"{db} {path}", result)
        phases[name] = _phase(result, cpu)
    noop_paced = asyncio.run(loadgen.run(HOST, port, _requests(
        port, key, int(paced_rate * (3 if quick else 6)), "np", "/bench/noop"), 32,
        rate=paced_rate, keep_bodies=True))
    _check(f"{db} /bench/noop open loop", noop_paced)
    phases["noop_paced"] = _phase(noop_paced, float("nan"))
    print(f"{db:10s} closed loop: {closed.rate:7.0f} authorizations/s  p50 {closed.p50:5.2f} "
          f"ms  p99 {closed.p99:6.2f} ms   (target {TARGET_RATE:.0f}/s)")
    print(f"{db:10s} service CPU per authorization {closed.cpu_ms:.3f} ms: "
          f"{1000 / closed.cpu_ms:7.0f}/s per CPU-second (the rate of one worker with a core to "
          f"itself; load average now {os.getloadavg()[0]:.1f})")
    print(f"{db:10s} open loop at {phases['paced'].rate:5.0f}/s: p50 {phases['paced'].p50:5.2f} "
          f"ms  p99 {phases['paced'].p99:6.2f} ms   (target p99 < {TARGET_P99_MS:.0f} ms)")
    for name in ("priced", "noop"):
        f = phases[name]
        print(f"{db:10s} {EARLY[name]:34s} {f.rate:7.0f}/s  p50 {f.p50:5.2f} ms  p99 "
              f"{f.p99:6.2f} ms  CPU {f.cpu_ms:.3f} ms per request")
    f = phases["noop_paced"]
    print(f"{db:10s} no-op route, open loop at {f.rate:5.0f}/s: p50 {f.p50:5.2f} ms  p99 "
          f"{f.p99:6.2f} ms   (the HTTP edge alone at the rate above)")
    return phases


EARLY = {"priced": "HTTP edge + estimate + policy only:", "noop": "HTTP edge only (no-op route):"}
ROWS = (("closed", "POST /v1/authorize, closed loop"),
        ("paced", "POST /v1/authorize, open loop"),
        ("priced", "edge + estimate + policy, closed"),
        ("noop", "no-op route (HTTP edge), closed"),
        ("noop_paced", "no-op route (HTTP edge), open loop"))


def summary(figures: dict[str, dict[str, Phase]]) -> None:
    """Both databases side by side: rate, p50 and p99, and CPU per request."""
    dbs = [db for db, phases in figures.items() if phases]
    print("\n" + " " * 34 + "".join(f"{db + ': rate p50 p99':>29s}" for db in dbs))
    for key, label in ROWS:
        print(f"{label:34s}" + "".join(f"{figures[db][key].cell():>29s}" for db in dbs))
    print(f"{'service CPU per request (ms)':34s}" + "".join(
        f"{'auth ' + format(figures[db]['closed'].cpu_ms, '.3f'):>12s}"
        f"{'edge ' + format(figures[db]['noop'].cpu_ms, '.3f'):>17s}" for db in dbs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    figures = {db: measure(db, args.quick)
               for db in (("sqlite", "postgresql") if args.db == "both" else (args.db,))}
    summary(figures)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
