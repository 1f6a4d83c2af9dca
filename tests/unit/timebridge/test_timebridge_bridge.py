"""The bridge against a real control server (the in-memory test double of
init behind a real socket): reading jobs, following JobAdded/JobRemoved and
EventEmitted, emitting `time` events, writing the state file, warnings, and
leaving when init goes away. Clocks are fake; the wire is real."""

import select
import socket
import threading
import time

import pytest

from upstart.control.client import Connection
from control_harness import ServerThread
from membackend import MemoryBackend, ToyJob
from upstart.timebridge import state as state_file
from upstart.reactor.loop import Reactor
from upstart.timebridge.bridge import Bridge
from upstart.timebridge.link import Link, LinkError, choose_address
from upstart.timebridge.listing import render
from upstart.timebridge.planner import Planner
from upstart.timebridge.bridge import collect

T0 = 1_777_000_000.0


class Clock:
    def __init__(self):
        self.wall, self.mono = T0, 500.0

    def advance(self, dt):
        self.wall += dt
        self.mono += dt


def jobs():
    return [
        ToyJob("tick", start_on=[["time", "EVERY=10s"]]),
        ToyJob("later", start_on=[["time", "AFTER=started foo", "DELAY=2s"]],
               stop_on=[["time", "CRON=0 3 * * *"], ["stopping", "x"], ["/OR"]]),
        ToyJob("plain", start_on=[["startup"]]),
        ToyJob("broken", start_on=[["time", "EVERY=soon"]]),
    ]


@pytest.fixture
def world(tmp_path):
    backend = MemoryBackend(jobs())
    with ServerThread(backend) as st:
        clock = Clock()
        logs = []
        link = Link(st.address)
        bridge = Bridge(link, Planner(), state_path=str(tmp_path / "state"), boot="b",
                        init="b/1:1", log=logs.append, wall=lambda: clock.wall,
                        mono=lambda: clock.mono)
        bridge.load()
        yield backend, st, bridge, clock, logs
        link.close()


