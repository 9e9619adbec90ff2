"""Settings from the environment: defaults, and refusals of unsafe or malformed values (one
error line each, never a traceback, never a silent fallback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from receipts.deployment.settings import load_settings
from receipts.errors import ConfigError


def test_defaults_are_sqlite_in_the_data_directory_with_the_self_check_on(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'receipts.db'}"
    assert settings.self_check and settings.chains == 1
    assert load_settings(tmp_path, env=settings.to_env()) == settings  # what workers read back


@pytest.mark.parametrize(("env", "says"), [
    ({"RECEIPTS_DB": "sqlite:///"}, "a file"),  # SQLAlchemy's in-memory database: was a traceback
    ({"RECEIPTS_DB": "sqlite:///:memory:"}, "a file"),  # would lose acknowledged receipts
    ({"RECEIPTS_DB": "mysql://db/x"}, "or postgresql"),
    ({"RECEIPTS_SELF_CHECK": "maybe"}, "must be 0 or 1"),  # was read as on, silently
    ({"RECEIPTS_CHAINS": "abc"}, "must be an integer"),
    ({"RECEIPTS_CHAINS": "0"}, "between 1 and 64"),
    ({"RECEIPTS_MAX_BODY_BYTES": "-5"}, "body limits"),
    ({"RECEIPTS_CHECKPOINT_EVERY": "0"}, "must be positive"),
    ({"RECEIPTS_PUBLIC": "everything"}, "public endpoints"),
    ({"RECEIPTS_REQUIRED_TAGS": "team,Bad Tag"}, "required tag names"),
])
def test_malformed_or_unsafe_settings_are_refused(tmp_path: Path, env: dict[str, str],
                                                  says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_settings(tmp_path, env=env)


def test_flags_take_0_and_1(tmp_path: Path) -> None:
    off = load_settings(tmp_path, env={"RECEIPTS_SELF_CHECK": "0"})
    on = load_settings(tmp_path, env={"RECEIPTS_SELF_CHECK": "1"})
    assert not off.self_check and on.self_check
