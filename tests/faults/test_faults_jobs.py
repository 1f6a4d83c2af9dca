"""Fault suite: misbehaving jobs (issue #14).

A job that fork-bombs (only inside a pids-limited cgroup, or under a dedicated
uid with RLIMIT_NPROC), one that floods its log, one that ignores every
catchable signal, one that exits at once with `respawn` (1.13 runaway and
our `respawn delay` backoff). Each ends with init alive, answering, and the
bystander job's pid unchanged.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from faults_common import pid_of, rss_kib, session, status, survived, tmpfs, wait_until

PIDS_V1 = "/sys/fs/cgroup/pids"
PIDS_V2 = "/sys/fs/cgroup"
BOMB_UID = 54321          # a uid no one else uses: RLIMIT_NPROC counts per uid
BOMB_LIMIT = 24


def _pids_cgroup() -> str | None:
    """A fresh pids cgroup (v1 or v2) limited to BOMB_LIMIT tasks, or None."""
    for root in (PIDS_V1, PIDS_V2):
        if os.path.exists(os.path.join(root, "pids.max")) or \
                os.path.exists(os.path.join(root, "cgroup.procs")) and root == PIDS_V1:
            path = os.path.join(root, f"upstart-faults-{os.getpid()}-{time.monotonic_ns()}")
            try:
                os.mkdir(path)
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(BOMB_LIMIT))
                return path
            except OSError:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
    return None


def _kill_cgroup(path: str) -> None:
    """SIGKILL every task of the cgroup until it is empty (bounded), then remove it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.02)


def _kill_uid(uid: int) -> None:
    for _ in range(200):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found = True
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.02)


# every process forks forever, retrying when the limit refuses (a shell bomb
# dies of its first failed fork, which would test nothing)
BOMB = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n" \
       "        time.sleep(0.02)\n"


def test_fork_bomb_is_contained_and_stoppable(tmp_path):
    bomb = tmp_path / "bomb.py"
    bomb.write_text(BOMB)
    bomb.chmod(0o644)
    tmp_path.chmod(0o755)
    cgroup = _pids_cgroup()
    if cgroup is not None:
        body = (f"script\n  echo $$ > {cgroup}/cgroup.procs\n"
                f"  exec nice -n 19 python3 {bomb}\nend script\n")
    else:
        body = (f"exec prlimit --nproc={BOMB_LIMIT}:{BOMB_LIMIT} setpriv --reuid={BOMB_UID} "
                f"--regid={BOMB_UID} --clear-groups nice -n 19 python3 {bomb}\n")
    try:
        with session({"bomb": "kill timeout 1\n" + body}) as (init, steady):
            assert init.initctl("start", "bomb").returncode == 0
            time.sleep(1.5)                          # the bomb is at its limit
            if cgroup is not None:
                with open(os.path.join(cgroup, "pids.current")) as f:
                    current = int(f.read())
                assert BOMB_LIMIT // 2 <= current <= BOMB_LIMIT      # a bomb, held at the limit
            survived(init, steady)
            assert status(init, "bomb").startswith("bomb start/running")
            t0 = time.monotonic()
            assert init.initctl("stop", "bomb").returncode == 0
            assert time.monotonic() - t0 < 10
            assert status(init, "bomb") == "bomb stop/waiting"
            survived(init, steady)
    finally:
        if cgroup is not None:
            _kill_cgroup(cgroup)
        else:
            _kill_uid(BOMB_UID)


def test_log_flood_fills_only_its_log(tmp_path):
    with session({"flood": "exec yes flooding-the-log\n"}) as (init, steady):
        with tmpfs(init.log, size="2m"):
            rss0 = rss_kib(init.proc.pid)
            assert init.initctl("start", "flood").returncode == 0
            flood = pid_of(init, "flood")
            time.sleep(2.0)                          # the 2 MiB log dir is full by now
            survived(init, steady)
            assert pid_of(init, "flood") == flood    # still the same process
            size = os.path.getsize(os.path.join(init.log, "flood.log"))
            assert 0 < size <= 2 * 1024 * 1024
            assert rss_kib(init.proc.pid) - rss0 < 64 * 1024      # init's memory bounded
            assert init.initctl("stop", "flood").returncode == 0
            assert status(init, "flood") == "flood stop/waiting"
            survived(init, steady)


def test_job_ignoring_every_signal_is_killed_after_timeout():
    body = ("kill timeout 1\nscript\n  trap '' HUP INT QUIT TERM USR1 USR2 PIPE ALRM\n"
            "  while :; do sleep 1; done\nend script\n")
    with session({"deaf": body}) as (init, steady):
        assert init.initctl("start", "deaf").returncode == 0
        deaf = pid_of(init, "deaf")
        t0 = time.monotonic()
        out = init.initctl("stop", "deaf", timeout=20)
        took = time.monotonic() - t0
        assert out.returncode == 0, out.stderr
        assert 0.8 < took < 8, took                 # TERM ignored, KILL after 1 s
        assert status(init, "deaf") == "deaf stop/waiting"
        wait_until(lambda: not os.path.exists(f"/proc/{deaf}") or
                   open(f"/proc/{deaf}/stat").read().split()[2] == "Z")
        assert not os.path.exists(f"/proc/{deaf}/cmdline") or \
            open(f"/proc/{deaf}/cmdline").read() == ""
        survived(init, steady)


def test_instant_exit_respawn_runaway_stops_it():
    with session({"crash": "respawn\nexec false\n"}) as (init, steady):
        init.initctl("start", "crash", timeout=20)
        wait_until(lambda: status(init, "crash") == "crash stop/waiting")
        survived(init, steady)
        assert init.initctl("start", "--no-wait", "crash").returncode == 0   # start again
        wait_until(lambda: status(init, "crash") == "crash stop/waiting")
        survived(init, steady)


@pytest.mark.timeout(60)
def test_instant_exit_with_backoff_pauses_visibly_and_stop_ends_pause():
    job = "respawn\nrespawn limit unlimited\nrespawn delay 0.2 1.6 2\nexec false\n"
    with session({"crash": job}) as (init, steady):
        init.initctl("start", "--no-wait", "crash")
        # the pause is visible: goal start, state post-stop, no process
        wait_until(lambda: status(init, "crash") == "crash start/post-stop")
        time.sleep(3.0)
        respawns = init.init_log().count("crash main process ended, respawning")
        # 0.2+0.4+0.8+1.6(+jitter) in 3 s: a handful, not hundreds (1.13 would
        # have given up after 10 in well under a second)
        assert 2 <= respawns <= 8, respawns
        survived(init, steady)
        assert init.initctl("stop", "crash").returncode == 0
        assert status(init, "crash") == "crash stop/waiting"
        survived(init, steady)
