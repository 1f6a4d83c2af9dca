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
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))   # harnesses, test doubles

BIN = os.path.dirname(os.path.abspath(sys.executable))
FLOOR = os.path.join(HERE, "build", "spawnfloor")
OURS = "upstart-py"
CALL_TIMEOUT = 30.0


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


LAUNCHER = r"""
import sys
sys.path.insert(0, %(repo)r)
sys.argv = [%(init)r] + sys.argv[1:]
%(prelude)s
from upstart.cli import init
sys.exit(init.main())
"""


class Ours:
    """Our init in session mode (`init --user --no-dbus`, as tests/e2e SessionInit
    starts it, in a temp dir) plus a persistent D-Bus client.

    `prelude`: Python run in init's process before main (a what-if, e.g.
    `import upstart.daemon.clock as c; c.CONFIRM_DELAY = 0`); then init runs
    through `python -c` instead of the `init` entry point.
    """

    def __init__(self, jobs: dict[str, str], prelude: str = ""):
        import shutil
        import subprocess
        import tempfile

        from init_harness import DEFAULT_PATH, write_jobs
        from upstart.control.client import (MANAGER_IFACE, MANAGER_PATH, ConnectError,
                                            Connection)
        self.tmp = tempfile.mkdtemp(prefix="bench-init-")
        conf, log, xdg = (os.path.join(self.tmp, d) for d in ("conf", "log", "xdg"))
        for d in (conf, log, xdg):
            os.makedirs(d)
        write_jobs(conf, jobs)
        self.env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": self.tmp, "XDG_RUNTIME_DIR": xdg}
        init = os.path.join(BIN, "init")
        argv = [init] if not prelude else [
            sys.executable, "-c", LAUNCHER % {"repo": REPO, "init": init, "prelude": prelude}]
        self.t_exec = time.perf_counter()
        self.proc = subprocess.Popen(
            argv + ["--user", "--confdir", conf, "--logdir", log, "--no-dbus",
                    "--no-startup-event"],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.address = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{self.pid}"
        self.conn = None
        self._paths: dict[str, str] = {}

        def listed() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError("init exited early")
            try:
                if self.conn is None:
                    self.conn = Connection(self.address)
                return len(self.conn.call(MANAGER_PATH, MANAGER_IFACE, "GetAllJobs")[0]) \
                    == len(jobs)
            except ConnectError:
                return False
        try:
            wait_until(listed, 60)
        except BaseException:
            self.close()
            raise
        self.t_listed = time.perf_counter()
        # a reply that never comes (a daemon bug) must fail this system's row, not hang
        # the run: a timed-out recv ends in CallError(NoReply)
        self.conn.sock.settimeout(CALL_TIMEOUT)
        self._rmtree = shutil.rmtree

    def path(self, name: str) -> str:
        from upstart.control.client import MANAGER_IFACE, MANAGER_PATH
        if name not in self._paths:
            self._paths[name] = self.conn.call(MANAGER_PATH, MANAGER_IFACE, "GetJobByName",
                                               "s", (name,))[0]
        return self._paths[name]

    def call_all(self, names: list[str], method: str) -> None:
        """Start/Stop (wait=true) every job, all calls in flight at once."""
        from upstart.control.client import JOB_IFACE, CallError
        serials = [self.conn.send(self.path(n), JOB_IFACE, method, "asb", ([], True))
                   for n in names]
        for i, s in enumerate(serials):
            try:
                self.conn.wait_reply(s)
            except CallError as exc:
                if exc.name != "org.freedesktop.DBus.Error.NoReply":
                    raise
                # say which call went unanswered and where its job is (for the lead)
                r = self.initctl("status", names[i])
                raise CallError(exc.name, f"no reply to {method}({names[i]}) after "
                                f"{CALL_TIMEOUT:.0f} s ({i} of {len(names)} replies "
                                f"received); status now: {r.stdout.strip()}") from None

    def emit(self, name: str, wait: bool = True) -> None:
        from upstart.control.client import MANAGER_IFACE, MANAGER_PATH
        self.conn.call(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb", (name, [], wait))

    def initctl(self, *args: str):
        import subprocess
        return subprocess.run([os.path.join(BIN, "initctl"), *args], capture_output=True,
                              text=True, env={"PATH": self.env["PATH"],
                                              "UPSTART_SESSION": self.address})

    def close(self) -> None:
        import shutil
        if self.conn is not None:
            self.conn.close()
        if self.proc.poll() is None:
            family = tree(self.proc.pid)[1:]
            self.proc.kill()
            self.proc.wait()
            for pid in family:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Listener(threading.Thread):
    """A second connection that only reads its socket until `stop` (no decoding
    while the sender runs: the GIL stays with the sender): the signals' reader
    of the pipelined-EmitEvent benchmarks (footprint.py figure l,
    throughput_ab.py, profile_init.py throughput)."""

    def __init__(self, address: str, keep: bool = True):
        from upstart.control.client import Connection
        super().__init__(daemon=True)
        self.conn = Connection(address)
        self.chunks: list[bytes] = []
        self.keep = keep          # False: only drain (nothing to check afterwards)
        self.stop = False

    def run(self) -> None:
        sock = self.conn.sock
        sock.settimeout(0.2)
        while not self.stop:
            try:
                data = sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if self.keep:
                self.chunks.append(data)

    def signals(self) -> list:
        from upstart.control import wire
        self.conn.buf += b"".join(self.chunks)
        self.conn.sock.setblocking(False)
        out = []
        while True:
            try:
                raw = self.conn._receive_raw()
            except Exception:
                return out
            if raw[1] == wire.SIGNAL:
                out.append(wire.decode_message(raw))


def cpu_s(pid: int) -> float:
    """CPU time init has run (/proc/PID/schedstat, ns): what a rate costs it,
    whatever else the shared machine runs meanwhile."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9
