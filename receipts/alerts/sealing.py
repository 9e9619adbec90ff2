"""Channel secrets at rest: AES-256-GCM under a key derived from the deployment's signing key.

The service needs a webhook secret in clear to compute its HMAC, and a PagerDuty routing key or
a Slack webhook URL in clear to send at all, so these cannot be hashed like tokens. They are
encrypted with a key derived (HKDF) from the signing key: a copy of the database (a backup, a
read replica, a SQL injection) reveals no secret, while every replica, which holds the same
signing key, can read them. Whoever holds the signing key can also forge receipts, so this adds
no new secret to guard. The channel id is the associated data: a sealed value copied onto
another channel row does not open.
"""

from __future__ import annotations

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from receipts.deployment.signing_key import Signer
from receipts.errors import ConfigError

PURPOSE = b"alert channel secrets v1"
_VERSION = b"\x01"
_NONCE = 12


class Sealer:
    """Seals and opens a channel's URL and secret."""

    def __init__(self, signer: Signer) -> None:
        self._aead = AESGCM(signer.derived_key(PURPOSE))

    def seal(self, channel_id: str, url: str, secret: str | None) -> bytes:
        """``url`` and ``secret`` encrypted, bound to ``channel_id``."""
        nonce = os.urandom(_NONCE)
        clear = json.dumps({"url": url, "secret": secret}).encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, clear, channel_id.encode())

    def open(self, channel_id: str, sealed: bytes) -> tuple[str, str | None]:
        """``(url, secret)`` of a sealed value (refused if made by another key or channel)."""
        if sealed[:1] != _VERSION:
            raise ConfigError(f"alert channel {channel_id}: unknown sealing version")
        nonce, body = sealed[1:1 + _NONCE], sealed[1 + _NONCE:]
        try:
            clear = json.loads(self._aead.decrypt(nonce, body, channel_id.encode()))
        except InvalidTag:
            raise ConfigError(f"alert channel {channel_id}: its secret was sealed with another "
                              "signing key or for another channel") from None
        return clear["url"], clear["secret"]
