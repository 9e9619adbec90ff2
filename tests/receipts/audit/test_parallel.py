"""``receipt audit --workers N``: worker processes read and price JSON lines, the main process
takes them in log order, so the report is the same as one process's, line references included.
"""

from __future__ import annotations

import random
from pathlib import Path

from click.testing import CliRunner

from receipts.audit.parallel import BATCH
from receipts.cli.main import main
from tests.receipts.audit.conftest import line


def _log(tmp_path: Path, count: int, bad_at: int | None = None) -> Path:
    rng = random.Random(3)
    lines = []
    for n in range(count):
        rid = f"r{n if rng.random() > 0.02 else n // 2}"
        roll = rng.random()
        if roll < 0.05:
            lines.append(line(rid, tags={"team": "ads"}))
        elif roll < 0.1:
            lines.append(line(rid, model=rng.choice(["gpt-4o-latest", "openai/gpt-4o", "x-9"])))
        elif roll < 0.15:
            lines.append(line(rid, provider="azure", cost="0.0035"))
        elif roll < 0.3:
            lines.append(line(rid, cached=800, cost=rng.choice(["0.0035", "0.0025", "0.9"])))
        else:
            lines.append(line(rid, prompt=rng.randint(100, 5000)))
        if n == bad_at:
            lines.append("{broken")
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _audit(book: Path, log: Path, workers: int) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["audit", str(log), "--book", str(book), "--format",
                                     "json", "--workers", str(workers)])
    return done.exit_code, done.output


def test_two_workers_give_the_report_of_one_process(book: Path, tmp_path: Path) -> None:
    log = _log(tmp_path, 3 * BATCH + 17)
    one, two = _audit(book, log, 1), _audit(book, log, 2)
    assert one[0] == 1 and '"code": "duplicate"' in one[1] and '"mixed_providers"' in one[1]
    assert one == two


def test_an_unreadable_line_in_a_workers_batch_is_reported_as_in_one_process(
        book: Path, tmp_path: Path) -> None:
    log = _log(tmp_path, 3 * BATCH, bad_at=2 * BATCH + 5)
    one, two = _audit(book, log, 1), _audit(book, log, 2)
    assert one == two and one[0] == 2
    assert f"big.jsonl:{2 * BATCH + 7}: not JSON" in one[1]
