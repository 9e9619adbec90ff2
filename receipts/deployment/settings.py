"""Service settings: where the data lives, which database, and the few policies an operator sets.

Settings come from command-line options first, then ``RECEIPTS_*`` environment variables, then
defaults. ``receipt serve`` hands its settings to uvicorn's worker processes through those same
environment variables, so every worker runs with exactly the settings the operator gave.
Settings that must never change over a ledger's life (issuer, reporting currency) are fixed at
``receipt init`` and stored in the database, not here.
Unsafe combinations are refused when the settings are built, not discovered under load.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from receipts.api.tag_keys import TAG_KEY_RULE, is_tag_key
from receipts.errors import ConfigError

DEFAULT_DATA_DIR = ".receipts"
DEFAULT_REQUIRED_TAGS = ("team", "project", "environment")
PUBLIC_CHOICES = frozenset({"keys", "checkpoint", "ledger"})
DEFAULT_PUBLIC = frozenset({"keys", "checkpoint"})
MAX_CHAINS = 64

ENV_DATA = "RECEIPTS_DATA"
ENV_DB = "RECEIPTS_DB"
ENV_CHAINS = "RECEIPTS_CHAINS"
ENV_REQUIRED_TAGS = "RECEIPTS_REQUIRED_TAGS"
ENV_PUBLIC = "RECEIPTS_PUBLIC"
ENV_MAX_BODY = "RECEIPTS_MAX_BODY_BYTES"
ENV_MAX_BATCH_BODY = "RECEIPTS_MAX_BATCH_BODY_BYTES"
ENV_CHECKPOINT_EVERY = "RECEIPTS_CHECKPOINT_EVERY"
ENV_SELF_CHECK = "RECEIPTS_SELF_CHECK"
ENV_ALERT_MAX_ATTEMPTS = "RECEIPTS_ALERT_MAX_ATTEMPTS"
ENV_ALERT_RETRY_BASE_MS = "RECEIPTS_ALERT_RETRY_BASE_MS"
ENV_ALERT_LEASE_MS = "RECEIPTS_ALERT_LEASE_MS"
ENV_ANOMALY = "RECEIPTS_ANOMALY"
ENV_ANOMALY_TAG_SETS = "RECEIPTS_ANOMALY_TAG_SETS"
ENV_ANOMALY_SUSPEND = "RECEIPTS_ANOMALY_SUSPEND"


@dataclass(frozen=True)
class Settings:
    """Everything the service reads at start-up (immutable: workers share one view)."""

    data_dir: Path
    db_url: str
    chains: int = 1
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    public: frozenset[str] = field(default=DEFAULT_PUBLIC)
    max_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = 1000
    checkpoint_every: int = 10_000
    self_check: bool = True
    alert_max_attempts: int = 20
    alert_retry_base_ms: int = 1000
    """Alert delivery: attempts before a delivery is failed, the first retry's wait (doubling
    up to 5 minutes, with jitter), and how long a worker's claim on a delivery lasts (a worker
    killed mid-delivery is replaced after this): :class:`receipts.alerts.outbox.RetryPolicy`."""
    alert_lease_ms: int = 60_000
    anomaly_detection: bool = True
    """Run the spend anomaly detector (once across workers: :mod:`receipts.anomaly.runner`)."""
    anomaly_tag_sets: tuple[tuple[str, ...], ...] = ()
    """Tag sets watched as scopes besides team, project, agent and model (``cost_center``,
    ``team,environment``); ``RECEIPTS_ANOMALY_TAG_SETS`` separates the sets with ``;``."""
    anomaly_suspend: bool = False
    """An anomaly alert suspends the agent key its scope names, else its top agent, until an
    admin resumes it (:mod:`receipts.deployment.suspensions`); off unless
    ``RECEIPTS_ANOMALY_SUSPEND=1``."""

    def __post_init__(self) -> None:
        if not 1 <= self.chains <= MAX_CHAINS:
            raise ConfigError(f"chains must be between 1 and {MAX_CHAINS}, not {self.chains}")
        bad = [t for t in self.required_tags if not is_tag_key(t)]
        if bad:  # (a required tag no request may carry would refuse every call)
            raise ConfigError(f"required tag names must be {TAG_KEY_RULE}: {bad}")
        unknown = self.public - PUBLIC_CHOICES
        if unknown:
            raise ConfigError(f"public endpoints must be among {sorted(PUBLIC_CHOICES)}, "
                              f"not {sorted(unknown)}")
        if self.max_body_bytes < 1024 or self.max_batch_body_bytes < self.max_body_bytes:
            raise ConfigError("body limits must be >= 1024 bytes, the batch one >= the single one")
        if not 1 <= self.max_batch <= 10_000:
            raise ConfigError("max_batch must be between 1 and 10000")
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint_every must be positive")
        if not 1 <= self.alert_max_attempts <= 1000:
            raise ConfigError("alert_max_attempts must be between 1 and 1000")
        if not 10 <= self.alert_retry_base_ms <= 3_600_000:
            raise ConfigError("alert_retry_base_ms must be between 10 and 3600000")
        if not 1000 <= self.alert_lease_ms <= 3_600_000:
            raise ConfigError("alert_lease_ms must be between 1000 and 3600000")
        bad_sets = [s for s in self.anomaly_tag_sets
                    if not s or not all(is_tag_key(t) for t in s)]
        if bad_sets:
            raise ConfigError(f"anomaly tag sets must be non-empty lists of tag names "
                              f"({TAG_KEY_RULE}): {bad_sets}")

    @property
    def chain_ids(self) -> tuple[str, ...]:
        """Names of the chains appends are spread over."""
        return tuple(f"c{i}" for i in range(self.chains))

    @property
    def is_sqlite(self) -> bool:
        """Embedded database (one writer at a time)."""
        return self.db_url.startswith("sqlite")

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (still validated)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The environment variables that rebuild these settings in a worker process."""
        return {
            ENV_DATA: str(self.data_dir), ENV_DB: self.db_url, ENV_CHAINS: str(self.chains),
            ENV_REQUIRED_TAGS: ",".join(self.required_tags),
            ENV_PUBLIC: ",".join(sorted(self.public)),
            ENV_MAX_BODY: str(self.max_body_bytes),
            ENV_MAX_BATCH_BODY: str(self.max_batch_body_bytes),
            ENV_CHECKPOINT_EVERY: str(self.checkpoint_every),
            ENV_SELF_CHECK: "1" if self.self_check else "0",
            ENV_ALERT_MAX_ATTEMPTS: str(self.alert_max_attempts),
            ENV_ALERT_RETRY_BASE_MS: str(self.alert_retry_base_ms),
            ENV_ALERT_LEASE_MS: str(self.alert_lease_ms),
            ENV_ANOMALY: "1" if self.anomaly_detection else "0",
            ENV_ANOMALY_TAG_SETS: ";".join(",".join(s) for s in self.anomaly_tag_sets),
            ENV_ANOMALY_SUSPEND: "1" if self.anomaly_suspend else "0",
        }


