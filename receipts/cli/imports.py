"""``receipt import FILE... --data DIR --agent ID``: backfill receipts from usage logs.

Reads the formats ``receipt audit`` reads (the same readers), signs one receipt per call
under the designated agents (``--agent``, one per team; see
:mod:`receipts.imports.backfill`), and lists the refused lines. Exit 0 when every line was
imported (or already was), 1 when some line was refused; errors of the deployment itself go
through the one CLI edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from receipts.cli.options import data_option as _data
from receipts.cli.options import db_option as _db
from receipts.cli.options import opened_runtime

EXIT_ALL, EXIT_SOME_REFUSED = 0, 1


@click.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agent", "agent_ids", multiple=True, required=True, metavar="AGENT_ID",
              help="Agent the receipts are issued under (repeat: one per team; a line goes "
                   "to the agent of its team, or to the only one given).")
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD",
              help="Read a CSV through a column map (as receipt audit --map).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@_data
@_db
def import_logs(files: tuple[Path, ...], agent_ids: tuple[str, ...], mapping: tuple[str, ...],
                fmt: str, data_dir: Path | None, db_url: str | None) -> int:
    """Backfill receipts from usage logs; importing a log again adds nothing.

    Each receipt carries imported = {sha256 of the file, line}, started_at = the call's time
    as logged; it is priced at its issue time (now) with the price book then in force.
    """
    from receipts.imports.backfill import designated_agents, run_import
    from receipts.imports.reading import read_log
    from receipts.issuing.outcome import Job
    from receipts.logs.tabular import parse_map

    columns = parse_map(mapping)
    logs = [read_log(str(path), _read(path), columns) for path in files]
    with opened_runtime(data_dir, db_url) as runtime:
        with runtime.db.read() as conn:
            agents = designated_agents(conn, agent_ids)
        service = runtime.service
        service.load_pricing()

        def append(job: Job) -> Job:
            service.append([job])
            return job

        try:
            report = run_import(logs, agents, runtime.settings.required_tags,
                                service.refuse_unrepresentable_cost, append)
        finally:
            service.close()
    if fmt == "json":
        click.echo(json.dumps(report.json(), indent=2))
    else:
        click.echo(f"added {report.added} receipt(s); {report.already} already imported; "
                   f"{len(report.refused)} line(s) refused")
        for r in report.refused:
            click.echo(f"refused {r['file']}:{r['line']}: {r['reason']}")
    return EXIT_SOME_REFUSED if report.refused else EXIT_ALL


def _read(path: Path) -> bytes:
    from receipts.errors import UnreadableLog

    try:
        return path.read_bytes()
    except OSError as e:
        raise UnreadableLog(f"{path}: {e.strerror or e}") from e
