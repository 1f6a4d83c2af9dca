"""The stock `wait-for-state` job (jobs/wait-for-state.conf) on a real
Session Init: it starts the job waited for and returns once it runs; it
returns at once when the job already runs; WAIT_STATE=stopped waits for a
stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from init_harness import BIN, DEFAULT_PATH, kill_family
from waiting import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_wait_for_state_starts_waits_and_sees_a_stop():
    tmp = tempfile.mkdtemp(prefix="upstart-wfs-")
    proc = None
    try:
        for d in ("conf", "xdg", "home", "log"):
            os.makedirs(os.path.join(tmp, d), mode=0o700)
        shutil.copy(os.path.join(REPO, "jobs", "wait-for-state.conf"), os.path.join(tmp, "conf"))
        with open(os.path.join(tmp, "conf", "svc.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": os.path.join(tmp, "home"),
               "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg")}
        proc = subprocess.Popen([os.path.join(BIN, "init"), "--user", "--confdir",
                                 os.path.join(tmp, "conf"), "--logdir", os.path.join(tmp, "log"),
                                 "--no-dbus"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        cenv = {"PATH": BIN + ":" + DEFAULT_PATH,
                "UPSTART_SESSION": f"unix:abstract=/com/ubuntu/upstart-session/"
                                   f"{os.getuid()}/{proc.pid}"}

        def initctl(*args, timeout=60):
            return subprocess.run([os.path.join(BIN, "initctl"), *args], env=cenv,
                                  capture_output=True, text=True, timeout=timeout)

        wait_for(lambda: initctl("version").returncode == 0, timeout=30)
        # not running yet: started, and `start` returns once it runs
        assert initctl("start", "wait-for-state", "WAITER=a", "WAIT_FOR=svc").returncode == 0
        assert initctl("status", "svc").stdout.startswith("svc start/running, process ")
        # already running: returns at once
        assert initctl("start", "wait-for-state", "WAITER=b", "WAIT_FOR=svc").returncode == 0
        # wait for a stop, which it asks for
        out = initctl("start", "wait-for-state", "WAITER=c", "WAIT_FOR=svc",
                      "WAIT_STATE=stopped")
        assert out.returncode == 0, out.stderr
        assert initctl("status", "svc").stdout.strip() == "svc stop/waiting"
        # no instance is left behind
        assert "wait-for-state (" not in initctl("list").stdout
        assert initctl("start", "wait-for-state", "WAITER=d").returncode != 0   # no WAIT_FOR
    finally:
        kill_family(proc)
        shutil.rmtree(tmp, ignore_errors=True)
