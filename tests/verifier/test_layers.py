"""The verifier's tests run from the auditor's install: they import nothing of the service.

An auditor installs the verifier (``pip install .`` and the test tools) and runs tests/verifier
with the vectors and a test signer of their own (tests/verifier/signer.py). Every import of
those files, and of tests/conftest.py which pytest loads for them, is checked statically, and
a fresh interpreter that imports them all must not have loaded ``receipts``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FILES = [ROOT / "tests" / "conftest.py", *sorted(HERE.glob("*.py"))]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _is_service(module: str) -> bool:
    return module.split(".")[0] == "receipts" or module.startswith("tests.receipts")


def test_no_verifier_test_imports_the_service() -> None:
    offending = {path.name: sorted(m for m in _imports(path) if _is_service(m))
                 for path in FILES}
    assert {name: found for name, found in offending.items() if found} == {}
    assert len(FILES) > 10  # the check looked at the tests


def test_importing_every_verifier_test_loads_nothing_of_the_service() -> None:
    modules = ["tests.conftest"] + [f"tests.verifier.{p.stem}" for p in FILES[1:]
                                    if p.stem != "__init__"]
    script = ("import importlib, sys\n"
              f"for name in {modules!r}: importlib.import_module(name)\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'receipts'))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
