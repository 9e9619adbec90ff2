"""The service's error tree: one base, handled once at the edge (HTTP handler or CLI)."""

from __future__ import annotations


class ReceiptsError(Exception):
    """Base of every error the service raises on purpose."""


class KeyFileError(ReceiptsError):
    """A signing key file is missing, unreadable, encrypted without a passphrase, or exists."""


class ConfigError(ReceiptsError):
    """A setting is missing or unsafe."""
