"""`ready on`, the `ready` event and state, end to end (issue #8, core half).

Only event sources here (`ready on started dep`, bare `ready on`, `ready
timeout`); the file/socket/dbus/notify sources belong to upstart/readiness.
Our real `init --user` runs per test; the harness kills it and its children.
"""

from __future__ import annotations

import time

from init_harness import SessionInit

SVC = "exec sleep 1000\n"


def test_ready_on_event_drives_start_on_ready_and_while_ready():
    jobs = {
        "dep": SVC,
        "r": "ready on started dep\n" + SVC,
        "after": "start on ready r\n" + SVC,
        "w": "while ready r\n" + SVC,
    }
    with SessionInit(jobs) as init:
        init.ok("start", "r")
        init.wait_for(lambda: init.running("r"))
        init.ok("emit", "barrier")              # any event r's start queued is handled
        assert init.status("after") == "after stop/waiting"
        assert init.status("w") == "w stop/waiting"
        assert "ready JOB=r INSTANCE=" not in init.ok("list-states")

        init.ok("start", "dep")
        init.wait_for(lambda: init.running("after") and init.running("w"))
        assert "ready JOB=r INSTANCE=" in init.ok("list-states").splitlines()

        init.ok("stop", "r")
        init.wait_for(lambda: init.status("w") == "w stop/waiting")
        assert init.running("after")            # an event, not a state: it stays


def test_bare_ready_on_emits_ready_right_after_started():
    jobs = {"b": "ready on\n" + SVC, "after": "start on ready b\n" + SVC}
    with SessionInit(jobs) as init:
        init.ok("start", "b")
        init.wait_for(lambda: init.running("after"))


def test_ready_timeout_fails_job_with_process_ready(tmp_path):
    marker = tmp_path / "failed"
    jobs = {
        "rt": "ready on never-happens\nready timeout 1\n" + SVC,
        "watch": f"start on stopped rt RESULT=failed PROCESS=ready\ntask\n"
                 f"exec sh -c 'echo $RESULT $PROCESS > {marker}'\n",
    }
    with SessionInit(jobs) as init:
        init.ok("start", "rt")
        assert init.running("rt")
        init.wait_for(lambda: marker.exists() and marker.read_text(), timeout=10)
        assert marker.read_text() == "failed ready\n"
        assert init.status("rt") == "rt stop/waiting"


def test_ready_before_timeout_keeps_job_running():
    jobs = {"dep": SVC, "rt": "ready on started dep\nready timeout 1\n" + SVC}
    with SessionInit(jobs) as init:
        init.ok("start", "rt")
        init.ok("start", "dep")
        time.sleep(1.5)
        assert init.running("rt")


def test_while_ready_of_job_without_ready_stanza_follows_running():
    jobs = {"plain": SVC, "w": "while ready plain\n" + SVC}
    with SessionInit(jobs) as init:
        init.ok("start", "plain")
        init.wait_for(lambda: init.running("w"))
        init.ok("stop", "plain")
        init.wait_for(lambda: init.status("w") == "w stop/waiting")


def test_status_shows_readiness_on_a_line_of_its_own():
    """`initctl status` keeps its first line and adds readiness below it."""
    from init_harness import SessionInit

    jobs = {"dep": "exec sleep 100000\n",
            "r": "ready on started dep\nexec sleep 100000\n",
            "plain": "exec sleep 100000\n"}
    with SessionInit(jobs=jobs) as init:
        out = init.initctl("start", "r").stdout
        first, second = out.rstrip("\n").split("\n")
        assert first.startswith("r start/running, process ")
        assert second == "\twaiting for ready"
        init.initctl("start", "dep")
        status = init.initctl("status", "r").stdout.rstrip("\n").split("\n")
        assert status[0] == first and status[1] == "\tready"
        plain = init.initctl("start", "plain").stdout
        assert plain.count("\n") == 1  # no readiness line without `ready on`
        listing = init.initctl("list").stdout
        assert "\tready" in listing
