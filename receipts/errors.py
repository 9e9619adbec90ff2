"""The service's error tree: one base, handled once at the edge (HTTP handler or CLI).

Each error that a request can cause carries the HTTP status and a stable machine code, so the
API's single exception handler turns any of them into the same JSON body
``{"error": {"code", "message", "fields"?}}`` and the CLI prints ``error: message`` on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One bad field of a request: its dotted path and why it was refused."""

    field: str
    reason: str


class ReceiptsError(Exception):
    """Base of every error the service raises on purpose; ``fields`` names bad input fields."""

    status = 500
    code = "internal_error"
    exit_code = 1
    """The CLI's exit status for this error (the one edge, ``receipts.cli.main``, reads it)."""

    def __init__(self, message: str, fields: Sequence[FieldProblem] = ()) -> None:
        self.fields = tuple(fields)
        super().__init__(message)

    def with_fields(self, fields: Sequence[FieldProblem]) -> ReceiptsError:
        """A copy naming other fields (e.g. prefixed with a batch item's index)."""
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.args = self.args
        clone.fields = tuple(fields)
        return clone


class KeyFileError(ReceiptsError):
    """A signing key file is missing, unreadable, encrypted without a passphrase, or exists."""

    code = "key_file"


class ConfigError(ReceiptsError):
    """A setting is missing or unsafe."""

    code = "bad_config"


class AgentKeysError(ConfigError, ValueError):
    """A LiteLLM logger's team-to-agent-key map that cannot be used: ``$RECEIPTS_AGENT_KEYS``
    missing, unreadable, malformed or readable by others, a key file likewise, or a logger
    given no client at all (:mod:`receipts.client.litellm_keys`). Raised when the proxy loads
    its config, so it stops at start-up rather than losing receipts; a ``ValueError`` too, as
    the missing agent key a client refuses."""

    code = "bad_agent_keys"


class ExtraMissing(ReceiptsError):
    """A command needs a package of an extra that is not installed (genai-prices, the server,
    ``pyarrow`` for Parquet); over HTTP, this deployment does not offer what was asked (501)."""

    status = 501
    code = "extra_missing"


class LedgerInvalid(ReceiptsError):
    """A ledger file that the verifier refuses, or that changed once verified: nothing is
    made from it (``receipt focus``)."""

    code = "ledger_invalid"


class ChainBroken(ReceiptsError):
    """The stored ledger does not verify: the service refuses to sign on top of it."""

    code = "chain_broken"


class NotInitialized(ReceiptsError):
    """The data directory or database was not made by ``receipt init``."""

    code = "not_initialized"


class Unauthorized(ReceiptsError):
    """No credential, or one that matches no active agent key or admin token (HTTP 401)."""

    status = 401
    code = "unauthorized"


class Forbidden(ReceiptsError):
    """A valid credential asking for something it may not do (HTTP 403)."""

    status = 403
    code = "forbidden"


class AgentSuspended(Forbidden):
    """A suspended agent key writing (HTTP 403, naming no field: the call itself is fine, and a
    client keeps it for later delivery): :mod:`receipts.deployment.suspensions`."""

    code = "agent_suspended"


class NotFound(ReceiptsError):
    """No such receipt, agent or price book, or not one the caller may see (HTTP 404)."""

    status = 404
    code = "not_found"


class Conflict(ReceiptsError):
    """A request that contradicts stored state, e.g. a reused request_id (HTTP 409)."""

    status = 409
    code = "conflict"


class Invalid(ReceiptsError):
    """Bad input naming each bad field (HTTP 422)."""

    status = 422
    code = "invalid_request"


class Unavailable(ReceiptsError):
    """The service cannot sign right now (database down, no price book in force): HTTP 503."""

    status = 503
    code = "unavailable"


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


class UnreadableLog(ReceiptsError):
    """A usage log line that cannot be read: not JSON or CSV, a shape no reader knows, or usage
    that does not add up. ``receipt audit`` exits 2 with the file, line and why."""

    status = 422
    code = "unreadable_log"
    exit_code = 2


class UnreadableInvoice(ReceiptsError):
    """An invoice, or the ledger it is reconciled with, that cannot be used: not an OpenAI Costs
    page, an Anthropic cost report or a mapped CSV, an amount that is not a decimal, mixed
    currencies, or a ledger that does not verify. ``receipt reconcile`` exits 2 naming the file
    and the line or field."""

    status = 422
    code = "unreadable_invoice"
    exit_code = 2


class ClientError(ReceiptsError):
    """The receipts client could not get a receipt (``receipts.client``)."""

    code = "client_error"


class ServiceUnreachable(ClientError):
    """The receipts service did not answer (connection refused, timeout, 5xx) after retries."""

    code = "service_unreachable"


class ReceiptRefused(ClientError):
    """The service answered with a 4xx: the call as sent can never be receipted."""

    code = "receipt_refused"

    def __init__(self, status: int, message: str) -> None:
        self.http_status = status
        super().__init__(f"HTTP {status}: {message}")


class ReceiptNotAuthentic(ClientError):
    """The receipt returned does not verify against the pinned public key."""

    code = "receipt_not_authentic"


class UnmappedTeam(ClientError):
    """A LiteLLM call of a team the logger has no agent key for, and no default client to
    send it with: no receipt is asked for (reported to ``on_error``, counted in the logger's
    ``unsent``)."""

    code = "unmapped_team"
