"""The service's error tree: one base, handled once at the edge (HTTP handler or CLI)."""

from __future__ import annotations


class ReceiptsError(Exception):
    """Base of every error the service raises on purpose."""


class KeyFileError(ReceiptsError):
    """A signing key file is missing, unreadable, encrypted without a passphrase, or exists."""


class ConfigError(ReceiptsError):
    """A setting is missing or unsafe."""


class UsageFormatError(ReceiptsError):
    """A usage object that is malformed or inconsistent; ``field`` names the offending field.

    Raised instead of guessing: a part larger than its whole (cached tokens above the prompt
    total, reasoning above the output total) means the caller mixed up conventions, and pricing
    it anyway would sign a wrong cost.
    """

    status = 422
    code = "invalid_usage"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"usage.{field}: {message}")


class PriceBookBuildError(ReceiptsError):
    """A price book could not be built from the data and overrides given."""


class InexactPriceError(PriceBookBuildError):
    """A price that the format's fixed scale (10^-6 per 1M units) cannot hold exactly."""


class OverridesError(PriceBookBuildError):
    """An operator overrides file that is unreadable or says something impossible."""


class PriceBookFileError(ReceiptsError):
    """A price book file that is missing, not a valid book, or not named by its own hash."""
