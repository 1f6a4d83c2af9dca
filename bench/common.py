"""Shared helpers for the benchmarks: JSON rows, medians, RSS, our init.

A row is one figure for one system:
  {"fig": "a", "bench": "start_rate", "system": "upstart-py", "value": 812.0,
   "unit": "starts/s", "better": "higher", "ref": "c-floor", ...}
`ref` names the row (same fig and bench) the ratio is taken against; the
reference row itself carries `"is_ref": true`. run.py computes the ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

BIN = os.path.dirname(os.path.abspath(sys.executable))
FLOOR = os.path.join(HERE, "build", "spawnfloor")
OURS = "upstart-py"


def emit(fig: str, bench: str, system: str, value: float, unit: str, better: str = "lower",
         **extra) -> dict:
    row = {"fig": fig, "bench": bench, "system": system,
           "value": round(value, 3) if isinstance(value, float) else value,
           "unit": unit, "better": better, **extra}
    print(json.dumps(row), flush=True)
    return row


def error(fig: str, bench: str, system: str, exc: BaseException | str) -> None:
    print(json.dumps({"fig": fig, "bench": bench, "system": system,
                      "error": str(exc)[-300:]}), flush=True)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def timed(fn, *args, **kw) -> float:
    t0 = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t0


def wait_until(pred, timeout: float = 30.0, interval: float = 0.001):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in %.0f s" % timeout)
        time.sleep(interval)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def tree_rss_kb(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            total += rss_kb(p)
        except OSError:
            pass
    return total


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split between their users, so a
    tree of many small supervisors (runsv, s6-supervise) is not counted N times."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kb(pid: int) -> int:
    return sum(pss_kb(p) for p in tree(pid))


def python_floor_ms(runs: int = 15, flags: tuple[str, ...] = ("-S",)) -> float:
    """Median wall time of `python3 <flags> -c pass` (this interpreter)."""
    import subprocess
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *flags, "-c", "pass"])
        ts.append(time.perf_counter() - t0)
    return median(ts) * 1e3


class Ours:
    """Our init in session mode (tests/e2e SessionInit) plus a persistent client."""

    def __init__(self, jobs: dict[str, str]):
        from init_harness import SessionInit
        from upstart.control.client import Connection
        self.si = SessionInit(jobs=jobs)
        self.pid = self.si.proc.pid
        self.conn = Connection(self.si.address)
        self._paths: dict[str, str] = {}

    def path(self, name: str) -> str:
        from upstart.control.client import MANAGER_IFACE, MANAGER_PATH
        if name not in self._paths:
            self._paths[name] = self.conn.call(MANAGER_PATH, MANAGER_IFACE, "GetJobByName",
                                               "s", (name,))[0]
        return self._paths[name]

    def call_all(self, names: list[str], method: str) -> None:
        """Start/Stop (wait=true) every job, all calls in flight at once."""
        from upstart.control.client import JOB_IFACE
        serials = [self.conn.send(self.path(n), JOB_IFACE, method, "asb", ([], True))
                   for n in names]
        for s in serials:
            self.conn.wait_reply(s)

    def emit(self, name: str, wait: bool = True) -> None:
        from upstart.control.client import MANAGER_IFACE, MANAGER_PATH
        self.conn.call(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb", (name, [], wait))

    def initctl(self, *args: str):
        return self.si.initctl(*args)

    def close(self) -> None:
        self.conn.close()
        self.si.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
