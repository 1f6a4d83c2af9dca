"""(a) simple job starts per second and (b) latency of one start until running.

(a) 100 services (`exec sleep 100000`) started at once from a persistent
    channel, until all run; median of rounds, as starts per second. References
    in the same run: the C posix_spawn floor (`bench/build/spawnfloor seq`,
    spawn + waitpid of /bin/true one after the other, measured just before
    each of our rounds, so that the two medians come from the same seconds:
    on these shared machines the floor alone moved between 3,700 and 5,600/s
    from one minute to the next), Python's
    os.posix_spawn and os.fork()+exec loops, supervisord
    (startAllProcesses, wait), runit and s6 (control FIFOs written directly,
    status files polled).
(b) one service: start until running, then stop; median over runs. From a
    persistent client (our D-Bus Connection: Job.Start wait=true; supervisord:
    XML-RPC startProcess wait=true; runit/s6: FIFO + status poll) and from the
    command line (`initctl start`, `supervisorctl start`, `sv start`,
    `s6-svc -wu -u`).
runsv refuses to restart a service within 1 s of its last start, so runit's
rounds are spaced by 1.1 s (the others need no pause).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from common import FLOOR, OURS, Ours, emit, error, median
from peers import PEERS, Runit

N = 100
ROUNDS = 5
OUR_ROUNDS = 11            # ours, each paired with a floor sample
FLOOR_SAMPLE = 300         # spawns per floor sample
LAT_RUNS = 9
PRELUDE = "import upstart.daemon.clock as c; c.CONFIRM_DELAY = 0"
JOBS = {f"j{i:03d}": "exec sleep 100000\n" for i in range(N)}
NAMES = list(JOBS)


def py_spawn_rate(n: int, fork: bool) -> float:
    true = "/bin/true"
    t0 = time.perf_counter()
    for _ in range(n):
        if fork:
            pid = os.fork()
            if pid == 0:
                try:
                    os.execv(true, [true])
                finally:
                    os._exit(127)
        else:
            pid = os.posix_spawn(true, [true], os.environ)
        os.waitpid(pid, 0)
    return n / (time.perf_counter() - t0)


def floor_sample(n: int = FLOOR_SAMPLE) -> float:
    return float(subprocess.run([FLOOR, "seq", str(n), "/bin/true"], capture_output=True,
                                text=True, check=True).stdout)


def floors() -> None:
    """The Python spawn loops (the C floor itself is sampled by `ours`)."""
    if not os.path.exists(FLOOR):
        error("a", "start_rate", "c-floor", "bench/build/spawnfloor not built")
    emit("a", "start_rate", "python-posix_spawn", median([py_spawn_rate(500, False)
                                                          for _ in range(3)]),
         "starts/s", "higher", ref="c-floor")
    emit("a", "start_rate", "python-fork-exec", median([py_spawn_rate(500, True)
                                                        for _ in range(3)]),
         "starts/s", "higher", ref="c-floor")


def ours(_arg=None) -> None:
    with Ours(JOBS) as o:
        for n in NAMES:
            o.path(n)
        times, floor = [], []
        have_floor = os.path.exists(FLOOR)
        for _ in range(OUR_ROUNDS):
            if have_floor:
                floor.append(floor_sample())
            t0 = time.perf_counter()
            o.call_all(NAMES, "Start")
            times.append(time.perf_counter() - t0)
            o.call_all(NAMES, "Stop")
        if floor:
            emit("a", "start_rate", "c-floor", median(floor), "starts/s", "higher",
                 is_ref=True, samples=len(floor),
                 note="C posix_spawn+waitpid of /bin/true, sequential; sampled "
                      "before each upstart-py round")
        emit("a", "start_rate", OURS, N / median(times), "starts/s", "higher", ref="c-floor",
             target=">= 50% of c-floor",
             target_value=round(median(floor) / 2, 1) if floor else None, jobs=N,
             rounds=OUR_ROUNDS)
        lat = []
        for _ in range(LAT_RUNS):
            t0 = time.perf_counter()
            o.call_all(["j000"], "Start")
            lat.append(time.perf_counter() - t0)
            o.call_all(["j000"], "Stop")
        emit("b", "start_latency_client", OURS, median(lat) * 1e3, "ms", ref="s6",
             target="<= 5 ms", target_value=5, runs=LAT_RUNS)
        lat = []
        for _ in range(LAT_RUNS):
            t0 = time.perf_counter()
            r = o.initctl("start", "j000")
            lat.append(time.perf_counter() - t0)
            if r.returncode:
                raise RuntimeError(r.stderr)
            o.initctl("stop", "j000")
        emit("b", "start_latency_cli", OURS, median(lat) * 1e3, "ms", ref="s6",
             target="(C Upstart: 6.0 ms)", upstart_c=6.0, runs=LAT_RUNS,
             command="initctl start")


def ours_no_confirm_delay(_floor: float) -> None:
    """What-if: the same init with its 20 ms spawn-confirmation timer set to 0."""
    with Ours(JOBS, prelude=PRELUDE) as o:
        for n in NAMES:
            o.path(n)
        times = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            o.call_all(NAMES, "Start")
            times.append(time.perf_counter() - t0)
            o.call_all(NAMES, "Stop")
        emit("a", "start_rate", OURS + " (CONFIRM_DELAY=0)", N / median(times), "starts/s",
             "higher", ref="c-floor", rounds=ROUNDS, note="what-if, not a shipped configuration")
        lat = []
        for _ in range(LAT_RUNS):
            t0 = time.perf_counter()
            o.call_all(["j000"], "Start")
            lat.append(time.perf_counter() - t0)
            o.call_all(["j000"], "Stop")
        emit("b", "start_latency_client", OURS + " (CONFIRM_DELAY=0)", median(lat) * 1e3, "ms",
             ref="s6", runs=LAT_RUNS, note="what-if, not a shipped configuration")


def peer(cls) -> None:
    pause = 1.1 if cls is Runit else 0.0
    names = [f"p{i:03d}" for i in range(N)]
    with cls(names) as p:
        p.wait_supervised()
        times = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            p.start(names)
            times.append(time.perf_counter() - t0)
            p.stop(names)
            time.sleep(pause)
        emit("a", "start_rate", cls.name, N / median(times), "starts/s", "higher",
             ref="c-floor", rounds=ROUNDS)
        runs = LAT_RUNS if not pause else 5
        lat = []
        for _ in range(runs):
            t0 = time.perf_counter()
            p.start(names[:1])
            lat.append(time.perf_counter() - t0)
            p.stop(names[:1])
            time.sleep(pause)
        emit("b", "start_latency_client", cls.name, median(lat) * 1e3, "ms",
             **({"is_ref": True} if cls.name == "s6" else {"ref": "s6"}), runs=runs)
        lat = []
        for _ in range(runs):
            t0 = time.perf_counter()
            p.cli_start(names[0])
            lat.append(time.perf_counter() - t0)
            p.cli_stop(names[0])
            time.sleep(pause)
        emit("b", "start_latency_cli", cls.name, median(lat) * 1e3, "ms",
             **({"is_ref": True} if cls.name == "s6" else {"ref": "s6"}), runs=runs)


def main() -> int:
    floors()
    for label, fn, arg in [(OURS, ours, None),
                           (OURS + " (CONFIRM_DELAY=0)", ours_no_confirm_delay, None)] + \
            [(c.name, peer, c) for c in PEERS]:
        for attempt in (1, 2):     # ours: one retry with a fresh init (see run notes)
            try:
                fn(arg)
                break
            except Exception as exc:  # one system failing must not hide the others
                import traceback
                where = traceback.extract_tb(exc.__traceback__)
                text = "%r at %s" % (exc, " < ".join(f"{f.name}:{f.lineno}"
                                                    for f in reversed(where[-4:])))
                if attempt == 1 and label.startswith(OURS):
                    print(json.dumps({"warning": f"{label}: attempt 1 failed, retried: "
                                                 + text[-300:]}), flush=True)
                    continue
                error("ab", "start", label, text)
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
