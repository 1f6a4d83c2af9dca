"""The bridge's connection: replies, signals, disconnection, and the
bounded emitter (window, backlog, duplicate suppression, dropping)."""

import io

import pytest

from upstart.bridges.common import Log
from upstart.bridges.link import Link
from upstart.control.client import CallError
from upstart.reactor.futures import wait_for
from upstart.reactor.loop import run

from bridge_peer import SilentPeer
from waiting import pause, until




@pytest.fixture
def peer():
    p = SilentPeer()
    yield p
    p.close()


def emitted_names(peer):
    return [m.body[0] for m in peer.calls("EmitEvent")]


def test_window_backlog_duplicates_and_drops(peer):
    out = io.StringIO()

    async def scenario():
        link = Link.open(peer.address, Log("t", stream=out), window=2, backlog=3)
        for name in ("e1", "e2", "e3", "e4", "e5", "e6"):
            link.emit(name, ["K=1"])
        link.emit("e3", ["K=1"])                  # already waiting: not queued twice
        await until(lambda: len(peer.calls("EmitEvent")) == 2)
        await pause(0.1)
        assert emitted_names(peer) == ["e1", "e2"]
        assert link.statistics() == {"in_flight": 2, "backlog": 3, "emitted": 2, "dropped": 1}
        for _ in range(3):
            for msg in peer.calls("EmitEvent")[-2:]:
                peer.reply(msg)
            await pause(0.05)
        await until(lambda: len(peer.calls("EmitEvent")) == 5)
        for msg in peer.calls("EmitEvent")[-1:]:
            peer.reply(msg)
        await until(lambda: link.in_flight == 0)
        assert emitted_names(peer) == ["e1", "e2", "e3", "e4", "e5"]
        assert all(m.body[1:] == [["K=1"], False] for m in peer.calls("EmitEvent"))
        link.close()

    run(scenario())
    assert out.getvalue() == "t: Too many pending events; dropping e6\n"


def test_wait_and_fd_emits_bypass_the_window(peer, tmp_path):
    async def scenario():
        link = Link.open(peer.address, Log("t"), window=1, unix_fd=True)
        link.emit("a", [])
        with open(tmp_path / "f", "w") as f:
            fut = link.emit("sock", ["PROTO=inet"], wait=True, fd=f.fileno())
        await until(lambda: len(peer.calls("EmitEventWithFile")) == 1)
        msg = peer.calls("EmitEventWithFile")[0]
        assert msg.body == ["sock", ["PROTO=inet"], True, 0]
        peer.error(msg, "com.ubuntu.Upstart0_6.Error.EventFailed", "Event failed")
        with pytest.raises(CallError, match="Event failed"):
            await fut
        link.close()

    run(scenario())


def test_signals_reach_handlers_and_loss_fails_pending_calls(peer):
    async def scenario():
        link = Link.open(peer.address, Log("t"))
        seen = []
        link.on_signal(lambda m: seen.append((m.fields[3], m.body)))
        fut = link.call("/x", "org.x", "Slow")
        await until(lambda: peer.calls("Slow"))
        peer.signal("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "JobAdded", "o",
                    ("/com/ubuntu/Upstart/jobs/a",))
        await until(lambda: seen)
        assert seen == [("JobAdded", ["/com/ubuntu/Upstart/jobs/a"])]
        peer.hangup()
        await wait_for(link.loop, link.closed, 5)
        with pytest.raises(CallError) as err:
            await fut
        assert err.value.name == "org.freedesktop.DBus.Error.Disconnected"
        assert link.call("/x", "org.x", "Later").exception() is not None

    run(scenario())


def test_transitions_are_not_coalesced_in_the_backlog(peer):
    async def scenario():
        link = Link.open(peer.address, Log("t"), window=1, backlog=10)
        link.emit("busy", [])
        for name in ("net-device-up", "net-device-down", "net-device-up"):
            link.emit(name, ["IFACE=eth0"], coalesce=False)
        link.emit("x", ["K=1"])
        link.emit("x", ["K=1"])                   # coalesced as before
        assert link.statistics()["backlog"] == 4
        for count in range(1, 6):
            await until(lambda n=count: len(peer.calls("EmitEvent")) == n)
            peer.reply(peer.calls("EmitEvent")[-1])
        await until(lambda: link.in_flight == 0)
        assert emitted_names(peer) == ["busy", "net-device-up", "net-device-down",
                                       "net-device-up", "x"]
        link.close()

    run(scenario())
