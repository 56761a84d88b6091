"""Which sockets the HTTP front keeps (bot.slack.admission), without sockets.

The HTTP behaviour on top (slow sockets, signed requests answered) is in
tests/test_edge_connections.py.
"""

from __future__ import annotations

from bot.slack.admission import Admission, client_of


def test_a_client_is_an_address_or_an_ipv6_slash_64() -> None:
    assert client_of("203.0.113.9") == "203.0.113.9"
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2:bbbb::7")
    assert client_of("2001:db8:1:2::1") != client_of("2001:db8:1:3::1")
    assert client_of("::ffff:203.0.113.9") == "203.0.113.9"  # a dual-stack socket's IPv4
    assert client_of("") == ""


def test_past_its_cap_a_client_pushes_out_its_own_longest_waiting() -> None:
    gate: Admission[str] = Admission(total=100, per_client=2)
    assert gate.admit("a1", "10.0.0.1") == (None, None)
    assert gate.admit("b1", "10.0.0.2") == (None, None)
    assert gate.admit("a2", "10.0.0.1") == (None, None)
    assert gate.admit("a3", "10.0.0.1") == (None, "a1")  # not b1, older but another client's
    gate.busy("a2")  # a whole request arrived: never pushed out while it is served
    assert gate.admit("a4", "10.0.0.1") == (None, "a3")
    gate.busy("a4")
    refused, victim = gate.admit("a5", "10.0.0.1")
    assert refused and victim is None  # both of its sockets are busy
    gate.waiting("a2")  # answered and kept alive: it waits again
    assert gate.admit("a5", "10.0.0.1") == (None, "a2")


def test_at_the_total_the_longest_waiting_of_anyone_makes_room() -> None:
    gate: Admission[str] = Admission(total=3, per_client=10)
    for n, address in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.3"]):
        gate.admit(f"c{n}", address)
    gate.busy("c0")
    assert gate.admit("new", "10.0.0.9") == (None, "c1")
    assert len(gate) == 3
    gate.busy("c2")
    gate.busy("new")
    refused, victim = gate.admit("late", "10.0.0.9")
    assert refused and victim is None  # every socket is serving a request
    gate.release("c0")
    assert gate.admit("late", "10.0.0.9") == (None, None)


def test_the_trusted_proxy_is_many_clients_not_one() -> None:
    gate: Admission[str] = Admission(total=100, per_client=2, exempt="10.0.0.2")
    for n in range(10):
        assert gate.admit(f"p{n}", "10.0.0.2") == (None, None)
    assert gate.admit("x1", "10.0.0.3") == (None, None)
    assert gate.admit("x2", "10.0.0.3") == (None, None)
    assert gate.admit("x3", "10.0.0.3") == (None, "x1")
