"""States opened and closed by events (`state` stanza, RM-01) in the pure engine."""

from __future__ import annotations

import json

import pytest
from core_harness import FakeClock, FakeSpawner, Harness

from upstart.core import effects as fx
from upstart.core.effects import ControlFailure
from upstart.core.engine import Engine
from upstart.jobfile.parser import parse_job

SVC = "exec sleep 100\n"


def parsed(name: str, text: str):
    return parse_job(text, name)


def states(h: Harness) -> list[str]:
    return [" ".join([n] + e) for n, e in h.engine.list_states() if n not in ("running", "ready")]


def test_an_event_opens_a_state_and_another_closes_it():
    decl = "state filesystem on filesystem\nstate filesystem until runlevel [06]\n"
    h = Harness(parsed("fs", decl + "while filesystem\n" + SVC))
    assert states(h) == [] and h.engine.instance_info  # nothing open yet
    h.emit("filesystem", "DEVICE=sda1")
    assert states(h) == ["filesystem DEVICE=sda1"]
    assert h.engine.instance_info("fs", "")[1] == "running"
    h.emit("runlevel", "RUNLEVEL=2")                 # [06] does not match 2
    assert states(h) == ["filesystem DEVICE=sda1"]
    h.emit("runlevel", "RUNLEVEL=6")
    assert states(h) == []
    assert h.engine.instance_info("fs", "")[0] == "stop"


def test_keys_name_one_state_per_identity_and_until_expands_from_it():
    decl = ("state online IFACE on net-device-up IFACE!=lo\n"
            "state online until net-device-down IFACE=$IFACE\n")
    h = Harness(parsed("net", decl), parsed("web", "instance $IFACE\nwhile online\n" + SVC))
    h.emit("net-device-up", "IFACE=lo")
    h.emit("net-device-up", "IFACE=eth0")
    h.emit("net-device-up", "IFACE=wlan0")
    assert states(h) == ["online IFACE=eth0", "online IFACE=wlan0"]
    assert h.engine.instances("web") == ["eth0", "wlan0"]
    h.emit("net-device-down", "IFACE=wlan0")
    assert states(h) == ["online IFACE=eth0"]
    assert h.engine.instance_info("web", "wlan0")[0] == "stop"


def test_set_state_of_a_declared_name_is_refused():
    h = Harness(parsed("fs", "state filesystem on filesystem\n"))
    with pytest.raises(ControlFailure) as err:
        h.engine.set_state("filesystem", [])
    assert err.value.error.message == "State is kept by job fs: filesystem"


def test_reload_without_the_declaration_closes_its_states():
    h = Harness(parsed("fs", "state filesystem on filesystem\n"))
    h.emit("filesystem")
    assert states(h) == ["filesystem"]
    h.feed(h.engine.load({}))
    assert states(h) == []


def test_declared_states_and_latches_survive_a_snapshot():
    decl = ("state up on a and b\nstate up until c and d\n")
    h = Harness(parsed("s", decl))
    h.emit("a")
    h.emit("b")
    h.emit("c")                                       # `until` half latched
    snap = json.loads(json.dumps(h.engine.snapshot()))
    eng = Engine.restore(snap, FakeClock(), FakeSpawner(), session_init=True,
                         job_env=[], init_env={}, confirm_delay=0)
    assert [n for n, _e in eng.list_states()] == ["up"]
    eng.emit("d", [], wait=False, token=1)
    assert eng.list_states() == []


def test_while_moves_are_traced_with_the_leaves_that_moved():
    h = Harness(parsed("bar", SVC), parsed("baz", SVC),
                parsed("foo", "while bar and baz\n" + SVC))
    h.start("bar")
    h.start("baz")
    out = h.stop("bar")
    moved = [e.data for e in out if isinstance(e, fx.Trace) and e.kind == "while"]
    assert moved == [("", "stop", "-running JOB=bar INSTANCE=")]
