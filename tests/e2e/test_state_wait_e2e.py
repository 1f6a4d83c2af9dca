"""`UPSTART_STATE_WAIT_SECS` (DM-25, spec 05 §7): how long a re-executed init
waits for the state on `--state-fd`, against the real daemon.

The state comes on a pipe written late by a child process, as Upstart 1.13
hands it over (tests/support/state_pipe.py). What arrives is not a valid
document, so the new init falls back to a stateless start either way; what
tells the cases apart is whether it gave up waiting (a timeout) or read the
bytes (kept in `<logdir>/upstart.state`, as 1.13 keeps a state it cannot
parse).
"""

from __future__ import annotations

import os
import sys
import time

import state_pipe
from init_harness import SessionInit

JOBS = {"svc": "exec sleep 100000\n"}
FAILED = "Failed to read serialisation data - reverting to stateless re-exec"


def _late_state(tmp_path, delay: float):
    payload = tmp_path / "payload"
    payload.write_bytes(b"not a state document")

    def wrap(_tmp):
        return (sys.executable, state_pipe.__file__, str(delay), str(payload))
    return wrap


def test_gives_up_after_the_seconds_asked(tmp_path):
    start = time.monotonic()
    with SessionInit(JOBS, args=("--no-startup-event",), env={"UPSTART_STATE_WAIT_SECS": "1"},
                     wrap=_late_state(tmp_path, -1)) as init:
        assert time.monotonic() - start >= 1.0
        log = init.init_log()
        assert FAILED in log and "within 1 s (UPSTART_STATE_WAIT_SECS)" in log
        # stateless: the configuration read from disk, the init in service
        assert init.status("svc") == "svc stop/waiting"
        assert not os.path.exists(os.path.join(init.log, "upstart.state"))


def test_zero_does_not_wait(tmp_path):
    # the writer never writes: with 0 init gives up at once (a writer a second
    # late could beat a slow start of init under load and make this a parse error)
    with SessionInit(JOBS, args=("--no-startup-event",), env={"UPSTART_STATE_WAIT_SECS": "0"},
                     wrap=_late_state(tmp_path, -1)) as init:
        log = init.init_log()
        assert FAILED in log and "within 0 s" in log
        assert not os.path.exists(os.path.join(init.log, "upstart.state"))


def test_minus_one_waits_past_the_default(tmp_path):
    """The state comes after 4 s, more than the default 3 s: -1 waits for it."""
    with SessionInit(JOBS, args=("--no-startup-event",), env={"UPSTART_STATE_WAIT_SECS": "-1"},
                     wrap=_late_state(tmp_path, 4)) as init:
        log = init.init_log()
        assert FAILED in log and "UPSTART_STATE_WAIT_SECS" not in log
        with open(os.path.join(init.log, "upstart.state"), "rb") as f:
            assert f.read() == b"not a state document"
        assert init.status("svc") == "svc stop/waiting"


def test_the_default_waits_for_a_state_a_second_late(tmp_path):
    with SessionInit(JOBS, args=("--no-startup-event",), wrap=_late_state(tmp_path, 1)) as init:
        with open(os.path.join(init.log, "upstart.state"), "rb") as f:
            assert f.read() == b"not a state document"
