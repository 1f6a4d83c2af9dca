"""The dbus source against a private dbus-daemon: a name owned already, a
name claimed later, an unreachable bus retried, watches removed."""

from __future__ import annotations


import pytest
from busfixture import PrivateBus, claim, have_dbus

from waiting import spin_until
from upstart.reactor.futures import sleep
from upstart.readiness.dbussrc import BusConnection, BusWatcher, match_rule
from upstart.readiness.spec import DbusSpec

pytestmark = pytest.mark.skipif(not have_dbus(), reason="dbus-daemon not installed")


@pytest.fixture
def bus():
    b = PrivateBus()
    yield b
    b.close()


def test_match_rule_names_the_signal_and_arg0():
    rule = match_rule("org.example.App")
    assert "member='NameOwnerChanged'" in rule and "arg0='org.example.App'" in rule


def test_name_claimed_later_fires(loop, bus):
    w = BusWatcher(loop, lambda p, m: None, lambda kind: bus.address)
    fired = []
    w.add("k", DbusSpec("org.example.Later", "session"), lambda: fired.append(1))
    assert spin_until(loop, lambda: w._conns["session"].state == "running")
    loop.run_until_complete(sleep(loop, 0.1))
    assert fired == []
    conn = claim(bus.address, "org.example.Later")
    try:
        assert spin_until(loop, lambda: fired)
        assert fired == [1] and w.keys() == [] and not w._conns   # connection closed
    finally:
        conn.close()


def test_name_owned_already_fires_from_name_has_owner(loop, bus):
    conn = claim(bus.address, "org.example.Now")
    try:
        w = BusWatcher(loop, lambda p, m: None, lambda kind: bus.address)
        fired = []
        w.add("k", DbusSpec("org.example.Now", "session"), lambda: fired.append(1))
        assert spin_until(loop, lambda: fired)
    finally:
        conn.close()


def test_two_watches_share_a_connection_and_removal_is_per_watch(loop, bus):
    w = BusWatcher(loop, lambda p, m: None, lambda kind: bus.address)
    fired = []
    w.add("a", DbusSpec("org.example.A", "session"), lambda: fired.append("a"))
    w.add("b", DbusSpec("org.example.B", "session"), lambda: fired.append("b"))
    assert len(w._conns) == 1
    w.remove("a")
    assert spin_until(loop, lambda: w._conns["session"].state == "running")
    ca, cb = claim(bus.address, "org.example.A"), claim(bus.address, "org.example.B")
    try:
        assert spin_until(loop, lambda: fired)
        loop.run_until_complete(sleep(loop, 0.05))
        assert fired == ["b"]
    finally:
        ca.close()
        cb.close()


def test_unreachable_bus_is_retried_until_it_appears(loop, tmp_path):
    logs = []
    conn = BusConnection(loop, f"unix:path={tmp_path}/nobus", "session",
                         lambda p, m: logs.append(m), lambda name: None)
    conn.want("org.example.X")
    assert conn.state == "closed" and conn.retry is not None
    assert logs and "not reachable" in logs[0]
    conn.close()
    assert conn.retry is None


def test_no_session_bus_address_is_logged(loop):
    logs = []
    w = BusWatcher(loop, lambda p, m: logs.append(m), lambda kind: None)
    w.add("k", DbusSpec("org.example.X", "session"), lambda: None)
    assert w.keys() == [] and "no session bus address" in logs[0]
