"""RM-12 end to end, against a real `init --user`: the `died` event for every
abnormal main exit (even while respawning), and the last lines of the job's
log where init reports a failure or a death (docs/design/died-event.md)."""

from __future__ import annotations

import os
import signal

from init_harness import BIN, SessionInit


def _env_file(path: str) -> dict[str, str] | None:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    if not text.endswith("END\n"):
        return None                      # still being written
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_killed_respawning_job_emits_died_and_a_watcher_gets_its_env(tmp_path):
    out = tmp_path / "alert.env"
    jobs = {
        "r": "respawn\nexec sh -c 'echo serving requests; exec sleep 1000'\n",
        "alert": "task\nstart on died JOB=r\n"
                 f"exec sh -c 'env > {out}.tmp; echo END >> {out}.tmp; mv {out}.tmp {out}'\n",
    }
    with SessionInit(jobs) as s:
        mon = s.popen(os.path.join(BIN, "upstart-monitor"), "--event", "died", "--count", "1",
                      "-s", "|")
        try:
            for _ in range(6):           # the header: printed once it listens
                assert mon.stdout.readline() is not None
            s.ok("start", "r")
            first = s.main_pid("r")
            s.wait_for(lambda: "serving requests" in _read(os.path.join(s.log, "r.log")))
            os.kill(first, signal.SIGKILL)
            env = s.wait_for(lambda: _env_file(str(out)), timeout=20)
            line, _ = mon.communicate(timeout=20)
        finally:
            if mon.poll() is None:
                mon.kill()
                mon.wait()
        for key, value in (("JOB", "r"), ("INSTANCE", ""), ("PROCESS", "main"),
                           ("EXIT_SIGNAL", "KILL"), ("RESPAWN", "yes"), ("DEATHS", "1"),
                           ("UPSTART_EVENTS", "died")):
            assert env.get(key) == value, (key, env)
        assert "EXIT_STATUS" not in env
        assert line.split("|", 1)[1].strip() == \
            ("died JOB='r' INSTANCE='' PROCESS='main' EXIT_SIGNAL='KILL' RESPAWN='yes' "
             "DEATHS='1'")
        # it respawned all the same, and status --verbose tells of the death
        s.wait_for(lambda: (s.main_pid("r") or first) != first, timeout=20)
        verbose = s.initctl("status", "--verbose", "r").stdout.splitlines()
        assert verbose[0] == f"r start/running, process {s.main_pid('r')}"
        assert verbose[1].startswith("  main process died once; last at ")
        assert verbose[1].endswith(": killed by KILL signal, respawned")
        assert "    serving requests" in verbose[3:]
        assert s.initctl("status", "r").stdout == verbose[0] + "\n"      # 1.13's line alone
        why = s.ok("why", "r")
        assert "its main process died once" in why and "serving requests" in why
        s.ok("stop", "r")


def test_flapping_job_dies_each_time_then_gives_up():
    jobs = {"flap": "respawn\nrespawn limit 2 30\nexec sh -c 'echo flap; exit 7'\n"}
    with SessionInit(jobs) as s:
        mon = s.popen(os.path.join(BIN, "upstart-monitor"), "--event", "died", "--count", "3",
                      "-s", "|")
        try:
            for _ in range(6):
                assert mon.stdout.readline() is not None
            s.initctl("start", "flap")
            text, _ = mon.communicate(timeout=30)
        finally:
            if mon.poll() is None:
                mon.kill()
                mon.wait()
        base = "died JOB='flap' INSTANCE='' PROCESS='main' EXIT_STATUS='7' RESPAWN="
        assert [line.split("|", 1)[1] for line in text.splitlines()] == \
            [base + "'yes' DEATHS='1'", base + "'yes' DEATHS='2'", base + "'no' DEATHS='3'"]
        s.wait_for(lambda: "flap failed" in s.initctl("list", "--failed").stdout)
        assert s.initctl("list", "--failed").stdout == \
            "flap failed: respawning too fast (respawn limit reached)\n"


def test_failed_job_shows_the_end_of_its_log():
    jobs = {"bad": "exec sh -c 'echo starting up; echo cannot open /nonexistent/db >&2; "
                   "exit 4'\n"}
    with SessionInit(jobs) as s:
        s.initctl("start", "bad")
        s.wait_for(lambda: "bad failed" in s.initctl("list", "--failed").stdout)
        s.wait_for(lambda: "cannot open" in _read(os.path.join(s.log, "bad.log")))
        assert s.initctl("list", "--failed").stdout == \
            "bad failed: main process ended with status 4\n"
        assert s.initctl("list", "--failed", "--verbose").stdout == (
            "bad failed: main process ended with status 4\n"
            "  last lines of its log:\n"
            "    starting up\n"
            "    cannot open /nonexistent/db\n")
        why = s.ok("why", "bad")
        assert why.startswith("bad: not running (it failed: main process ended with status 4)\n"
                              "  last lines of its log:\n"
                              "    starting up\n"
                              "    cannot open /nonexistent/db\n"), why
        verbose = s.initctl("status", "--verbose", "bad").stdout.splitlines()
        assert verbose[:5] == ["bad stop/waiting",
                               "  failed: main process ended with status 4",
                               "  last lines of its log:",
                               "    starting up",
                               "    cannot open /nonexistent/db"]
        assert verbose[5].startswith("  main process died once; last at ")
        assert verbose[5].endswith(": ended with status 4, not respawned")
        assert len(verbose) == 6                   # the log is shown once


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
