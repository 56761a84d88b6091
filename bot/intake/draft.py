"""``Draft``: a request for a ticket, as every intake surface hands it to the domain.

Its own module because both the ticket service and the messages announcing a
ticket need it, and the service imports those messages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Draft:
    """What a reporter asked for, already validated by the surface that took it."""

    summary: str
    policy_area: str
    severity: str
    details: str = ""
    language: str | None = None
    region: str | None = None
    source_team: str | None = None
    vendor: str | None = None
    requested_action: str | None = None
    deadline: datetime | None = None
    content: tuple[str, ...] = field(default_factory=tuple)
    source_channel: str | None = None
    source_permalink: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["deadline"] = self.deadline.isoformat() if self.deadline else None
        data["content"] = list(self.content)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        deadline = data.get("deadline")
        return cls(
            **{
                **data,
                "deadline": datetime.fromisoformat(deadline) if deadline else None,
                "content": tuple(data.get("content") or ()),
            }
        )
