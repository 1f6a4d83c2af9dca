"""Access control end to end (issue #11): an ordinary user may look at the
system init but not change it, and fully controls its own Session Init."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from init_harness import BIN, DEFAULT_PATH, Pid1Init, kill_family
from waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root and setpriv to act as another user")

UID = 4242  # no passwd entry needed: the kernel reports the uid, not a name


def as_user(*cmd: str) -> list[str]:
    return ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *cmd]


def test_ordinary_user_may_look_but_not_touch_system_init():
    with Pid1Init(jobs={"svc": "exec sleep 100000\n"}) as init:
        assert init.run("initctl", "start", "svc").returncode == 0
        status = init.run(*as_user("initctl", "status", "svc"))
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("svc start/running, process ")
        listing = init.run(*as_user("initctl", "list"))
        assert "svc start/running" in listing.stdout
        refused = init.run(*as_user("stop", "svc"))
        assert refused.returncode == 1
        assert refused.stderr.startswith(
            "stop: Rejected: com.ubuntu.Upstart0_6.Job.Stop changes the state of init")
        assert f"you are uid {UID}" in refused.stderr
        emit = init.run(*as_user("initctl", "emit", "boom"))
        assert emit.returncode == 1 and "Rejected: com.ubuntu.Upstart0_6.EmitEvent" in emit.stderr
        # nothing changed
        assert init.run("initctl", "status", "svc").stdout == status.stdout


def test_user_controls_own_session_init():
    tmp = tempfile.mkdtemp(prefix="upstart-user-")
    proc = None
    try:
        for d in ("conf", "log", "xdg", "home"):
            os.makedirs(os.path.join(tmp, d), mode=0o700)
        with open(os.path.join(tmp, "conf", "mine.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        for root, dirs, files in os.walk(tmp):
            for name in dirs + files:
                os.chown(os.path.join(root, name), UID, UID)
        os.chown(tmp, UID, UID)
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": os.path.join(tmp, "home"),
               "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg")}
        proc = subprocess.Popen(as_user(os.path.join(BIN, "init"), "--user", "--confdir",
                                        os.path.join(tmp, "conf"), "--logdir",
                                        os.path.join(tmp, "log"), "--no-dbus",
                                        "--no-startup-event"),
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cenv = {"PATH": BIN + ":" + DEFAULT_PATH,
                "UPSTART_SESSION": f"unix:abstract=/com/ubuntu/upstart-session/{UID}/{proc.pid}"}

        def initctl(*args):
            return subprocess.run(as_user(os.path.join(BIN, "initctl"), *args), env=cenv,
                                  capture_output=True, text=True, timeout=20)

        wait_for(lambda: initctl("version").returncode == 0)
        started = initctl("start", "mine")
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("mine start/running, process ")
        pid = int(started.stdout.rsplit(" ", 1)[1])
        assert os.stat(f"/proc/{pid}").st_uid == UID
        stopped = initctl("stop", "mine")
        assert stopped.stdout == "mine stop/waiting\n"
        # without UPSTART_SESSION (a login shell), the user's initctl finds its
        # own Session Init through the session file
        found = subprocess.run(as_user(os.path.join(BIN, "initctl"), "status", "mine"),
                               env={"PATH": cenv["PATH"],
                                    "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg")},
                               capture_output=True, text=True, timeout=20)
        assert found.returncode == 0, found.stderr
        assert found.stdout == "mine stop/waiting\n"
        listed = subprocess.run(as_user(os.path.join(BIN, "initctl"), "list-sessions"),
                                env={"PATH": cenv["PATH"],
                                     "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg")},
                                capture_output=True, text=True, timeout=20)
        assert listed.stdout == f"{proc.pid} {cenv['UPSTART_SESSION']}\n"
        # root's initctl is another user to this session: libdbus's rule, kept
        other = subprocess.run([os.path.join(BIN, "initctl"), "list"], env=cenv,
                               capture_output=True, text=True, timeout=20)
        assert other.returncode == 1
    finally:
        kill_family(proc)
        shutil.rmtree(tmp, ignore_errors=True)
