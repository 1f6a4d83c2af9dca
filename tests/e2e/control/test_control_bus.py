"""Serving on a message bus: a private dbus-daemon, init's server owning
com.ubuntu.Upstart on it, and initctl --session / our client in bus mode."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from upstart.control.client import Connection
from control_harness import ServerThread
from membackend import MemoryBackend, ToyJob

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None,
                                reason="dbus-daemon not installed")
BIN = Path(sys.executable).parent


@pytest.fixture
def bus(tmp_path):
    address = "unix:path=%s" % (tmp_path / "bus")
    proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1",
                             "--address=" + address], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        proc.stdout.readline()          # the address: the bus is ready
        yield address
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def served(bus):
    backend = MemoryBackend([ToyJob("svc")])
    with ServerThread(backend) as st:
        import asyncio
        unique = asyncio.run_coroutine_threadsafe(
            st.server.connect_bus(bus, label="session"), st.loop).result(10)
        assert unique.startswith(":")
        yield st, backend, bus


def initctl(bus, *argv):
    p = subprocess.run([str(BIN / "initctl"), "--session", *argv], capture_output=True,
                       text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "DBUS_SESSION_BUS_ADDRESS": bus})
    return p.returncode, p.stdout, p.stderr


def test_initctl_over_the_session_bus(served):
    st, backend, bus = served
    assert initctl(bus, "version") == (0, "init (upstart 1.13.2)\n", "")
    assert initctl(bus, "start", "svc") == (0, "svc start/running, process 1001\n", "")
    assert initctl(bus, "list") == (0, "svc start/running, process 1001\n", "")
    assert initctl(bus, "emit", "hello", "A=1") == (0, "", "")
    assert backend.emitted == [("hello", ["A=1"], None)]
    assert initctl(bus, "--dest=com.example.Nobody", "version")[0] == 1


def test_signals_reach_bus_clients(served):
    st, backend, bus = served
    with Connection(bus, bus=True, destination="com.ubuntu.Upstart") as c:
        c.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
               ("type='signal',interface='com.ubuntu.Upstart0_6'",),
               destination="org.freedesktop.DBus")
        c.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent", "sasb",
               ("ping", [], True))
        sig = c.next_signal()
        while sig.fields.get(3) != "EventEmitted":
            sig = c.next_signal()
        assert sig.body == ["ping", []]


def test_name_already_taken(served):
    st, backend, bus = served
    with ServerThread(MemoryBackend([])) as other:
        import asyncio
        with pytest.raises(OSError, match="Name already taken"):
            asyncio.run_coroutine_threadsafe(other.server.connect_bus(bus), other.loop
                                             ).result(10)


def test_initctl_without_init_on_the_bus(bus):
    rc, out, err = initctl(bus, "version")
    assert (rc, out) == (1, "")
    assert err.startswith("initctl: ")
