"""init on a message bus that goes away and comes back (issue #25: DM-14, CT-21,
DM-01), against the real daemon and a real `dbus-daemon`.

* DM-14 (spec 05 §5.7): init notices the bus connection drop (`Disconnected from
  D-Bus ... bus`) and joins the bus again when told: SIGUSR1 for the system init
  (PID 1 here, as 1.13's dbus job does), `NotifyDBusAddress` for a Session Init.
* CT-21: `initctl notify-dbus-address ADDRESS` against the daemon.
* DM-01 (05 §5.4): a Session Init on a bus calls `UpdateActivationEnvironment`
  when `set-env` changes a global variable: a service the bus activates sees it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile

import pytest
from init_harness import DEFAULT_PATH, Pid1Init, SessionInit, kill_family

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon") or not shutil.which("dbus-send"),
                                reason="needs dbus-daemon and dbus-send")

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <!-- the probe never takes its name: give up on it quickly -->
  <limit name="service_start_timeout">300</limit>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class Bus:
    """A dbus-daemon on `unix:path=<dir>/bus`, started and stopped by the test;
    it activates `org.example.Probe`, which writes its $FOO to `<dir>/probe.out`."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="upstart-bus-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "bus")
        self.address = f"unix:path={self.socket}"
        self.out = os.path.join(self.dir, "probe.out")
        services = os.path.join(self.dir, "services")
        os.makedirs(services)
        probe = os.path.join(self.dir, "probe.sh")
        with open(probe, "w") as f:
            f.write(f'#!/bin/sh\necho "$FOO" > {self.out}.new && mv {self.out}.new {self.out}\n')
        os.chmod(probe, 0o755)
        with open(os.path.join(services, "org.example.Probe.service"), "w") as f:
            f.write(f"[D-BUS Service]\nName=org.example.Probe\nExec={probe}\n")
        self.config = os.path.join(self.dir, "bus.conf")
        with open(self.config, "w") as f:
            f.write(_CONFIG.format(socket=self.socket, services=services))
        self.proc = None
        self.start()

    def start(self) -> None:
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.proc = subprocess.Popen(["dbus-daemon", f"--config-file={self.config}", "--nofork",
                                      "--nopidfile", "--print-address=1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip(), "dbus-daemon did not start"

    def stop(self) -> None:
        kill_family(self.proc)
        self.proc.stdout.close()

    def send(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["dbus-send", f"--bus={self.address}", "--print-reply", *args],
                              env={"PATH": DEFAULT_PATH}, capture_output=True, text=True,
                              timeout=20)

    def init_version(self) -> str:
        """init's `version` property asked through the bus ("" when nobody owns
        com.ubuntu.Upstart there)."""
        out = self.send("--dest=com.ubuntu.Upstart", "/com/ubuntu/Upstart",
                        "org.freedesktop.DBus.Properties.Get",
                        "string:com.ubuntu.Upstart0_6", "string:version")
        return out.stdout.split('"')[1] if out.returncode == 0 else ""

    def owned(self) -> bool:
        out = self.send("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner", "string:com.ubuntu.Upstart")
        assert out.returncode == 0, out.stderr
        return "boolean true" in out.stdout

    def upstart_owner(self) -> str:
        """The unique name that owns com.ubuntu.Upstart ("" if none)."""
        out = self.send("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.GetNameOwner", "string:com.ubuntu.Upstart")
        return out.stdout.split('"')[1] if out.returncode == 0 else ""

    def probe_foo(self) -> str | None:
        """Have the bus activate the probe; what it saw as $FOO, once written."""
        self.send("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                  "org.freedesktop.DBus.StartServiceByName", "string:org.example.Probe",
                  "uint32:0")
        try:
            with open(self.out) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


VERSION = "init (upstart 1.13.2)"


def test_session_init_joins_a_notified_bus_and_again_after_it_restarts():
    with Bus() as bus, SessionInit() as init:
        assert not bus.owned()                 # --no-dbus, no address: not on a bus
        out = init.initctl("notify-dbus-address", bus.address)        # CT-21
        assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
        init.wait_for(lambda: bus.init_version() == VERSION)

        # DM-01: a global variable set reaches the bus's activation environment
        assert init.initctl("set-env", "FOO=from-the-session-init").returncode == 0
        init.wait_for(lambda: bus.probe_foo() == "from-the-session-init")

        # DM-14: the bus goes away; init notices and says so
        bus.stop()
        init.wait_for(lambda: "Disconnected from D-Bus notified bus" in init.init_log())
        bus.start()
        assert not bus.owned()                 # init rejoins only when told
        assert init.initctl("notify-dbus-address", bus.address).returncode == 0
        init.wait_for(lambda: bus.init_version() == VERSION)
        # still one connection: a second notification while connected is ignored
        assert init.initctl("notify-dbus-address", bus.address).returncode == 0
        assert init.initctl("set-env", "FOO=again").returncode == 0
        init.wait_for(lambda: bus.probe_foo() == "again")
        assert init.init_log().count("Disconnected from D-Bus") == 1


def test_pid1_rejoins_the_system_bus_on_sigusr1():
    with Bus() as bus, Pid1Init(env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address}) as init:
        init.wait_for(lambda: bus.init_version() == VERSION)     # joined at start-up
        bus.stop()
        init.wait_for(lambda: "Disconnected from D-Bus system bus" in init.kmsg())
        bus.start()
        assert not bus.owned()
        init.signal(signal.SIGUSR1)
        init.wait_for(lambda: bus.init_version() == VERSION)
        # PID 1 may not be pointed elsewhere (1.13's rule)
        out = init.run("initctl", "notify-dbus-address", bus.address)
        assert out.returncode == 1
        assert "Not permissible to notify D-Bus address for PID 1" in out.stderr


def test_restart_keeps_the_bus_connection():
    """Issue #22 item 4, "and the bus connection where possible": across a
    re-exec the Session Init keeps its bus connection (the same unique name owns
    com.ubuntu.Upstart before and after) and goes on serving there."""
    from upstart.control.client import CallError, Connection

    with Bus() as bus, SessionInit() as init:
        assert init.initctl("notify-dbus-address", bus.address).returncode == 0
        init.wait_for(lambda: bus.init_version() == VERSION)
        owner = bus.upstart_owner()
        assert owner.startswith(":")
        conn = Connection(init.address)
        with pytest.raises(CallError) as err:
            conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "Restart")
        conn.close()
        assert err.value.name == "org.freedesktop.DBus.Error.NoReply"
        assert init.initctl("version").returncode == 0         # the new init answers
        assert bus.init_version() == VERSION
        assert bus.upstart_owner() == owner
        assert init.initctl("set-env", "FOO=after-restart").returncode == 0
        init.wait_for(lambda: bus.probe_foo() == "after-restart")
