"""(g) Boot: from the exec of PID 1 to all of 100 simple jobs running.

Ours: init runs as PID 1 of fresh PID, mount and network namespaces
(tests/e2e/init_harness.Pid1Init, without its readiness wait) with 100 jobs
`start on startup` / `exec sleep 100000`. A watcher entering init's
namespaces with nsenter runs `initctl list` in-process (upstart.cli.initctl
main, no interpreter start per poll) every 2 ms until 100 jobs show
`start/running`, and prints CLOCK_MONOTONIC (not namespaced), so the figure
runs from just before the exec of unshare (namespace set-up, the wrapper's
mounts and the interpreter start included) to the poll that saw all 100.
Peers: s6-svscan, runsvdir and supervisord started (not as PID 1) on 100 `up`
services, until all 100 run; reference s6. Also the floor of our figure:
the same namespaces and wrapper exec'ing `python3 -S -c pass` (`pid1-floor`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from common import OURS, emit, error, median
from peers import PEERS

from init_harness import Pid1Init  # noqa: E402 (common puts tests/e2e on sys.path)

RUNS = 5
JOBS = {f"j{i:03d}": "start on startup\nexec sleep 100000\n" for i in range(100)}
WATCHER = r"""
import contextlib, io, os, sys, time
sys.path.insert(0, %(repo)r)
from upstart.cli import initctl
os.environ.pop("UPSTART_SESSION", None)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            initctl.main(["initctl", "list"])
    except SystemExit:
        pass
    if out.getvalue().count("start/running") >= 100:
        print(time.monotonic())
        break
    time.sleep(0.002)
"""


class _Boot(Pid1Init):
    def _wait_ready(self) -> None:      # the watcher does the waiting
        pass


def ours_once() -> float:
    from common import REPO
    t0 = time.monotonic()
    init = _Boot(jobs=JOBS, args=())
    try:
        r = subprocess.run(["nsenter", "-t", str(init.pid), "-n", "-m", "-p", "--",
                            sys.executable, "-c", WATCHER % {"repo": REPO}],
                           capture_output=True, text=True, timeout=60)
        if not r.stdout.strip():
            raise RuntimeError("jobs did not all start: " + r.stderr[-300:] + init.kmsg()[-300:])
        return float(r.stdout.split()[-1]) - t0
    finally:
        init.close()


def floor_once() -> float:
    """The same namespaces + wrapper exec'ing `python -S -c pass`, until it exits."""
    from init_harness import _WRAPPER, BIN, TOOLS
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="bench-pid1-")
    try:
        os.makedirs(os.path.join(tmp, "sbin"))
        for tool in TOOLS:
            os.symlink(os.path.join(BIN, tool), os.path.join(tmp, "sbin", tool))
        for name in ("kmsg", "console"):
            open(os.path.join(tmp, name), "w").close()
        with open(os.path.join(tmp, "wrapper.sh"), "w") as f:
            f.write(_WRAPPER)
        t0 = time.monotonic()
        subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc",
                        "sh", os.path.join(tmp, "wrapper.sh"), sys.executable, "-S", "-c",
                        "pass"], env={"PATH": os.environ.get("PATH", ""), "T": tmp},
                       check=True)
        return time.monotonic() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def peer_once(cls) -> float:
    names = [f"p{i:03d}" for i in range(100)]
    with cls(names, up=True) as p:
        from common import wait_until
        wait_until(lambda: p.all_up(names), 60, 0.002)
        return time.monotonic() - p.t_exec


def main() -> int:
    for name, fn, extra in (("s6", lambda: peer_once(PEERS[2]), {"is_ref": True}),
                            (OURS, ours_once, {"ref": "s6", "target": "<= 0.5 s",
                                                     "target_value": 0.5}),
                            ("pid1-floor", floor_once, {"ref": "s6"}),
                            ("runit", lambda: peer_once(PEERS[1]), {"ref": "s6"}),
                            ("supervisord", lambda: peer_once(PEERS[0]), {"ref": "s6"})):
        try:
            runs = [fn() for _ in range(RUNS)]
            emit("g", "boot_100_jobs", name, median(runs), "s", runs=RUNS,
                 stdev=round(statistics.pstdev(runs), 3), **extra)
        except Exception as exc:
            error("g", "boot_100_jobs", name, repr(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
