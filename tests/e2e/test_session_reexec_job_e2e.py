"""The session `re-exec` job (jobs/session/re-exec.conf): `:sys:restarted`
makes a real Session Init re-execute itself over D-Bus `Restart`, keeping
its jobs' processes, as 1.13's session job does."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from init_harness import BIN, DEFAULT_PATH, kill_family
from waiting import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(not shutil.which("dbus-send"), reason="dbus-send not installed")
def test_sys_restarted_re_executes_the_session_init_and_jobs_keep_their_pids():
    tmp = tempfile.mkdtemp(prefix="upstart-reexec-job-")
    proc = None
    try:
        for d in ("conf", "xdg", "home", "log"):
            os.makedirs(os.path.join(tmp, d), mode=0o700)
        shutil.copy(os.path.join(REPO, "jobs", "session", "re-exec.conf"),
                    os.path.join(tmp, "conf"))
        with open(os.path.join(tmp, "conf", "svc.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": os.path.join(tmp, "home"),
               "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg")}
        log = open(os.path.join(tmp, "init.log"), "w+")
        proc = subprocess.Popen([os.path.join(BIN, "init"), "--user", "--confdir",
                                 os.path.join(tmp, "conf"), "--logdir", os.path.join(tmp, "log"),
                                 "--no-dbus", "--verbose"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        cenv = {"PATH": BIN + ":" + DEFAULT_PATH,
                "UPSTART_SESSION": f"unix:abstract=/com/ubuntu/upstart-session/"
                                   f"{os.getuid()}/{proc.pid}"}

        def initctl(*args):
            out = subprocess.run([os.path.join(BIN, "initctl"), *args], env=cenv,
                                 capture_output=True, text=True)
            return out if out.returncode == 0 else None

        before = wait_for(lambda: initctl("start", "svc"), timeout=30).stdout.strip()
        assert before.startswith("svc start/running, process ")
        assert initctl("emit", "--no-wait", ":sys:restarted") is not None

        def re_executed():
            with open(log.name) as f:
                text = f.read()
            return text.count("Re-executing") == 1 and initctl("status", "svc")
        after = wait_for(re_executed, timeout=60)
        assert after.stdout.strip() == before           # the same process, still running
        assert proc.poll() is None                      # the same init pid, re-executed
        status = wait_for(lambda: initctl("status", "re-exec"), timeout=30)
        assert status.stdout.strip() == "re-exec stop/waiting"
    finally:
        kill_family(proc)
        shutil.rmtree(tmp, ignore_errors=True)
