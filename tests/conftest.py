"""Shared fixtures: vector paths and small ledgers built with the signing core."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "spec" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The committed test vectors directory."""
    return VECTORS


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    """spec/vectors/expected.json."""
    return json.loads((VECTORS / "expected.json").read_text())


@pytest.fixture(scope="session")
def sample_signer() -> Signer:
    """One random key for the session's sample ledgers."""
    return Signer.generate()


def sample_ledger(signer: Signer, n: int, chains: int = 1, seed: int = 0) -> bytes:
    """A valid simulated ledger of ``n`` receipts."""
    out = io.BytesIO()
    write_sample_ledger(out, signer, n, chains=chains, seed=seed)
    return out.getvalue()
