"""``receipt demo``: the whole product in one command, on the real code paths.

A temporary data directory and SQLite database, ``receipt init``'s own code, the real FastAPI
service under uvicorn on a free loopback port (in a thread of this process), three teams' agents
(each key bound to its team) sending simulated calls to three providers over HTTP, a retry that
is answered with the original receipt, an attempt to charge another team that is refused, a
published FX rate, then ``GET /v1/ledger``, ``receipt verify`` and ``receipt rollup`` on the
downloaded file, and the commands to run next. Between the traffic and the export: a budget
that denies at its limit, an authorization it refuses, and a runaway loop the anomaly detector
alerts on (:mod:`receipts.demo.acting`). It ends with the dashboard's address; with ``--serve``
the service stays up there (on ``--port``, until Ctrl-C) with a finance token to sign in with.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn

from receipts.api.app import create_app
from receipts.demo.acting import show_anomaly, show_budget_and_denial
from receipts.demo.traffic import TEAMS, SimulatedCall, simulated_calls
from receipts.deployment.role_tokens import create_role_token
from receipts.deployment.runtime import create_agent, initialize, open_runtime
from receipts.deployment.settings import Settings, default_db_url

BATCH = 50
DEFAULT_PORT = 8000


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_service(settings: Settings) -> Iterator[str]:
    """The real service in a background thread; yields its base URL, stops it on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="receipt-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise click.ClickException("the demo service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def call_json(call: SimulatedCall, started: dt.datetime) -> dict[str, Any]:
    """What an agent sends for one simulated call."""
    usage = {"input_tokens": call.input_tokens, "output_tokens": call.output_tokens}
    for name, value in (("cache_read_tokens", call.cache_read_tokens),
                        ("cache_write_tokens", call.cache_write_tokens),
                        ("reasoning_tokens", call.reasoning_tokens)):
        if value:
            usage[name] = value
    return {"request_id": call.request_id, "provider": call.provider, "model": call.model,
            "usage": usage, "runtime_ms": call.runtime_ms,
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "tags": {"project": call.project, "environment": "prod"}}


