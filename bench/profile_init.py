"""Where our init's time goes under one benchmark's workload (cProfile).

  python bench/profile_init.py WORKLOAD     (start_rate, start_latency_client,
                                             event_100_tasks, events_per_s_daemon,
                                             ready_1000_jobs, throughput)

Runs `init --user` under cProfile (a launcher calls upstart.cli.init.main with
the profiler enabled and dumps the stats when init exits on SIGTERM), drives
the workload from a persistent client, then prints JSON rows: the wall time
of the workload, the CPU time init spent (profiled, so inflated), and the top
functions by own time and by cumulative time. Writes bench/build/profile-WORKLOAD.txt
(the pstats listing) too.
"""

from __future__ import annotations

import io
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time

from common import BIN, HERE, REPO, Listener, cpu_s, wait_until

LAUNCHER = r"""
import cProfile, sys
sys.path.insert(0, %(repo)r)
sys.argv = [%(init)r] + sys.argv[1:]
from upstart.cli import init
prof = cProfile.Profile()
prof.enable()
try:
    init.main()
finally:
    prof.disable()
    prof.dump_stats(%(out)r)
"""


def workloads():
    from upstart.control.client import JOB_IFACE, MANAGER_IFACE, MANAGER_PATH

    def starts(conn, names, rounds):
        paths = [conn.call(MANAGER_PATH, MANAGER_IFACE, "GetJobByName", "s", (n,))[0]
                 for n in names]
        for _ in range(rounds):
            for method in ("Start", "Stop"):
                serials = [conn.send(p, JOB_IFACE, method, "asb", ([], True)) for p in paths]
                for s in serials:
                    conn.wait_reply(s)

    def emits(conn, name, n, wait, batch):
        done = 0
        while done < n:
            serials = [conn.send(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb",
                                 (name, [], wait)) for _ in range(batch)]
            for s in serials:
                conn.wait_reply(s)
            done += batch

    def listened(conn, runs, n):
        lis = Listener(conn.address, keep=False)
        lis.start()
        for _ in range(runs):
            serials = [conn.send(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb",
                                 ("nothing-matches", [f"N={i}"], False)) for i in range(n)]
            for s in serials:
                conn.wait_reply(s)
        lis.stop = True
        lis.join()
        lis.conn.close()

    svc = {f"j{i:03d}": "exec sleep 100000\n" for i in range(100)}
    return {
        "start_rate": (svc, lambda c: starts(c, list(svc), 10)),
        "start_latency_client": (svc, lambda c: starts(c, ["j000"], 100)),
        "event_100_tasks": ({f"t{i:03d}": "start on go\ntask\nexec true\n" for i in range(100)},
                            lambda c: emits(c, "go", 10, True, 1)),
        "events_per_s_daemon": ({f"s{i:04d}": f"start on ev{i} X=1\nexec sleep 100000\n"
                                 for i in range(1000)},
                                lambda c: emits(c, "nothing-matches", 2000, False, 100)),
        # issue #23 item 5 (footprint.py figure l): pipelined, a second connection listening
        "throughput": ({}, lambda c: listened(c, 5, 2000)),
        # its floor: the null request (Properties.Get) pipelined the same way
        "throughput_null": ({}, lambda c: [c.wait_reply(s) for s in [
            c.send(MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                   (MANAGER_IFACE, "version")) for _ in range(10000)]]),
        "ready_1000_jobs": ({f"j{i:04d}": "exec sleep 100000\n" for i in range(1000)},
                            lambda c: None),
    }


