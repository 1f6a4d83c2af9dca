"""(c) one event that starts 100 tasks, until all are done, and (d) events per
second with 1,000 job classes and no match, through the running daemon.

(c) 100 jobs `start on go` / `task` / `exec true`; `EmitEvent go wait=true`
    from a persistent client returns when the event is done, i.e. when every
    task it started has finished; also `initctl emit go` from the command
    line. References: the C floor spawning 100 /bin/true at once and reaping
    them (`spawnfloor batch 100`), and supervisord starting a group of 100
    `true` programs (startAllProcesses, then polled until all EXITED), the
    nearest thing it has (runit and s6 have no events or one-shot groups).
(d) 1,000 services `start on ev<i> X=1`, then `EmitEvent nothing-matches
    wait=false` pipelined 100 at a time; reference: the same client's rate
    of a null request (Properties.Get of `version`) on the same daemon, which
    is the control plane's ceiling. The pure engine's rate (no I/O) is in
    engine.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import FLOOR, OURS, Ours, emit, error, median, wait_until
from peers import Supervisord

N = 100
RUNS = 9
# what-ifs: init with one cost removed (monkeypatched in init's process before main)
WHAT_IF = {
    "CONFIRM_DELAY=0": "import upstart.daemon.clock as c; c.CONFIRM_DELAY = 0",
    "no D-Bus signals": "import upstart.control.server as s; "
                        "s.ControlServer.broadcast = lambda self, effect: None",
}
TASKS = {f"t{i:03d}": "start on go\ntask\nexec true\n" for i in range(N)}


def fig_c() -> None:
    if os.path.exists(FLOOR):
        ms = [float(subprocess.run([FLOOR, "batch", str(N), "/bin/true"], capture_output=True,
                                   text=True, check=True).stdout) for _ in range(RUNS)]
        emit("c", "event_100_tasks", "c-floor", median(ms), "ms", is_ref=True,
             note="C: posix_spawn 100 x /bin/true, then reap all")
    # ours and the what-ifs run side by side (idle inits cost nothing) and are
    # measured in turns, so that a burst of load hits all of them alike
    systems = {OURS: "", **{f"{OURS} ({k})": v for k, v in WHAT_IF.items()}}
    inits: dict[str, Ours] = {}
    try:
        for label, prelude in systems.items():
            try:
                inits[label] = Ours(TASKS, prelude=prelude)
                inits[label].emit("go")     # warm up
            except Exception as exc:
                error("c", "event_100_tasks", label, repr(exc))
        ts: dict[str, list[float]] = {k: [] for k in inits}
        for _ in range(RUNS):
            for label, o in inits.items():
                t0 = time.perf_counter()
                o.emit("go")
                ts[label].append(time.perf_counter() - t0)
        for label in inits:
            extra = ({"target": "<= 210 ms (C Upstart: 140 ms)", "target_value": 210,
                      "upstart_c": 140, "via": "EmitEvent wait=true"} if label == OURS
                     else {"note": "what-if, not a shipped configuration"})
            emit("c", "event_100_tasks", label, median(ts[label]) * 1e3, "ms",
                 ref="c-floor", runs=RUNS, **extra)
        if OURS in inits:
            ts_cli = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = inits[OURS].initctl("emit", "go")
                ts_cli.append(time.perf_counter() - t0)
                if r.returncode:
                    raise RuntimeError(r.stderr)
            emit("c", "event_100_tasks_cli", OURS, median(ts_cli) * 1e3, "ms", ref="c-floor",
                 runs=5, via="initctl emit go")
    except Exception as exc:
        error("c", "event_100_tasks", OURS, repr(exc))
    finally:
        for o in inits.values():
            o.close()
    try:
        names = [f"t{i:03d}" for i in range(N)]
        with Supervisord(names, cmd="true") as p:
            p.wait_supervised()
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                p.rpc.supervisor.startAllProcesses(False)
                wait_until(lambda: p.all_exited(names), 60, 0.002)
                ts.append(time.perf_counter() - t0)
            emit("c", "event_100_tasks", "supervisord", median(ts) * 1e3, "ms", ref="c-floor",
                 runs=5, via="startAllProcesses, poll until all EXITED")
    except Exception as exc:
        error("c", "event_100_tasks", "supervisord", repr(exc))


def fig_d() -> None:
    from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, PROPERTIES_IFACE
    jobs = {f"s{i:04d}": f"start on ev{i} X=1\nexec sleep 100000\n" for i in range(1000)}
    n = 2000
    with Ours(jobs) as o:
        c = o.conn

        def pipelined(make) -> float:
            t0 = time.perf_counter()
            done = 0
            while done < n:
                serials = [make() for _ in range(100)]
                for s in serials:
                    c.wait_reply(s)
                done += 100
            return done / (time.perf_counter() - t0)

        null = [pipelined(lambda: c.send(MANAGER_PATH, PROPERTIES_IFACE, "Get", "ss",
                                         (MANAGER_IFACE, "version")))
                for _ in range(3)]
        emit("d", "events_per_s_daemon", "null-request", median(null), "requests/s",
             "higher", is_ref=True, note="Properties.Get on our init, same client")
        ev = [pipelined(lambda: c.send(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb",
                                       ("nothing-matches", [], False)))
              for _ in range(3)]
        emit("d", "events_per_s_daemon", OURS, median(ev), "events/s", "higher",
             ref="null-request", classes=1000, events=n,
             note="EmitEvent wait=false over D-Bus, 100 in flight")


def main() -> int:
    fig_c()
    try:
        fig_d()
    except Exception as exc:
        error("d", "events_per_s_daemon", OURS, repr(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
