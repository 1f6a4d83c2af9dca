"""Fault suite: the configuration directory misbehaving (issue #14).

The directory vanishes under init (and comes back); job files are replaced,
truncated and renamed while init parses them; the inotify queue overflows.
Running jobs keep running, and once the storm is over init's view matches the
files on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading

from faults_common import session, survived
from waiting import wait_for


def _jobs(init) -> set[str]:
    out = init.initctl("list")
    assert out.returncode == 0, out.stderr
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def test_config_dir_vanishes_and_returns():
    with session({"idle": "exec sleep 1\n"}) as (init, steady):
        shutil.rmtree(init.conf)
        wait_for(lambda: "idle" not in _jobs(init))      # not running: forgotten
        survived(init, steady)                               # running: kept (deleted)
        assert "steady" in _jobs(init)
        os.makedirs(init.conf)
        with open(os.path.join(init.conf, "back.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        wait_for(lambda: "back" in _jobs(init))            # watched again
        assert init.initctl("start", "back").returncode == 0
        survived(init, steady)


def test_files_replaced_mid_parse():
    with session({}) as (init, steady):
        stop = threading.Event()
        path = os.path.join(init.conf, "churn.conf")
        tmp = os.path.join(init.conf, ".churn.tmp")
        texts = ["exec sleep 1\n", "start on (((\n", "exec sleep 2\nenv X=" + "y" * 50000 + "\n",
                 "", "\x00\xff garbage \x01", "script\n  true\n"]

        written = [0]

        def churn() -> None:
            i = 0
            while not stop.is_set():
                text = texts[i % len(texts)]
                if i % 3 == 0:
                    with open(tmp, "w", errors="surrogateescape") as f:
                        f.write(text)
                    os.replace(tmp, path)                     # atomic swap
                else:
                    with open(path, "w", errors="surrogateescape") as f:
                        f.write(text[: len(text) // 2])      # torn write...
                        f.flush()
                        f.write(text[len(text) // 2:])       # ...completed
                i += 1
                written[0] = i

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            wait_for(lambda: written[0] >= 600, timeout=60)   # 100 rounds of the six texts
            survived(init, steady)
        finally:
            stop.set()
            worker.join(timeout=10)
        with open(path, "w") as f:
            f.write("start on churn-final\nexec sleep 100000\n")
        wait_for(lambda: "start on churn-final" in init.initctl("show-config", "churn").stdout)
        assert init.initctl("emit", "churn-final").returncode == 0
        assert init.state("churn").startswith("churn start/running")
        survived(init, steady)


def test_inotify_overflow_then_rescan():
    with session({}) as (init, steady):
        junk = os.path.join(init.conf, "junk")
        os.makedirs(junk)
        # far more events than the inotify queue holds (fs.inotify.max_queued_events)
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            queue = int(f.read())
        n = min(queue + 4000, 40000)
        os.kill(init.proc.pid, signal.SIGSTOP)      # init reads nothing: the queue overflows
        try:
            for i in range(n):
                with open(os.path.join(junk, f"f{i}.txt"), "w"):
                    pass
        finally:
            os.kill(init.proc.pid, signal.SIGCONT)
        with open(os.path.join(init.conf, "afterstorm.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        wait_for(lambda: "afterstorm" in _jobs(init), timeout=30)
        assert init.initctl("start", "afterstorm").returncode == 0
        assert init.state("afterstorm").startswith("afterstorm start/running")
        survived(init, steady)
