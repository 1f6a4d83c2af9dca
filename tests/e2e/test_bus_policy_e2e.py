"""The system-bus policy we ship (`upstart/data/com.ubuntu.Upstart.conf`, spec 05
§5.6, DM-13) in a real `dbus-daemon` with the system bus's default-deny policy,
with our init as PID 1 on it: every user may look, only root may act or own the
name; the bus daemon itself enforces it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from init_harness import DEFAULT_PATH, REPO, Pid1Init

pytestmark = pytest.mark.skipif(
    not (shutil.which("dbus-daemon") and shutil.which("dbus-send") and shutil.which("setpriv")
         and os.geteuid() == 0), reason="needs root, dbus-daemon, dbus-send and setpriv")

POLICY = os.path.join(REPO, "upstart", "data", "com.ubuntu.Upstart.conf")

# Debian's /usr/share/dbus-1/system.conf default policy, on a socket of our own
CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""


@pytest.fixture
def system_bus():
    d = tempfile.mkdtemp(prefix="upstart-sysbus-")
    os.chmod(d, 0o755)
    with open(os.path.join(d, "system.conf"), "w") as f:
        f.write(CONFIG.format(socket=os.path.join(d, "bus"), policy=POLICY))
    proc = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(d, "system.conf"),
                             "--nofork", "--print-address"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:")
        yield address
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def send(address: str, *args: str, nobody: bool = False) -> subprocess.CompletedProcess:
    who = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if nobody else []
    return subprocess.run([*who, "dbus-send", "--bus=" + address, "--print-reply", *args],
                          env={"PATH": DEFAULT_PATH}, capture_output=True, text=True,
                          timeout=30)


UPSTART = ["--dest=com.ubuntu.Upstart", "/com/ubuntu/Upstart"]


def test_every_user_may_look_only_root_may_act_or_own_the_name(system_bus):
    with Pid1Init(jobs={"j": "exec sleep 100000\n"},
                  env={"DBUS_SYSTEM_BUS_ADDRESS": system_bus}) as init:
        init.wait_for(lambda: send(system_bus, "--dest=org.freedesktop.DBus", "/",
                                   "org.freedesktop.DBus.NameHasOwner",
                                   "string:com.ubuntu.Upstart").stdout.rstrip()
                      .endswith("true"))
        looked = send(system_bus, *UPSTART, "com.ubuntu.Upstart0_6.GetJobByName", "string:j",
                      nobody=True)
        assert looked.returncode == 0 and "/com/ubuntu/Upstart/jobs/j" in looked.stdout
        props = send(system_bus, *UPSTART, "org.freedesktop.DBus.Properties.Get",
                     "string:com.ubuntu.Upstart0_6", "string:version", nobody=True)
        assert props.returncode == 0, props.stderr
        emit = ["com.ubuntu.Upstart0_6.EmitEvent", "string:poke", "array:string:",
                "boolean:false"]
        refused = send(system_bus, *UPSTART, *emit, nobody=True)
        assert refused.returncode == 1
        assert "org.freedesktop.DBus.Error.AccessDenied" in refused.stderr
        assert "Rejected send message" in refused.stderr
        start = send(system_bus, "--dest=com.ubuntu.Upstart", "/com/ubuntu/Upstart/jobs/j",
                     "com.ubuntu.Upstart0_6.Job.Start", "array:string:", "boolean:true",
                     nobody=True)
        assert "AccessDenied" in start.stderr
        own = send(system_bus, "--dest=org.freedesktop.DBus", "/",
                   "org.freedesktop.DBus.RequestName", "string:com.ubuntu.Upstart", "uint32:4",
                   nobody=True)
        assert own.returncode == 1 and "AccessDenied" in own.stderr
        assert send(system_bus, *UPSTART, *emit).returncode == 0         # root may
        assert init.run("initctl", "status", "j").stdout.startswith("j stop/waiting")
