"""upstart-dconf-bridge against the real daemon, a real `dbus-daemon --session`
and Debian's dconf (spec 06 §7, issue #25 item 2).

`dconf write` (dconf-cli) asks the bus-activated `dconf-service` to change a
key; the service announces it with `ca.desrt.dconf.Writer.Notify`; the bridge,
a job of a real Session Init, emits `dconf TYPE=changed KEY= VALUE=`. Every
dconf file lives in the test's own directories.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from init_harness import BIN, SessionInit
from procfs import read

pytestmark = pytest.mark.skipif(
    not (shutil.which("dbus-daemon") and shutil.which("dconf")
         and os.path.exists("/usr/libexec/dconf-service")),
    reason="needs dbus-daemon, dconf-cli and dconf-service (tools/setup-system.sh)")




@pytest.fixture
def session_bus(tmp_path):
    """A session bus whose activated dconf-service writes under tmp_path."""
    home = tmp_path / "home"
    env = {"PATH": os.environ["PATH"], "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    for d in (home, tmp_path / "run"):
        d.mkdir(mode=0o700)
    proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address",
                             "--address=unix:path=%s" % (tmp_path / "bus")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        yield env
    finally:
        service = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split()
        proc.kill()
        proc.wait()
        for pid in service:                      # dconf-service, activated by the bus
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass


def dconf(env, *args: str) -> None:
    r = subprocess.run(["dconf", *args], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def bridge_job(env, extra: str = "") -> str:
    return "".join("env %s=%s\n" % (k, env[k]) for k in
                   ("DBUS_SESSION_BUS_ADDRESS", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR")) + \
        "respawn\nexec upstart-dconf-bridge --debug %s\n" % extra


def recorder(out) -> str:
    return ("start on dconf\ntask\ninstance $KEY$VALUE\n"
            "exec sh -c 'echo \"$TYPE|$KEY|$VALUE\" >> %s'\n" % out)


def test_a_dconf_write_becomes_a_dconf_event(session_bus, tmp_path):
    out = tmp_path / "out"
    with SessionInit(jobs={"db": bridge_job(session_bus), "t": recorder(out)}) as init:
        assert init.initctl("start", "db").returncode == 0

        n = iter(range(1000))

        def written_and_seen():                  # dconf announces real changes only
            dconf(session_bus, "write", "/test/greeting", "'hello %d'" % next(n))
            return "/test/greeting" in read(out)
        init.wait_for(written_and_seen)
        first = read(out).splitlines()[0]
        assert first.startswith("changed|/test/greeting|'hello ") and first.endswith("'")
        # no type annotations (1.13 prints without them), strings untouched
        dconf(session_bus, "write", "/test/n", "uint32 5")
        dconf(session_bus, "write", "/test/list", "[uint32 1, 2]")
        dconf(session_bus, "write", "/test/text", "'uint32 7'")
        dconf(session_bus, "reset", "/test/greeting")
        want = {"changed|/test/n|5", "changed|/test/list|[1, 2]",
                "changed|/test/text|'uint32 7'", "changed|/test/greeting|"}
        init.wait_for(lambda: want <= set(read(out).splitlines()))


def test_no_event_until_a_job_mentions_dconf_unless_always(session_bus, tmp_path):
    out = tmp_path / "out"
    with SessionInit(jobs={"db": bridge_job(session_bus)}) as init:
        assert init.initctl("start", "db").returncode == 0
        log = os.path.join(init.log, "db.log")

        n = iter(range(1000))

        def dropped():
            dconf(session_bus, "write", "/test/early", str(next(n)))
            return "/test/early changed; no job waits for dconf" in read(log)
        init.wait_for(dropped)
        with open(os.path.join(init.conf, "t.conf"), "w") as f:
            f.write(recorder(out))
        def written_and_seen():                  # once the bridge has seen the new job
            dconf(session_bus, "write", "/test/late", str(next(n)))
            return "/test/late" in read(out)
        init.wait_for(written_and_seen)
        assert "/test/early" not in read(out)
    with SessionInit(jobs={"db": bridge_job(session_bus, "--always")}) as init:
        assert init.initctl("start", "db").returncode == 0
        events = init.events

        def written_and_emitted():
            dconf(session_bus, "write", "/test/always", str(next(n)))
            return "KEY=/test/always" in read(events)
        init.wait_for(written_and_emitted)
        assert "no job waits" not in read(os.path.join(init.log, "db.log"))


def test_session_bus_missing_is_fatal(tmp_path):
    with SessionInit() as init:
        env = {k: v for k, v in init.command_env().items()
               if k != "DBUS_SESSION_BUS_ADDRESS"}
        r = subprocess.run([os.path.join(BIN, "upstart-dconf-bridge")], env=env, capture_output=True,
                           text=True, timeout=30)
        assert (r.returncode, r.stderr) == (
            1, "upstart-dconf-bridge: DBUS_SESSION_BUS_ADDRESS isn't set in environment\n")
