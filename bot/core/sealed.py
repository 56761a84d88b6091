"""Signed ``private_metadata`` and button values: what comes back is what escbot sent.

A modal's ``private_metadata`` and a button's ``value`` travel through Slack and
come back in a request escbot must not take on trust (a forged or replayed
payload can carry anything). :class:`Seal` signs them with HMAC-SHA256 under a
key derived from the Slack signing secret (every replica derives the same one)
and bound to a *purpose* (the modal's ``callback_id``, the button's kind), so a
value signed for one place is refused in another. A value that does not verify
raises :class:`Tampered`, logged once with who sent it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from bot.core.errors import DomainError

log = logging.getLogger(__name__)

#: The label the signing key is derived under (HMAC of the secret), never the secret itself.
KEY_LABEL = b"escbot/private-metadata/v1"
#: Characters a seal adds in front of the value: 43 of MAC and a dot.
OVERHEAD = 44


class Tampered(DomainError):
    """A signed value did not verify: refused, nothing done."""


#: The key of desks built without a signing secret (tests, scripts): this process only.
_PROCESS_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class Seal:
    """Signs and verifies values that make a round trip through Slack."""

    key: bytes = field(default=_PROCESS_KEY, repr=False)

    @classmethod
    def from_secret(cls, signing_secret: str) -> Seal:
        return cls(hmac.new(signing_secret.encode(), KEY_LABEL, hashlib.sha256).digest())

    def sign(self, purpose: str, value: str) -> str:
        """``value`` with its MAC in front: ``<mac>.<value>``."""
        return f"{self._mac(purpose, value)}.{value}"

    def open(self, purpose: str, sealed: Any, *, user: str) -> str:
        """The value :meth:`sign` sealed for ``purpose``; :class:`Tampered` if it was not."""
        if isinstance(sealed, str):
            mac, dot, value = sealed.partition(".")
            if dot and hmac.compare_digest(mac, self._mac(purpose, value)):
                return value
        log.warning(
            "refused a forged or tampered %s from %s (%d characters)",
            purpose,
            user,
            len(sealed) if isinstance(sealed, str) else -1,
        )
        raise Tampered(
            "That form or button came back changed from what escbot sent, so nothing was "
            "done. Please start again from Slack (for a new escalation, run `/escalate`)."
        )

    def seal_view(self, view: dict[str, Any]) -> dict[str, Any]:
        """``view`` with its ``private_metadata`` signed for its ``callback_id``."""
        meta = str(view.get("private_metadata") or "")
        return {**view, "private_metadata": self.sign(str(view["callback_id"]), meta)}

    def open_view(self, view: dict[str, Any], *, user: str) -> str:
        """A submitted view's ``private_metadata``, verified for its ``callback_id``."""
        return self.open(str(view.get("callback_id")), view.get("private_metadata"), user=user)

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self.key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
