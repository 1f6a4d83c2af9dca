"""The readiness adapter: WatchReady leaves become source watches, the
ordinary event is emitted on a later loop turn, unwatch stops everything,
and the emitted event satisfies the core's `ready on` for that instance."""

from __future__ import annotations

import socket

import pytest
from busfixture import PrivateBus, claim, have_dbus

from waiting import spin_until
from upstart.reactor.futures import sleep
from upstart.jobfile.model import Match
from upstart.readiness.adapter import Readiness, bus_address


def make(loop, environ=None, session_init=True):
    emitted, logs = [], []
    r = Readiness(loop, lambda name, env: emitted.append((name, env)),
                  log=lambda p, m: logs.append((p, m)), session_init=session_init,
                  environ=environ or {})
    return r, emitted, logs


def test_bus_address_defaults():
    assert bus_address("system", {}) == "unix:path=/var/run/dbus/system_bus_socket"
    assert bus_address("system", {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/x"}) == "unix:path=/x"
    assert bus_address("session", {}) is None
    assert bus_address("session", {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/y"}) == \
        "unix:path=/y"


def test_file_already_there_emits_on_the_next_turn_not_inside_watch(loop, tmp_path):
    (tmp_path / "f").write_text("")
    r, emitted, _ = make(loop)
    r.watch("j", "", (Match("file", (f"FPATH={tmp_path}/f",)),), (123,))
    assert emitted == []                               # never from inside the daemon's apply
    assert spin_until(loop, lambda: emitted)
    assert emitted == [("file", [f"FPATH={tmp_path}/f"])]
    assert r.active() == []


def test_file_created_later_and_unwatch(loop, tmp_path):
    r, emitted, _ = make(loop)
    r.watch("a", "", (Match("file", (f"FPATH={tmp_path}/a",)),))
    r.watch("b", "i1", (Match("file", (f"FPATH={tmp_path}/b",)),))
    assert len(r.active()) == 2
    r.unwatch("a", "")
    (tmp_path / "a").write_text("")
    (tmp_path / "b").write_text("")
    assert spin_until(loop, lambda: emitted)
    loop.run_until_complete(sleep(loop, 0.05))
    assert emitted == [("file", [f"FPATH={tmp_path}/b"])]


def test_rewatch_replaces_previous_watches(loop, tmp_path):
    r, emitted, _ = make(loop)
    r.watch("a", "", (Match("file", (f"FPATH={tmp_path}/old",)),))
    r.watch("a", "", (Match("file", (f"FPATH={tmp_path}/new",)),))
    (tmp_path / "old").write_text("")
    loop.run_until_complete(sleep(loop, 0.05))
    assert emitted == []
    (tmp_path / "new").write_text("")
    assert spin_until(loop, lambda: emitted)


def test_socket_listener_of_the_job(loop):
    import os
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    r, emitted, _ = make(loop)
    try:
        r.watch("srv", "", (Match("socket", ("PROTO=inet", f"PORT={port}")),), (os.getpid(),))
        loop.run_until_complete(sleep(loop, 0.05))
        assert emitted == []
        s.listen()
        assert spin_until(loop, lambda: emitted)
        assert emitted == [("socket", ["PROTO=inet", f"PORT={port}"])]
    finally:
        s.close()
        r.close()


def test_bad_leaf_is_logged_and_others_still_watched(loop, tmp_path):
    r, emitted, logs = make(loop)
    r.watch("j", "", (Match("socket", ("PROTO=tcp", "PORT=1")),
                      Match("file", (f"FPATH={tmp_path}/x",))))
    assert any("cannot watch" in m and "PROTO" in m for _p, m in logs)
    (tmp_path / "x").write_text("")
    assert spin_until(loop, lambda: emitted)


@pytest.mark.skipif(not have_dbus(), reason="dbus-daemon not installed")
def test_dbus_name_on_the_session_bus(loop):
    with PrivateBus() as bus:
        r, emitted, _ = make(loop, environ={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        r.watch("svc", "", (Match("dbus", ("NAME=org.example.Svc",)),))
        loop.run_until_complete(sleep(loop, 0.1))
        conn = claim(bus.address, "org.example.Svc")
        try:
            assert spin_until(loop, lambda: emitted)
            assert emitted == [("dbus", ["NAME=org.example.Svc", "BUS=session"])]
        finally:
            conn.close()
            r.close()


def test_emitted_event_makes_the_core_instance_ready(loop, tmp_path):
    """The whole seam in-process, as the daemon wires it: the core's WatchReady
    -> adapter.watch -> the file appears -> emit -> the core's `ready` event."""
    from upstart.core import effects as fx
    from upstart.core.engine import Engine
    from upstart.jobfile.model import JobClass, Process

    class Clock:
        def monotonic(self):
            return 1000.0

    class Spawner:
        pid = 100

        def spawn(self, request):
            Spawner.pid += 1
            return Spawner.pid

    engine = Engine(Clock(), Spawner(), session_init=True, job_env=["PATH=/bin"],
                    init_env={}, confirm_delay=0)
    seen: list = []
    box: dict = {}

    def apply(effects):
        seen.extend(effects)
        for e in effects:
            if isinstance(e, fx.WatchReady):
                box["r"].watch(e.job, e.instance, e.matches, e.pids)
            elif isinstance(e, fx.UnwatchReady):
                box["r"].unwatch(e.job, e.instance)

    box["r"] = Readiness(loop, lambda name, env: apply(engine.emit(name, env, wait=False,
                                                                   token=None)))
    target = tmp_path / "up"
    srv = JobClass(name="srv", process={"main": Process(False, "sleep")}, ready=True,
                   ready_on=Match("file", (f"FPATH={target}",)))
    apply(engine.load({"srv": srv}))
    apply(engine.job_start("srv", [], wait=False, token=None))
    assert engine.instance_ready("srv", "") is False
    assert box["r"].active() == [("srv", "", 0)]
    target.write_text("")
    assert spin_until(loop, lambda: engine.instance_ready("srv", ""))
    names = [e.name for e in seen if isinstance(e, fx.EventEmitted)]
    assert "file" in names and "ready" in names
    assert box["r"].active() == []


def test_sources_are_loaded_only_when_a_job_asks():
    """init start-up pays for none of them: the socket source comes with the
    first socket watch (and never pyroute2), inotify with the first file watch."""
    import subprocess
    import sys
    code = """
import sys
from upstart.reactor.loop import Reactor
from upstart.readiness.adapter import Readiness
from upstart.jobfile.model import Match
loop = Reactor()
r = Readiness(loop, lambda n, e: None)
heavy = ("pyroute2", "inotify_simple", "upstart.readiness.socketsrc")
print(sorted(m for m in heavy if m in sys.modules))
r.watch("j", "", (Match("socket", ("PROTO=inet", "PORT=1")),), ())
print("upstart.readiness.socketsrc" in sys.modules, "pyroute2" in sys.modules)
r.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.splitlines() == ["[]", "True False"], out.stderr