def settle(bridge, predicate, timeout=5.0):
    """Pump signals until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        if bridge.link.has_queued():
            bridge.pump()
            continue
        r, _, _ = select.select([bridge.link.fileno()], [], [], 0.1)
        if r:
            bridge.pump()


def emitted_times(backend):
    return [(name, env) for name, env, _ in backend.emitted if name == "time"]


def test_reads_jobs_and_ignores_invalid_leaves(world):
    backend, st, bridge, clock, logs = world
    assert sorted(bridge.planner.entries) == [
        "AFTER=started foo DELAY=2s", "CRON=0 3 * * *", "EVERY=10s"]
    assert "Ignored time event in broken (start on): invalid duration: soon" in logs


def test_emits_when_due_and_saves_state(world, tmp_path):
    backend, st, bridge, clock, logs = world
    clock.advance(5)
    assert bridge.step() == pytest.approx(5)
    assert emitted_times(backend) == []
    clock.advance(5)
    bridge.step()
    assert emitted_times(backend) == [
        ("time", ["EVERY=10s", "TIME_DUE=2026-04-24T03:06:50Z", "TIME_FIRED=1",
                  "TIME_MISSED=0"])]
    saved = state_file.load(str(tmp_path / "state"))
    assert (saved.boot, saved.init) == ("b", "b/1:1")
    assert saved.schedules["EVERY=10s"]["fired"] == 1
    assert saved.schedules["EVERY=10s"]["due"] == pytest.approx(520.0)


def test_event_emitted_arms_a_delay(world):
    backend, st, bridge, clock, logs = world
    with Connection(st.address) as other:
        other.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent", "sasb",
                   ("started", ["JOB=foo", "INSTANCE="], False))
    entry = bridge.planner.entries["AFTER=started foo DELAY=2s"]
    settle(bridge, lambda: entry.due is not None)
    assert entry.due == pytest.approx(502.0)
    clock.advance(2)
    bridge.step()
    assert emitted_times(backend)[-1][1][:2] == ["AFTER=started foo", "DELAY=2s"]


def test_follows_jobs_added_and_removed(world):
    backend, st, bridge, clock, logs = world
    st.call(backend.add_job, ToyJob("hourly", start_on=[["time", "CRON=0 * * * *"]]))
    settle(bridge, lambda: "CRON=0 * * * *" in bridge.planner.entries)
    st.call(backend.remove_job, "tick")
    settle(bridge, lambda: "EVERY=10s" not in bridge.planner.entries)
    assert "EVERY=10s" in bridge.planner.snapshot()        # kept dormant


def test_warns_about_crossfire(world):
    backend, st, bridge, clock, logs = world
    st.call(backend.add_job, ToyJob("capped", start_on=[["time", "EVERY=10s", "COUNT=2"]]))
    settle(bridge, lambda: "EVERY=10s COUNT=2" in bridge.planner.entries)
    assert "time event EVERY=10s COUNT=2 also matches tick (start on): time EVERY=10s" in logs


def test_listing(world):
    backend, st, bridge, clock, logs = world
    _, users = collect([leaf for leaves in bridge.leaves.values() for leaf in leaves])
    from datetime import timezone
    text = render(bridge.planner.describe(clock.wall, clock.mono), users, timezone.utc)
    assert text.splitlines() == [
        'time AFTER="started foo" DELAY=2s  next -  last -  fired 0  start on: later',
        'time CRON="0 3 * * *"  next 2026-04-25 03:00:00 +0000  last -  fired 0  '
        'stop on: later',
        "time EVERY=10s  next 2026-04-24 03:06:50 +0000  last -  fired 0  start on: tick",
    ]


def test_restored_state_is_used(tmp_path):
    path = str(tmp_path / "state")
    state_file.save(path, state_file.State("b", "b/1:1", {
        "EVERY=10s": {"kind": "every", "cursor": None, "due": 503.0, "last": T0 - 7,
                      "fired": 4}}))
    backend = MemoryBackend(jobs())
    with ServerThread(backend) as st:
        clock = Clock()
        link = Link(st.address)
        bridge = Bridge(link, Planner(), state_path=path, boot="b", init="b/1:1",
                        wall=lambda: clock.wall, mono=lambda: clock.mono)
        bridge.load()
        clock.advance(3)
        bridge.step()
        link.close()
    assert emitted_times(backend)[0][1][2] == "TIME_FIRED=5"


def test_init_going_away_ends_the_bridge():
    backend = MemoryBackend(jobs())
    st = ServerThread(backend).start()
    link = Link(st.address)
    bridge = Bridge(link, Planner(), state_path=None)
    bridge.load()
    st.stop()
    with pytest.raises(LinkError):
        settle(bridge, lambda: False)
    link.close()


class SetClock:
    """A clock-set watch the test sets off: readable after `set()`."""

    def __init__(self):
        self.r, self.w = socket.socketpair()

    def set(self):
        self.w.send(b"x")

    def fileno(self):
        return self.r.fileno()

    def acknowledge(self):
        return self.r.recv(1) == b"x"

    def close(self):
        self.r.close()
        self.w.close()


def test_run_on_the_reactor_emits_follows_jobs_and_ends_when_init_goes_away(tmp_path):
    """`run` on a reactor: what is due at once is emitted, a job added while
    it runs is read from its signal, a set wall clock is noticed, and init
    going away ends it (LinkError)."""
    backend = MemoryBackend(jobs())
    st = ServerThread(backend).start()
    clock, logs, watch_fd = Clock(), [], SetClock()
    link = Link(st.address)
    bridge = Bridge(link, Planner(), state_path=None, wall=lambda: clock.wall,
                    mono=lambda: clock.mono, log=logs.append, clockwatch=watch_fd)
    bridge.load()
    clock.advance(10)                              # EVERY=10s is due
    loop = Reactor()
    seen = []

    def watch():
        if emitted_times(backend) and "CRON=0 * * * *" in bridge.planner.entries and \
                "Wall clock was set" in logs:
            seen.append("all")
            threading.Thread(target=st.stop).start()   # init goes away
            return
        loop.call_later(0.01, watch)

    def add_job():
        st.call(backend.add_job, ToyJob("hourly", start_on=[["time", "CRON=0 * * * *"]]))
    loop.call_soon(threading.Thread(target=add_job).start)
    loop.call_soon(watch_fd.set)
    loop.call_soon(watch)
    loop.call_later(10, loop.stop)                 # a safety net: the test fails, not hangs
    try:
        with pytest.raises(LinkError):
            bridge.run(loop)
    finally:
        loop.close()
        link.close()
        st.stop()
        watch_fd.close()
    assert seen == ["all"]
    assert emitted_times(backend)[0][1][0] == "EVERY=10s"


def test_connection_errors_and_address_choice():
    with pytest.raises(LinkError, match="Unable to connect to Upstart"):
        Link("unix:abstract=/upstart-py/test/nobody-here")
    assert choose_address(False, {}) == "unix:abstract=/com/ubuntu/upstart"
    assert choose_address(True, {"UPSTART_SESSION": "unix:abstract=/x"}) == \
        "unix:abstract=/x"
    with pytest.raises(LinkError, match="UPSTART_SESSION isn't set"):
        choose_address(True, {})


class RefusingLink:
    """An init that lists one job and refuses every EmitEvent."""

    conn = None

    def job_paths(self):
        return ["/com/ubuntu/Upstart/jobs/tick"]

    def job_conditions(self, path):
        return ("tick", [["time", "EVERY=1s"]], [])

    def emit(self, name, env):
        from upstart.control.client import CallError
        raise CallError("com.ubuntu.Upstart0_6.Error.PermissionDenied",
                        "You do not have permission to emit an event")


def test_a_refused_emit_is_logged_not_fatal():
    clock, logs = Clock(), []
    bridge = Bridge(RefusingLink(), Planner(), state_path=None, log=logs.append,
                    wall=lambda: clock.wall, mono=lambda: clock.mono)
    bridge.load()
    clock.advance(1)
    bridge.step()
    clock.advance(1)
    bridge.step()
    assert logs.count("Unable to emit time EVERY=1s: "
                      "You do not have permission to emit an event") == 2