def main() -> int:
    from init_harness import DEFAULT_PATH, descendants, write_jobs
    from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, ConnectError, Connection
    name = sys.argv[1] if len(sys.argv) > 1 else "events_per_s_daemon"
    jobs, work = workloads()[name]
    os.makedirs(os.path.join(HERE, "build"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-prof-") as tmp:
        conf, log, xdg = (os.path.join(tmp, d) for d in ("conf", "log", "xdg"))
        for d in (conf, log, xdg):
            os.makedirs(d)
        write_jobs(conf, jobs)
        out = os.path.join(tmp, "init.prof")
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": tmp, "XDG_RUNTIME_DIR": xdg}
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER % {"repo": REPO, "init": os.path.join(BIN, "init"),
                                               "out": out},
             "--user", "--confdir", conf, "--logdir", log, "--no-dbus", "--no-startup-event"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        address = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{proc.pid}"
        conn = None
        try:
            def up() -> bool:
                nonlocal conn
                try:
                    conn = Connection(address)
                    return len(conn.call(MANAGER_PATH, MANAGER_IFACE, "GetAllJobs")[0]) \
                        == len(jobs)
                except ConnectError:
                    return False
            wait_until(up, 60, 0.005)
            cpu0 = cpu_s(proc.pid)
            t0 = time.perf_counter()
            work(conn)
            wall = time.perf_counter() - t0
            cpu = cpu_s(proc.pid) - cpu0
            conn.close()
            family = descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                family = descendants(proc.pid)
                proc.kill()
                proc.wait()
            for pid in family if "family" in dir() else []:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        stats = pstats.Stats(out)
        stats.dump_stats(os.path.join(HERE, "build", f"profile-{name}.prof"))
    text = io.StringIO()
    stats.stream = text
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)
    with open(os.path.join(HERE, "build", f"profile-{name}.txt"), "w") as f:
        f.write(text.getvalue())
    print(json.dumps({"profile": name, "wall_s": round(wall, 3), "init_cpu_s": round(cpu, 3),
                      "total_tt": round(stats.total_tt, 3)}))
    focus = {
        "D-Bus signals (ControlServer.broadcast)": ("control/server.py", "broadcast"),
        "D-Bus serialisation (jeepney Message.serialise)": ("jeepney/low_level.py",
                                                            "serialise", 480),
        "socket send()": ("~", "<method 'send' of '_socket.socket' objects>"),
        # the recorder reading one batch of effects (records made, not yet written)
        "event records (observe recorder)": ("observe/service.py", "effects"),
        # the JSON-lines file: records serialised and written, once per loop turn
        "event log file (observe, serialise and write)": ("observe/service.py", "_flush"),
        "spawning (Supervisor.spawn)": ("process/supervisor.py", "spawn"),
        "posix_spawn": ("~", "<built-in method posix.posix_spawn>"),
        "engine (Engine._input)": ("core/engine.py", "_input"),
        "D-Bus requests read (Transport._readable)": ("control/transport.py", "_readable"),
    }
    idle = sum(tt for (fn, _l, func), (_c, _n, tt, _ct, _cs) in stats.stats.items()
               if "epoll" in func and "poll" in func)
    busy = stats.total_tt - idle
    print(json.dumps({"profile": name, "sort": "busy", "function": "init busy (not in epoll)",
                      "calls": "", "tottime": "", "cumtime": round(busy, 3), "share": 1.0}))
    for label, want in focus.items():
        ct = 0.0
        for (fn, line, func), (_cc, _nc, _tt, cum, _callers) in stats.stats.items():
            if fn.endswith(want[0]) and func == want[1] and (len(want) < 3 or line == want[2]):
                ct += cum
        print(json.dumps({"profile": name, "sort": "focus", "function": label,
                          "calls": "", "tottime": "", "cumtime": round(ct, 3),
                          "share": round(ct / busy, 3) if busy else 0}))
    for key in ("tottime", "cumulative"):
        rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2 if key == "tottime" else 3])
        for (fn, line, func), (_cc, nc, tt, ct, _callers) in rows[:15]:
            where = os.path.relpath(fn, REPO) if fn.startswith(REPO) else fn
            print(json.dumps({"profile": name, "sort": key,
                              "function": f"{where}:{line}({func})",
                              "calls": nc, "tottime": round(tt, 4), "cumtime": round(ct, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
