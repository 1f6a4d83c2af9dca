"""A Session Init's end in 1.13's phases (DM-22, spec 05 §8, `init/quiesce.c`),
against the real daemon: `EndSession` (logout) lets every job run for up to
5 s so that `session-end` jobs do their work, then stops them all and waits
for the longest kill timeout; SIGTERM (shutdown) stops them at once. The log
says `Quiescing due to <kind> request`, and names each instance still there
at the end (`job <name> failed to stop`); init exits 0."""

from __future__ import annotations

import os
import signal
import time

from init_harness import SessionInit

from upstart.control import client

# every job process sleeps this long: found and killed after (unique to this
# test process, so that tests run side by side never kill each other's jobs)
MARK = str(1000000 + os.getpid())


def end_session(init: SessionInit) -> None:
    with client.connect(init.address) as conn:
        conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "EndSession")


def kill_marked() -> None:
    """The job processes a quiesce left behind (init has exited)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", MARK.encode()]:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def wait_exit(init: SessionInit) -> int:
    try:
        return init.proc.wait(timeout=60)
    finally:
        kill_marked()


def test_logout_gives_session_end_jobs_time_then_stops_everything(tmp_path):
    farewell = tmp_path / "farewell"
    jobs = {
        "svc": f"exec sleep {MARK}\n",
        "abstract": "start on go\n",
        "farewell": "start on session-end\ntask\n"
                    f"exec sh -c 'echo \"$TYPE $(initctl status svc)\" > {farewell}'\n",
    }
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        assert init.initctl("start", "svc").returncode == 0
        assert init.initctl("emit", "go").returncode == 0
        began = time.monotonic()
        end_session(init)
        assert wait_exit(init) == 0
        took = time.monotonic() - began
        log = init.init_log()
    assert "init: Quiescing due to logout request" in log
    # the WAIT phase: svc still ran while the session-end job did its work ...
    assert farewell.read_text().startswith("logout svc start/running, process ")
    # ... for 5 s; then the KILL phase stopped it (TERM was enough)
    assert took >= 5, took
    assert "svc main process" in log and "killed by TERM signal" in log
    assert "failed to stop" not in log


def test_logout_ends_at_once_when_no_job_has_a_process(tmp_path):
    """Abstract jobs hold nothing up: without a process left the WAIT phase
    ends without the KILL phase, and 1.13 names the instances left."""
    jobs = {"abstract": "start on go\n", "inst": "start on go\ninstance $N\n"}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        assert init.initctl("emit", "go", "N=one").returncode == 0
        end_session(init)
        assert wait_exit(init) == 0
        log = init.init_log()
    assert "init: Quiescing due to logout request" in log
    assert "init: job abstract failed to stop" in log     # never stopped: no KILL phase
    assert "init: job inst (one) failed to stop" in log


def test_sigterm_stops_at_once_and_waits_only_the_longest_kill_timeout():
    jobs = {
        # TERM is ignored: the kill timeout's SIGKILL ends it
        "deaf": f"kill timeout 1\nexec sh -c 'trap \"\" TERM; sleep {MARK} & wait; wait'\n",
        # its pre-stop never ends: the job cannot stop, init leaves after 2 s
        "stuck": f"kill timeout 1\npre-stop exec sleep {MARK}\nexec sleep {MARK}\n",
    }
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        for job in jobs:
            assert init.initctl("start", job).returncode == 0
        init.proc.send_signal(signal.SIGTERM)
        assert wait_exit(init) == 0
        log = init.init_log()
    assert "init: Quiescing due to shutdown request" in log
    assert "deaf main process" in log and "killed by KILL signal" in log
    assert "init: job stuck failed to stop" in log
    assert "job deaf failed to stop" not in log
