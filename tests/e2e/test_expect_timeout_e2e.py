"""End-to-end: `expect timeout` (issue #26, docs/design/tracking.md) with our
real init. A program declared `expect fork` that never forks fails the job
after the timeout, with a clear message, instead of leaving it in `spawned`
for ever; the process is killed."""

from __future__ import annotations

import time

from init_harness import SessionInit
from procfs import alive as _alive




def test_expect_fork_on_a_program_that_never_forks_fails_after_the_timeout(tmp_path):
    pidfile = tmp_path / "pid"
    marker = tmp_path / "failed"
    jobs = {
        "nofork": f"expect fork\nexpect timeout 1\n"
                  f"exec sh -c 'echo $$ > {pidfile}; exec sleep 60'\n",
        "watch": f"start on stopped nofork RESULT=failed\ntask\n"
                 f"exec sh -c 'echo $RESULT $PROCESS > {marker}'\n",
    }
    with SessionInit(jobs) as init:
        began = time.monotonic()
        out = init.initctl("start", "nofork", timeout=30)
        took = time.monotonic() - began
        assert out.returncode != 0, (out.stdout, out.stderr)
        assert "Job failed to start" in out.stderr
        assert 0.9 <= took < 15, took
        pid = int(pidfile.read_text())
        init.wait_for(lambda: "did not fork within 1 s (expect fork), stopping"
                      in init.init_log())
        assert f"nofork main process ({pid}) did not fork within 1 s" in init.init_log()
        init.wait_for(lambda: init.status("nofork") == "nofork stop/waiting")
        init.wait_for(lambda: not _alive(pid))
        init.wait_for(lambda: marker.exists() and marker.read_text())
        assert marker.read_text() == "failed main\n"


def test_a_daemon_that_forks_in_time_keeps_running(tmp_path):
    jobs = {"d": "expect fork\nexpect timeout 5\nexec sh -c 'sleep 60 & exit 0'\n"}
    with SessionInit(jobs) as init:
        init.ok("start", "d")
        pid = init.main_pid("d")
        assert pid is not None and _alive(pid)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"sleep"
        init.ok("stop", "d")
        init.wait_for(lambda: not _alive(pid))
        assert "did not fork" not in init.init_log()
