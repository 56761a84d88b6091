"""The ticket a gesture names, or a polite ``NotFound``: one wording for every surface."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.core.errors import NotFound
from storage.models import Ticket
from storage.queries import ticket_by_key


def by_key(session: Session, key: str, *, lock: bool = False) -> Ticket:
    """The ticket keyed ``key`` (``ESC-12``, any case), row-locked with ``lock``."""
    ticket = ticket_by_key(session, key, lock=lock)
    if ticket is None:
        raise NotFound(f"There is no ticket {key.strip().upper()}.")
    return ticket