def _team_traffic(url: str, key: str, calls: list[SimulatedCall], now: dt.datetime) -> int:
    """One team's agent: single calls, then the rest in batches. Returns receipts received."""
    bodies = [call_json(c, now) for c in calls]
    received = 0
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        singles, rest = bodies[: len(bodies) // 3], bodies[len(bodies) // 3 :]
        for body in singles:
            response = client.post("/v1/receipts", json=body)
            response.raise_for_status()
            received += 1
        for i in range(0, len(rest), BATCH):
            response = client.post("/v1/receipts/batch", json={"calls": rest[i : i + BATCH]})
            response.raise_for_status()
            received += len(response.json()["results"])
    return received


def _cli(receipt: click.Command, *args: str) -> int:
    """Run a ``receipt`` subcommand in-process, exactly as a user would (output to stdout)."""
    try:
        receipt.main(list(args), prog_name="receipt")
    except SystemExit as e:
        return int(e.code or 0)


def run_demo(calls: int, keep: Path | None, receipt: click.Command,
             serve_port: int | None = None) -> int:
    """Run the demo; returns the exit status (0 when the exported ledger verified).

    ``receipt`` is the running ``receipt`` command, given by the caller so the demo runs the
    auditor's commands exactly as a user would without importing the CLI that imports it.
    ``serve_port``: keep the service up on that port at the end, until interrupted.
    """
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="receipt-demo-")) if keep is None else keep
    try:
        status = _demo(calls, workdir, started, receipt)
        if status == 0 and serve_port is not None:
            _serve(workdir, serve_port)
        elif status == 0:
            _say(f"dashboard: `receipt demo --serve` keeps the service up at "
                 f"http://127.0.0.1:{DEFAULT_PORT}/dashboard with a token to sign in")
        return status
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _serve(workdir: Path, port: int) -> None:
    """Serve the demo's data in the foreground, dashboard included, until Ctrl-C."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as e:
            raise click.ClickException(f"--port {port}: cannot listen there ({e.strerror})"
                                       ) from e
    data = workdir / "data"
    settings = Settings(data_dir=data, db_url=default_db_url(data))
    runtime = open_runtime(settings)
    try:
        _, token = create_role_token(runtime, "finance", name="demo dashboard")
    finally:
        runtime.close()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    _say(f"dashboard: http://127.0.0.1:{port}/dashboard (sign in with this finance token; "
         "Ctrl-C stops the service)")
    click.echo(token)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn shuts down gracefully, then
        server.run()                              # raises the SIGINT again: a normal stop


def _say(text: str) -> None:
    click.echo(click.style("==> ", fg="cyan", bold=True) + text)


def _demo(calls: int, workdir: Path, started: float, receipt: click.Command) -> int:
    data = workdir / "data"
    settings = Settings(data_dir=data, db_url=default_db_url(data))
    made = initialize(settings, issuer="receipts-demo", reporting_currency="GBP")
    _say(f"receipt init: key {made.signer.fingerprint[:23]}..., SQLite database, admin token, "
         f"price book snapshotted from genai-prices ({len(made.book.entries)} models, "
         f"{made.book.id.hex()[:12]}) (data in {data})")
    runtime = open_runtime(settings)
    try:
        keys = {team: create_agent(runtime, team, {"cost_center": info["cost_center"]})[1]
                for team, info in TEAMS.items()}
    finally:
        runtime.close()
    _say(f"receipt agent create: one key per team ({', '.join(keys)}), team bound to the key")
    traffic = list(simulated_calls(calls, seed=int(time.time())))
    per_team: dict[str, list[SimulatedCall]] = {t: [] for t in TEAMS}
    for call in traffic:
        per_team[call.team].append(call)
    admin = {"Authorization": f"Bearer {made.admin_token}"}
    ledger = workdir / "ledger.cbor"
    with running_service(settings) as url:
        _say(f"service running at {url} (OpenAPI at {url}/docs, dashboard at "
             f"{url}/dashboard)")
        today = dt.datetime.now(dt.UTC).date().isoformat()
        fx = httpx.put(f"{url}/v1/fx/{today}", json={"rate": "0.79", "source": "demo"},
                       headers=admin, timeout=30)
        fx.raise_for_status()
        _say(f"published today's FX rate: 1 USD = {fx.json()['rate']} GBP (signed)")
        t0 = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        with ThreadPoolExecutor(len(per_team)) as pool:
            counts = list(pool.map(lambda t: _team_traffic(url, keys[t], per_team[t], now),
                                   per_team))
        elapsed = time.monotonic() - t0
        _say(f"{sum(counts)} calls from 3 teams x 3 providers receipted in {elapsed:.1f} s "
             f"(singles and batches of {BATCH})")
        _show_guarantees(url, keys, per_team, now)
        teams = list(keys)
        show_budget_and_denial(url, admin, keys[teams[0]], teams[0], _say)
        alerted = show_anomaly(url, admin, keys[teams[1]], teams[1],
                               TEAMS[teams[1]]["projects"][0], _say)
        with httpx.stream("GET", f"{url}/v1/ledger", headers=admin, timeout=60) as response:
            response.raise_for_status()
            with ledger.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        _say(f"GET /v1/ledger -> {ledger} ({ledger.stat().st_size} bytes)")
    _say(f"receipt verify {ledger}")
    status = _cli(receipt, "verify", str(ledger), "--key", str(made.public_key))
    if not alerted:
        click.echo("error: the runaway loop raised no anomaly alert", err=True)
        return 1
    if status != 0:
        click.echo("error: the exported ledger did not verify", err=True)
        return 1
    _say(f"receipt rollup {ledger} --by team --by provider")
    _cli(receipt, "rollup", str(ledger), "--key", str(made.public_key), "--by", "team", "--by",
         "provider")
    _say(f"demo finished in {time.monotonic() - started:.1f} s. Next, on your own data:")
    for line in NEXT_STEPS:
        click.echo(f"    {line}")
    return 0


def _show_guarantees(url: str, keys: dict[str, str], per_team: dict[str, list[SimulatedCall]],
                     now: dt.datetime) -> None:
    team = next(iter(keys))
    first = per_team[team][0]
    body = call_json(first, now)
    headers = {"Authorization": f"Bearer {keys[team]}"}
    retry = httpx.post(f"{url}/v1/receipts", json=body, headers=headers, timeout=30)
    _say(f"a retry of {first.request_id} -> HTTP {retry.status_code}: the original receipt, "
         "not a second charge")
    other = next(t for t in keys if t != team)
    stolen = dict(body, request_id=body["request_id"] + "-x",
                  tags={**body["tags"], "team": other})
    refused = httpx.post(f"{url}/v1/receipts", json=stolen, headers=headers, timeout=30)
    _say(f"team {team}'s key tagging a call team={other} -> HTTP {refused.status_code}: "
         f"{refused.json()['error']['message']}")


NEXT_STEPS = (
    "pip install '.[server]'",
    "receipt init --data ./.receipts                    # prints the admin token once",
    "receipt agent create --team search --tag project=ranker   # prints an agent key once",
    "receipt serve --workers 2 --chains 2               # http://127.0.0.1:8000/docs",
    "curl -X POST localhost:8000/v1/receipts -H 'Authorization: Bearer <agent key>' "
    "-H 'Content-Type: application/json' -d '{\"request_id\": \"r1\", \"provider\": \"openai\", "
    "\"model\": \"gpt-4o\", \"usage\": {\"input_tokens\": 1200, \"output_tokens\": 300}, "
    "\"tags\": {\"project\": \"ranker\", \"environment\": \"prod\"}}'",
    "receipt export -o ledger.cbor && receipt verify ledger.cbor --key "
    ".receipts/signing-key.pub.pem",
    "receipt rollup ledger.cbor --by team --by project --period month",
)
