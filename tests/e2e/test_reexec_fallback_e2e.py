"""Stateful re-exec that receives damaged state falls back to a clean start
(issue #6): init logs why, loads its configuration from disk and serves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest
from init_harness import BIN, DEFAULT_PATH, kill_family
from waiting import wait_for


@pytest.mark.parametrize("state", [b"{not json", json.dumps({"version": 999}).encode()],
                         ids=["damaged", "other-version"])
def test_bad_state_falls_back_to_clean_start(state):
    tmp = tempfile.mkdtemp(prefix="upstart-reexec-")
    proc = None
    try:
        for d in ("conf", "xdg", "home", "log"):
            os.makedirs(os.path.join(tmp, d), mode=0o700)
        with open(os.path.join(tmp, "conf", "svc.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        r, w = os.pipe()
        os.write(w, state)
        os.close(w)
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": os.path.join(tmp, "home"),
               "XDG_RUNTIME_DIR": os.path.join(tmp, "xdg")}
        log = open(os.path.join(tmp, "init.log"), "w+")
        proc = subprocess.Popen([os.path.join(BIN, "init"), "--user", "--confdir",
                                 os.path.join(tmp, "conf"), "--logdir", os.path.join(tmp, "log"),
                                 "--no-dbus", "--restart", "--state-fd", str(r)],
                                env=env, pass_fds=(r,), stdout=log, stderr=subprocess.STDOUT)
        os.close(r)
        cenv = {"PATH": BIN + ":" + DEFAULT_PATH,
                "UPSTART_SESSION": f"unix:abstract=/com/ubuntu/upstart-session/"
                                   f"{os.getuid()}/{proc.pid}"}
        def start_svc():
            out = subprocess.run([os.path.join(BIN, "initctl"), "start", "svc"], env=cenv,
                                 capture_output=True, text=True)
            return out if out.returncode == 0 else None
        out = wait_for(start_svc, timeout=15)
        assert out.stdout.startswith("svc start/running, process ")
        log.flush()
        with open(log.name) as f:
            text = f.read()
        assert "Failed to read serialisation data - reverting to stateless re-exec" in text
    finally:
        kill_family(proc)
        shutil.rmtree(tmp, ignore_errors=True)