def default_db_url(data_dir: Path) -> str:
    """Embedded SQLite in the data directory."""
    return f"sqlite:///{data_dir.resolve() / 'receipts.db'}"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"${name} must be an integer, not {raw!r}") from None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("0", "1"):
        raise ConfigError(f"${name} must be 0 or 1, not {raw!r}")
    return raw == "1"


def _check_db_url(url: str) -> None:
    """PostgreSQL, or SQLite in a file: an in-memory database would lose acknowledged
    receipts (SQLAlchemy reads ``sqlite:///`` with no path as one)."""
    if url.startswith("postgresql"):
        return
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if not path or path.split("?")[0] in ("", ":memory:"):
        raise ConfigError("the database URL must be sqlite:///PATH (a file) or "
                          "postgresql+psycopg://...")


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def load_settings(data_dir: Path | None = None, db_url: str | None = None,
                  env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from explicit values, then the environment, then defaults."""
    env = os.environ if env is None else env
    directory = Path(data_dir or env.get(ENV_DATA) or DEFAULT_DATA_DIR)
    url = db_url or env.get(ENV_DB) or default_db_url(directory)
    _check_db_url(url)
    required = env.get(ENV_REQUIRED_TAGS)
    public = env.get(ENV_PUBLIC)
    settings = Settings(
        data_dir=directory, db_url=url,
        chains=_int(env, ENV_CHAINS, 1),
        required_tags=DEFAULT_REQUIRED_TAGS if required is None else _list(required),
        public=DEFAULT_PUBLIC if public is None else frozenset(_list(public)),
        max_body_bytes=_int(env, ENV_MAX_BODY, 64 * 1024),
        max_batch_body_bytes=_int(env, ENV_MAX_BATCH_BODY, 4 * 1024 * 1024),
        checkpoint_every=_int(env, ENV_CHECKPOINT_EVERY, 10_000),
        self_check=_flag(env, ENV_SELF_CHECK, True),
        alert_max_attempts=_int(env, ENV_ALERT_MAX_ATTEMPTS, 20),
        alert_retry_base_ms=_int(env, ENV_ALERT_RETRY_BASE_MS, 1000),
        alert_lease_ms=_int(env, ENV_ALERT_LEASE_MS, 60_000),
        anomaly_detection=_flag(env, ENV_ANOMALY, True),
        anomaly_tag_sets=tuple(_list(part) for part in
                               (env.get(ENV_ANOMALY_TAG_SETS) or "").split(";")
                               if part.strip()),
        anomaly_suspend=_flag(env, ENV_ANOMALY_SUSPEND, False),
    )
    clean = {k: v for k, v in overrides.items() if v is not None}
    return settings.with_overrides(**clean) if clean else settings


def redact_url(url: str) -> str:
    """A database URL safe to print: any password replaced by ``***``."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)
