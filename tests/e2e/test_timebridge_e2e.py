"""upstart-time-bridge with the real daemon: a Session Init runs the bridge as a
respawning job; jobs start on `time` events. Timing assertions are tolerant
(timing belongs in bench, correctness here)."""

import json
import os
import signal
import time

from init_harness import BIN, SessionInit


def stamps(path):
    try:
        with open(path) as f:
            return [line.split() for line in f.read().splitlines() if line.strip()]
    except OSError:
        return []


def session(tmp_path, extra_jobs):
    out = str(tmp_path)
    jobs = {
        "tb": f"respawn\nexec {BIN}/upstart-time-bridge --user --verbose "
              f"--state-file {out}/tb.state\n",
        "foo": f"script\n  date +%s.%N >> {out}/foo\n  exec sleep 600\nend script\n",
    }
    jobs.update(extra_jobs)
    return SessionInit(jobs=jobs)


def after_schedules(out) -> list[dict]:
    """The AFTER schedules in the bridge's state file (written once it has read
    the jobs, and again when a delay is armed)."""
    try:
        with open(f"{out}/tb.state") as f:
            schedules = json.load(f)["schedules"]
    except (OSError, ValueError):
        return []
    return [v for v in schedules.values() if v["kind"] == "after"]


def bridge_pid(s):
    status = s.initctl("status", "tb").stdout
    if "start/running, process " not in status:
        return None
    return int(status.rsplit(" ", 1)[1])


def test_every_second_cron_job_runs_and_counts(tmp_path):
    out = str(tmp_path)
    tick = (f'task\nstart on time CRON="* * * * * *"\n'
            f'exec sh -c \'echo $(date +%s.%N) $TIME_FIRED $TIME_DUE >> {out}/tick\'\n')
    with session(tmp_path, {"tick": tick}) as s:
        started = time.time()
        assert s.initctl("start", "tb").returncode == 0
        s.wait_for(lambda: len(stamps(f"{out}/tick")) >= 2, timeout=10)
        lines = stamps(f"{out}/tick")
        assert float(lines[0][0]) - started < 2.5
        assert [int(line[1]) for line in lines[:2]] == [1, 2]
        listing = s.run(f"{BIN}/upstart-time-bridge", "--user", "--list",
                        "--state-file", f"{out}/tb.state")
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.startswith('time CRON="* * * * * *"  next ')
        assert "start on: tick" in listing.stdout


def test_delay_after_a_job_started(tmp_path):
    out = str(tmp_path)
    later = (f'task\nstart on time AFTER="started foo" DELAY=2s\n'
             f"exec sh -c 'date +%s.%N >> {out}/later'\n")
    with session(tmp_path, {"later": later}) as s:
        assert s.initctl("start", "tb").returncode == 0
        s.wait_for(lambda: after_schedules(out))           # the bridge has read the jobs
        assert s.initctl("start", "foo").returncode == 0
        s.wait_for(lambda: stamps(f"{out}/later"), timeout=10)
        delay = float(stamps(f"{out}/later")[0][0]) - float(stamps(f"{out}/foo")[0][0])
        assert 1.5 <= delay <= 3.0, delay
        time.sleep(1)
        assert len(stamps(f"{out}/later")) == 1            # once per occurrence


def test_killed_bridge_is_respawned_and_loses_no_schedule(tmp_path):
    out = str(tmp_path)
    later = (f'task\nstart on time AFTER="started foo" DELAY=2s\n'
             f"exec sh -c 'date +%s.%N >> {out}/later'\n")
    tick = (f'task\nstart on time EVERY=1s\n'
            f"exec sh -c 'echo $TIME_FIRED >> {out}/tick'\n")
    with session(tmp_path, {"later": later, "tick": tick}) as s:
        assert s.initctl("start", "tb").returncode == 0
        s.wait_for(lambda: stamps(f"{out}/tick"), timeout=10)
        first = bridge_pid(s)
        assert s.initctl("start", "foo").returncode == 0
        s.wait_for(lambda: any(v["due"] is not None for v in after_schedules(out)))  # armed
        os.kill(first, signal.SIGKILL)
        s.wait_for(lambda: (bridge_pid(s) or first) != first, timeout=10)
        s.wait_for(lambda: stamps(f"{out}/later"), timeout=10)
        delay = float(stamps(f"{out}/later")[0][0]) - float(stamps(f"{out}/foo")[0][0])
        assert 1.5 <= delay <= 3.5, delay
        count = len(stamps(f"{out}/tick"))
        s.wait_for(lambda: len(stamps(f"{out}/tick")) >= count + 2, timeout=10)
        fired = [int(line[0]) for line in stamps(f"{out}/tick")]
        # the count carries on across the respawn instead of starting again at 1
        assert fired == sorted(fired) and fired.count(1) == 1, fired
        assert fired[-1] >= len(fired) - 1
