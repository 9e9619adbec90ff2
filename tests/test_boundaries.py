"""The verifier is the format core: it never imports the service (an auditor trusts only it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_THIRD_PARTY = {"cbor2", "cbrrr", "nacl", "cryptography", "click"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_verifier_source_imports_only_stdlib_and_its_four_dependencies() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in sorted((ROOT / "verifier").rglob("*.py")):
        foreign = _imports(path) - stdlib - ALLOWED_THIRD_PARTY - {"verifier"}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_importing_and_running_the_verifier_loads_no_service_module() -> None:
    code = (
        "import sys, verifier, verifier.cli, verifier.verify\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('receipts', 'fastapi', 'sqlmodel', 'sqlalchemy', 'uvicorn', 'genai_prices')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == ""


def test_python_m_verifier_verifies_alone(tmp_path: Path) -> None:
    ledger = ROOT / "spec/vectors/valid/ledger.cbor"
    proc = subprocess.run([sys.executable, "-m", "verifier", "verify", str(ledger)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "VALID" in proc.stdout
