"""Benchmark of the spend aggregates (issue 13): what they cost the append, and how fast
``GET /v1/spend`` answers over many receipts, on SQLite and PostgreSQL.

1. **Issuance with and without the aggregates.** On a fresh deployment (40 agents of 4 teams,
   10 models, a few unpriced calls and retries), two ``ReceiptService`` instances on the same
   database, each on a chain of its own, append groups of calls in alternation: the receipts
   of one are folded into the aggregates (:mod:`receipts.spend.fold`) every second of its
   time, as the service's fold loop does, the folds' time counted in its own (the product:
   appends, then folds); the other's are not. Both run in this process on
   the append path itself, without HTTP, so the aggregates' share is measured against the
   smallest cost of a receipt (over HTTP each receipt costs more, and the share is smaller).
   Groups of 1 (a lone call) and of 50 calls (group commit under load) are measured, after
   :data:`WARM_CALLS` calls in each mode (so the measured calls mostly fall into groups
   that exist, as in a running deployment; a new group is one row more, written once).
2. **A large ledger.** The receipts signed in step 1 are replicated to ``--receipts`` receipts
   (default 100,000; ``--receipts 1000000`` for the full run) spread over 90 days: each copy is
   a signed receipt's payload with a new issue time, chain position and id, written through the
   append's own statements (:meth:`AppendConnection.insert`) and the fold's
   (:class:`SpendWriter` with :class:`SpendDelta`, so the buckets are exactly what folding those
   receipts would make, on a chain with no head, which no fold reads;
   the copies' COSE items are their originals', so this database is for queries only, not for
   ``receipt verify``). On PostgreSQL the tables are then analyzed, as autovacuum does after a
   bulk load (this benchmark's server runs without autovacuum; without statistics the query
   still reads only the buckets it needs, but its sums were measured twice as slow).
3. **Queries.** p50/p95 (wall time) and the CPU time per run (this process, and on
   PostgreSQL its server backends, read from /proc) of a mix of ``GET /v1/spend`` queries
   (by tags, provider, model, agent; day, week, month and quarter periods; UTC, New York and
   Kolkata; top N; CSV) and of
   ``GET /v1/receipts?sort=-cost``, through the app in-process. Target: p95 < 200 ms at
   1,000,000 receipts. The first run of each query asks for its zone's local days
   (:mod:`receipts.spend.local_days`), which are then made (the time is printed) before the
   runs measured, as the service's background pass would within a minute.

The last line puts both figures side by side, with the load average before and after (other
jobs on the machine slow both modes of step 1 alike, but not the queries of step 3).

    python bench/spend.py [--receipts N] [--db sqlite|postgresql] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from receipts.api.app import create_app  # noqa: E402
from receipts.api.schemas import CallIn  # noqa: E402
from receipts.deployment.credentials import Agent  # noqa: E402
from receipts.deployment.runtime import create_agent, initialize, open_runtime  # noqa: E402
from receipts.deployment.settings import Settings, default_db_url  # noqa: E402
from receipts.issuing.outcome import Job  # noqa: E402
from receipts.issuing.prepare import Prepared, prepare  # noqa: E402
from receipts.issuing.service import ReceiptService  # noqa: E402
from receipts.spend import fold, local_days  # noqa: E402
from receipts.spend.buckets import SpendDelta  # noqa: E402
from receipts.spend.upsert_sql import SpendWriter  # noqa: E402
from receipts.storage.append_sql import AppendConnection  # noqa: E402
from receipts.storage.tables import cost_rank  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"),
          ("openai", "o3"), ("anthropic", "claude-sonnet-4"), ("anthropic", "claude-opus-4"),
          ("anthropic", "claude-3-5-haiku"), ("google", "gemini-2.5-flash"),
          ("google", "gemini-2.5-pro"), ("openai", "a-model-no-book-prices")]
TEAMS = ("search", "support", "ads", "research")
DAYS = 90
WARM_CALLS = 4000
"""Calls appended in each mode before the measured ones: most of the ~800 groups of common
calls exist by then, as in a deployment that has run for a while."""
DAY_MS = 86_400_000
WITH_CHAIN, WITHOUT_CHAIN = "c0", "c1"
TEMPLATES = 4320
"""Signed payloads the large ledger is replicated from (a sample of step 1's): about 1,100
groups. The query times grow with the groups summed: from all 42,000 payloads of step 1
(nearly all 1,600 groups its calls can fall in) the query mix's p95 was 264 ms against
216 ms on PostgreSQL."""
ROUNDS_TIMES = {1: 25, 50: 10}
"""``--rounds`` times this, per group size: each mode appends for a few seconds, so most of
its receipts are folded as the service folds them, a second's worth at a time (at 40 rounds,
1,000 lone calls and 20,000 calls in groups of 50)."""


def _agents(runtime: Any) -> list[Agent]:
    out = []
    for i in range(40):
        team = TEAMS[i % 4]
        tags = {"project": f"{team}-p{i % 3}", "cost_center": f"cc-{i % 5}"}
        out.append(create_agent(runtime, team, tags)[0])
    return out


def _calls(agents: list[Agent], n: int, tag: str, rng: random.Random) -> list[Prepared]:
    calls = []
    for i in range(n):
        provider, model = MODELS[rng.randrange(len(MODELS)) if rng.random() > 0.02 else -1]
        body = {"request_id": f"{tag}-{i}", "provider": provider, "model": model,
                "usage": {"input_tokens": rng.randint(100, 20_000),
                          "output_tokens": rng.randint(10, 2_000),
                          "cache_read_tokens": rng.choice((0, 0, 50))},
                "tags": {"environment": rng.choice(("prod", "prod", "staging"))}}
        if rng.random() < 0.03:
            body["retry_of"] = f"earlier-{i}"
        calls.append(prepare(rng.choice(agents), CallIn.model_validate(body),
                             ("team", "project", "environment")))
    return calls


def issuance(runtime: Any, agents: list[Agent], rounds: int, group: int,
             rng: random.Random) -> tuple[float, float, list[dict[str, Any]]]:
    """Receipts/s (with aggregates, without) appending ``rounds`` groups per mode in
    alternation, each mode on a chain of its own; with aggregates, the appended receipts are
    folded (:func:`receipts.spend.fold.Folder.catch_up`, that chain only) whenever the mode
    has run :data:`receipts.spend.fold.PASS_SECONDS` since its last fold, as each worker's
    fold loop does, and the folds' time is counted in its own. Also the payloads signed."""
    facts = runtime.facts
    chains = {True: (WITH_CHAIN,), False: (WITHOUT_CHAIN,)}
    services = {mode: ReceiptService(runtime.db, runtime.signer, issuer=facts.issuer,
                                     reporting_currency=facts.reporting_currency,
                                     chain_ids=chains[mode])
                for mode in (True, False)}
    folder = fold.Folder(runtime.db.engine)
    seconds = {True: 0.0, False: 0.0}
    payloads: list[dict[str, Any]] = []
    for mode, service in services.items():  # steady state: the groups exist (measured, a new
        service.load_pricing()                 # group is a row more to write, once per group)
        for w in range(WARM_CALLS // 50):
            service.append([Job(_calls(agents, 50, f"warm{group}-{w}-{mode}", rng))])
    folder.catch_up(chains[True])
    since_fold = 0.0
    for r in range(rounds):
        for mode in ((True, False) if r % 2 else (False, True)):
            jobs = [Job(_calls(agents, group, f"g{group}-{r}-{mode}", rng))]
            start = time.perf_counter()
            services[mode].append(jobs)
            if mode:
                since_fold += time.perf_counter() - start
                if since_fold >= fold.PASS_SECONDS:
                    folder.catch_up(chains[True])
                    since_fold = 0.0
            seconds[mode] += time.perf_counter() - start
            payloads += [o.payload for j in jobs for o in j.outcomes if o.payload is not None]
    start = time.perf_counter()  # (what is left at the end is folded too, and counted)
    folder.catch_up(chains[True])
    seconds[True] += time.perf_counter() - start
    for service in services.values():
        service.close()
    n = rounds * group
    return n / seconds[True], n / seconds[False], payloads


def replicate(runtime: Any, templates: list[dict[str, Any]], n: int) -> float:
    """Write ``n`` copies of signed payloads over the last 90 days; seconds taken."""
    start = time.perf_counter()
    now = int(time.time() * 1000)
    first = now - DAYS * DAY_MS
    conn = AppendConnection(runtime.db.engine.raw_connection(), runtime.db.is_sqlite)
    chunk = 20_000
    try:
        for base in range(0, n, chunk):
            rows, delta = [], SpendDelta()
            for i in range(base, min(n, base + chunk)):
                t = templates[i % len(templates)]
                issued_at = first + (i * DAYS * DAY_MS) // n
                p = {**t, "issued_at": issued_at, "chain": "bench", "seq": i,
                     "id": f"bench-{i:08d}"}
                delta.add(p)
                rows.append(("bench", i, p["id"], p["agent"], f"bench-{i}", b"", issued_at,
                             p["tags"].get("team"), p["tags"].get("project"), p["provider"],
                             p["model"], None, cost_rank(p["cost_reporting"]), t["_item"]))
            conn.begin()
            conn.insert(rows)
            SpendWriter(conn.driver, runtime.db.is_sqlite).write(delta)
            conn.commit()
    finally:
        conn.close()
    return time.perf_counter() - start


def _queries(now_ms: int) -> list[str]:
    last30 = f"since={(now_ms - 30 * DAY_MS) // 900_000 * 900_000}"
    return [
        "/v1/spend?by=team&period=month",
        "/v1/spend?by=team&by=project&period=week",
        f"/v1/spend?by=model&period=day&{last30}",
        "/v1/spend?by=agent&top=10",
        f"/v1/spend?by=team&period=day&tz=America/New_York&{last30}",
        "/v1/spend?by=environment&by=provider&period=quarter&tz=Asia/Kolkata",
        "/v1/spend?by=cost_center&period=month&currency=native&format=csv",
        "/v1/receipts?sort=-cost&limit=20",
    ]


def _backend_cpu(app_name: str | None) -> float:
    """Seconds of CPU used so far by the PostgreSQL backends of this benchmark (found by
    ``application_name``; read from /proc, so the server must run on this machine), 0.0 for
    SQLite (which works in this process)."""
    if app_name is None:
        return 0.0
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as c:
        pids = [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE "
                                        "application_name = %s", (app_name,))]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def query_latencies(settings: Settings, repeats: int, app_name: str | None,
                    ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Per query: the wall time of each run (ms), and the CPU time of all its runs per run
    (ms: this process, and its PostgreSQL backends), which other jobs on the machine do not
    inflate."""
    out: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    # without the anomaly detector: it reads the minute series, not the buckets, and in this
    # process it would share the CPU and the GIL with the requests measured (bench/anomaly.py)
    app = create_app(settings.with_overrides(self_check=False, anomaly_detection=False))
    with TestClient(app) as client:
        token = settings.data_dir.joinpath("admin-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        queries = _queries(int(time.time() * 1000))
        for q in queries:  # warm caches once (and ask for the zones' local days)
            r = client.get(q, headers=headers)
            assert r.status_code == 200, (q, r.text[:300])
        made, took = make_local_days(settings)
        print(f"{'':10} made {made} local days of the zones asked for in {took:.1f} s "
              "(the service's background pass, run to the end here)", flush=True)
        for q in queries:
            used = time.process_time() + _backend_cpu(app_name)
            for _ in range(repeats):
                start = time.perf_counter()
                r = client.get(q, headers=headers)
                out.setdefault(q, []).append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200
            used = time.process_time() + _backend_cpu(app_name) - used
            cpu[q] = used * 1000 / repeats
    return out, cpu


def make_local_days(settings: Settings) -> tuple[int, float]:
    """Make every ended local day of the zones the queries asked for, as the service's
    background pass (:mod:`receipts.spend.local_runner`, whose lease the app in this process
    holds) does a few weeks at a time; (days made, seconds)."""
    start = time.perf_counter()
    runtime = open_runtime(settings)
    made = 0
    try:
        with runtime.db.read() as conn:
            zones = local_days.zones(conn)
        for zone in zones:
            while (step := local_days.make_days(runtime.db, zone)) > 0:
                made += step
    finally:
        runtime.close()
    return made, time.perf_counter() - start


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def run(db: str, receipts: int, rounds: int, repeats: int) -> None:
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="receipts-spend-") as tmp:
        data = Path(tmp) / "data"
        schema = app_name = None
        url = default_db_url(data)
        if db == "postgresql":
            import psycopg

            schema = "receipts_spend_bench_" + secrets.token_hex(4)
            try:
                with psycopg.connect("host=127.0.0.1 user=postgres dbname=test",
                                     autocommit=True, connect_timeout=3) as c:
                    c.execute(f'CREATE SCHEMA "{schema}"')
            except Exception as e:
                print(f"PostgreSQL not reachable ({type(e).__name__}); skipped")
                return
            app_name = schema
            url = f"{PG}?options=-csearch_path%3D{schema}&application_name={app_name}"
        try:
            settings = Settings(data_dir=data, db_url=url, chains=2)
            made = initialize(settings, issuer="bench", reporting_currency="USD",
                              price_book="shipped")
            data.joinpath("admin-token").write_text(made.admin_token)
            runtime = open_runtime(settings)
            try:
                rng = random.Random(13)
                agents = _agents(runtime)
                templates: list[dict[str, Any]] = []
                overheads: list[str] = []
                for group in (1, 50):
                    n_rounds = rounds * ROUNDS_TIMES[group]
                    with_rate, without_rate, signed = issuance(runtime, agents, n_rounds,
                                                               group, rng)
                    templates += signed
                    print(f"{db:10} append, groups of {group:2}: {with_rate:7.0f} receipts/s "
                          f"with aggregates, {without_rate:7.0f} without: "
                          f"{100 * (1 - with_rate / without_rate):5.1f}% fewer (target <= 10%)",
                          flush=True)
                    overheads.append(f"{100 * (1 - with_rate / without_rate):.1f}% "
                                     f"(groups of {group})")
                templates = random.Random(13).sample(templates, min(len(templates),
                                                                    TEMPLATES))
                _attach_items(runtime, templates)
                took = replicate(runtime, templates, receipts)
                print(f"{db:10} wrote {receipts:,} receipts and their buckets in {took:.1f} s "
                      f"(replicas of {len(templates):,} signed)", flush=True)
                if db == "postgresql":
                    with runtime.db.write() as conn:
                        conn.exec_driver_sql("ANALYZE")
            finally:
                runtime.close()
            latencies, cpu = query_latencies(settings, repeats, app_name)
            every = [v for vs in latencies.values() for v in vs]
            for q, vs in latencies.items():
                print(f"{db:10}   p50 {_pct(vs, 50):7.1f} ms  p95 {_pct(vs, 95):7.1f} ms  "
                      f"cpu {cpu[q]:6.1f} ms  {q}")
            print(f"{db:10} all queries at {receipts:,} receipts: p50 {_pct(every, 50):.1f} ms, "
                  f"p95 {_pct(every, 95):.1f} ms (target p95 < 200 ms); mean "
                  f"{statistics.mean(every):.1f} ms", flush=True)
            print(f"{db:10} SUMMARY append cost {', '.join(overheads)} (target <= 10%); query "
                  f"mix p95 {_pct(every, 95):.0f} ms at {receipts:,} receipts "
                  f"(target < 200 ms), most CPU per query {max(cpu.values()):.0f} ms; load "
                  f"average {load_before} -> {_load()}", flush=True)
        finally:
            if schema:
                import psycopg

                with psycopg.connect("host=127.0.0.1 user=postgres dbname=test",
                                     autocommit=True) as c:
                    c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _attach_items(runtime: Any, templates: list[dict[str, Any]]) -> None:
    """Each template's signed item (its copies carry it)."""
    from receipts.storage import queries as store

    with runtime.db.read() as conn:
        for t in templates:
            found = store.receipt_by_id(conn, t["id"])
            assert found is not None
            t["_item"] = found[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40, help="groups per mode (x25 for "
                                                               "groups of 1, x10 of 50)")
    parser.add_argument("--repeats", type=int, default=10, help="runs of each query")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append")
    args = parser.parse_args()
    print(f"spend benchmark on {os.cpu_count()} cores")
    for db in args.db or ["sqlite", "postgresql"]:
        run(db, args.receipts, args.rounds, args.repeats)


if __name__ == "__main__":
    main()
