"""Which connections the HTTP front keeps: a cap per client, a total, and whom to drop.

A connection is *waiting* until a whole request has arrived on it (and again while it is
kept alive between requests) and *busy* while that request is served. Slow clients hold
waiting connections; what they must never do is keep a whole request out, as they did
with waitress, which stops accepting at its connection limit. So:

- a newcomer always gets in while some connection is still waiting: it pushes out the one
  that has waited longest, of its own client once that client holds ``per_client``
  connections, of anyone once ``total`` are open. A whole request arrives within
  milliseconds of its connection, so it is never the longest waiting; a slow client pushes
  out only its own sockets, or other slow ones. Only when every connection that could be
  dropped is busy is the newcomer refused.
- a client is an address, or an IPv6 /64 (what one host is usually given). The trusted
  reverse proxy is many clients, not one: it is not capped here (it forwards only whole
  requests, and caps each of its own clients: docs/operations.md).

Everything here runs on the front's event loop thread.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

C = TypeVar("C", bound=Hashable)


def client_of(address: str) -> str:
    """The unit of the per-client cap: the IPv4 address, or the IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a unix socket, or nothing
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # a dual-stack socket's IPv4 client
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Admission(Generic[C]):
    def __init__(self, total: int, per_client: int, exempt: str | None = None) -> None:
        self.total = total
        self.per_client = per_client
        self.exempt = client_of(exempt) if exempt and exempt != "*" else exempt
        self._client: dict[C, str] = {}
        self._open: Counter[str] = Counter()
        self._waiting: OrderedDict[C, None] = OrderedDict()  # longest waiting first
        self._waiting_of: dict[str, OrderedDict[C, None]] = {}  # the same, per client

    def __len__(self) -> int:
        return len(self._client)

    def connections(self) -> list[C]:
        return list(self._client)

    def admit(self, conn: C, address: str) -> tuple[str | None, C | None]:
        """(why ``conn`` is refused, or None; the waiting connection to drop for it, or None)."""
        client = client_of(address)
        if self.exempt not in ("*", client) and self._open[client] >= self.per_client:
            queue, why = self._waiting_of.get(client), "its client's connections are all busy"
        elif len(self._client) >= self.total:
            queue, why = self._waiting, "every connection is busy"
        else:
            queue, why = None, ""
        victim = next(iter(queue)) if queue else None
        if why and victim is None:
            return why, None
        if victim is not None:
            self.release(victim)
        self._client[conn] = client
        self._open[client] += 1
        self.waiting(conn)
        return None, victim

    def busy(self, conn: C) -> None:
        """A whole request arrived on ``conn``: it can't be dropped while it is served."""
        self._waiting.pop(conn, None)
        mine = self._waiting_of.get(self._client.get(conn, ""))
        if mine is not None:
            mine.pop(conn, None)

    def waiting(self, conn: C) -> None:
        """``conn`` is new, or was answered and is kept alive: it waits, as the newest."""
        client = self._client.get(conn)
        if client is not None:
            self._waiting[conn] = None
            self._waiting_of.setdefault(client, OrderedDict())[conn] = None

    def release(self, conn: C) -> None:
        self.busy(conn)
        client = self._client.pop(conn, None)
        if client is None:
            return
        self._open[client] -= 1
        if not self._open[client]:
            del self._open[client]
            self._waiting_of.pop(client, None)
