"""The one check for files of secrets (the signing key, agent keys): nobody but the owner may
read them."""

from __future__ import annotations

import os
from pathlib import Path


def readable_by_others(path: Path) -> bool:
    """Whether ``path`` grants any access to its group or others (POSIX; elsewhere no mode)."""
    return os.name == "posix" and bool(path.stat().st_mode & 0o077)
