"""Policy files: TOML (stdlib ``tomllib``), YAML (when PyYAML is installed) or JSON, read and
checked into a :class:`~receipts.policies.rules.Policy`.

The text is stored as given (its SHA-256 names the version), so ``receipt policy show`` prints
exactly the file that was set, comments included.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path
from typing import Any

from receipts.errors import FieldProblem
from receipts.policies.rules import Policy, PolicyError, parse_policy

FORMATS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
MAX_SOURCE_BYTES = 256 * 1024


def _unreadable(fmt: str, reason: str, what: str = "policy") -> PolicyError:
    return PolicyError(f"{what} file is not valid {fmt.upper()}: {reason}",
                       [FieldProblem(what, reason)])


def decode(text: str, fmt: str, what: str = "policy") -> Any:
    """The data in ``text`` (``toml``, ``yaml`` or ``json``), or a :class:`PolicyError`;
    ``what`` names the kind of file in messages (allocation files are read the same way)."""
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise _unreadable(fmt, str(e), what) from None
    if fmt == "json":
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise _unreadable(fmt, str(e).splitlines()[0], what) from None
    if fmt == "yaml":
        try:
            yaml: Any = importlib.import_module("yaml")  # (optional: the yaml extra)
        except ModuleNotFoundError:
            raise PolicyError(f"YAML {what} files need PyYAML: pip install '.[yaml]' (or "
                              f"write the {what} in TOML)",
                              [FieldProblem(what, "PyYAML missing")]) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise _unreadable(fmt, " ".join(str(e).split()), what) from None
    raise PolicyError(f"unknown {what} format {fmt!r} (toml, yaml or json)",
                      [FieldProblem("format", "must be toml, yaml or json")])


def read_source(path: Path, what: str = "policy") -> tuple[str, str]:
    """(text, format) of a policy-like file, its format from its suffix, at most
    :data:`MAX_SOURCE_BYTES` of UTF-8."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PolicyError(f"{path}: {what} files end in .toml, .yaml, .yml or .json",
                          [FieldProblem(what, "unknown suffix")])
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PolicyError(f"{path}: {e.strerror or e}", [FieldProblem(what, "unreadable")]
                          ) from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise PolicyError(f"{path}: {what} files are at most {MAX_SOURCE_BYTES} bytes",
                          [FieldProblem(what, "too large")])
    try:
        return raw.decode("utf-8"), fmt
    except UnicodeDecodeError as e:
        raise _unreadable(fmt, f"not UTF-8 (byte {e.start})", what) from None


def read_policy_file(path: Path) -> tuple[str, str, Policy]:
    """(text, format, policy) of a policy file, its format from its suffix."""
    text, fmt = read_source(path)
    return text, fmt, parse_policy(decode(text, fmt))
