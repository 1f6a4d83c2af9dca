"""(i)-(l) footprint of init (issue #23): start-up, memory under a soak, and
pipelined EmitEvent on one connection. Ours only, each figure beside the
Python floor measured in the same run and beside real Upstart 1.13.2's
published number (`upstart_c`, from the issue).

(i) init ready: exec of `init --user --no-dbus` (no jobs) until a client,
    already running in this process (the C client's role: no interpreter
    start of its own), gets the answer to `Properties.Get version`; polled
    every 0.5 ms. Interleaved run by run with `python3 -c pass` (the
    reference) and `python3 -S -c pass` of the same interpreter.
(j) memory soak: 100 task jobs `start on go` / `exec true`, `EmitEvent go`
    (wait=true) 300 times = 30,000 task runs; VmRSS of init after every emit
    (the chart), the growth over the last third (the last 100 emits). Then
    RSS idle (before the soak) and after.
(k) a million events: 1,000 classes `start on ev<i> X=1`, 1,000,000
    `EmitEvent nothing-matches` (wait=false), 1,000 in flight; VmRSS every
    50,000 events (the chart) and at the end.
(l) EmitEvent throughput: 2,000 `EmitEvent` (wait=false, no job matches)
    pipelined on one connection, all in flight at once, while a second
    connection (a thread that only reads its socket) receives the signals;
    rate = 2,000 / time until the last reply; then every `EventEmitted`
    received by the second connection is checked to be there, in order.
    Also init's CPU time per EmitEvent (/proc/PID/schedstat) and the rate it
    would answer at if it had a core to itself (`cpu_bound_rate_per_s`).
    Reference: the null request (`Properties.Get`) pipelined the same way,
    its CPU time per call too, and the host's load average.

Writes the RSS series to bench/build/soak.json; run.py draws them
(docs/benchmarks-soak.png). Usage: python bench/footprint.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import BIN, HERE, OURS, Listener, Ours, cpu_s, emit, error, median, rss_kb

SOAK_JSON = os.path.join(HERE, "build", "soak.json")
READY_RUNS = 11
TASKS = {f"t{i:03d}": "start on go\ntask\nexec true\n" for i in range(100)}
CLASSES = {f"s{i:04d}": f"start on ev{i} X=1\nexec sleep 100000\n" for i in range(1000)}


def _manager():
    from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, PROPERTIES_IFACE
    return MANAGER_PATH, MANAGER_IFACE, PROPERTIES_IFACE


# ------------------------------------------------------------ (i) ready

def ready_once() -> float:
    from upstart.control.client import ConnectError, Connection
    path, iface, props = _manager()
    with tempfile.TemporaryDirectory(prefix="bench-ready-") as tmp:
        dirs = [os.path.join(tmp, d) for d in ("conf", "log", "xdg")]
        for d in dirs:
            os.makedirs(d)
        env = {"PATH": BIN + ":/usr/bin:/bin", "HOME": tmp, "XDG_RUNTIME_DIR": dirs[2]}
        t0 = time.perf_counter()
        proc = subprocess.Popen([os.path.join(BIN, "init"), "--user", "--confdir", dirs[0],
                                 "--logdir", dirs[1], "--no-dbus", "--no-startup-event"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        address = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{proc.pid}"
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("init exited")
                try:
                    conn = Connection(address)
                except ConnectError:
                    time.sleep(0.0005)
                    continue
                conn.call(path, props, "Get", "ss", (iface, "version"))
                dt = time.perf_counter() - t0
                conn.close()
                return dt
        finally:
            proc.kill()
            proc.wait()


def fig_ready() -> None:
    floors = {"python -c pass": [sys.executable, "-c", "pass"],
              "python -S -c pass": [sys.executable, "-S", "-c", "pass"]}
    ts: dict[str, list[float]] = {k: [] for k in [*floors, OURS]}
    ready_once()                                   # warm the page cache
    for _ in range(READY_RUNS):
        for k, argv in floors.items():
            t0 = time.perf_counter()
            subprocess.run(argv)
            ts[k].append(time.perf_counter() - t0)
        ts[OURS].append(ready_once())
    emit("i", "init_ready", "python -c pass", median(ts["python -c pass"]) * 1e3, "ms",
         is_ref=True, runs=READY_RUNS, note="interleaved with the init runs")
    emit("i", "init_ready", "python -S -c pass", median(ts["python -S -c pass"]) * 1e3, "ms",
         ref="python -c pass", runs=READY_RUNS)
    emit("i", "init_ready", OURS, median(ts[OURS]) * 1e3, "ms", ref="python -c pass",
         runs=READY_RUNS, target="<= 8x python -c pass (aim 5x; C Upstart: 5 ms)",
         target_ratio=8, upstart_c=5, via="exec until Properties.Get version answers")


# ------------------------------------------------------------ (j) soak

def fig_soak(series: dict) -> None:
    with Ours(TASKS) as o:
        time.sleep(0.3)
        idle = rss_kb(o.pid)
        o.emit("go")                               # the first run: warm-up, counted
        rss = [rss_kb(o.pid)]
        t0 = time.perf_counter()
        for _ in range(299):
            o.emit("go")
            rss.append(rss_kb(o.pid))
        wall = time.perf_counter() - t0
        done = o.initctl("status", "t000")
        if done.returncode:
            raise RuntimeError(done.stderr)
    series["soak"] = {"x": list(range(1, 301)), "rss_kb": rss, "idle_kb": idle}
    emit("j", "rss_idle", OURS, idle / 1024, "MB", note="100 task classes loaded, none run",
         upstart_c=None)
    emit("j", "rss_30000_task_runs", OURS, rss[-1] / 1024, "MB",
         target="<= 30 MB (C Upstart: 5.4 MB)", target_value=30, upstart_c=5.4,
         emits=300, tasks_per_emit=100, soak_s=round(wall, 1),
         peak_mb=round(max(rss) / 1024, 2))
    emit("j", "rss_growth_last_100_emits", OURS, (rss[-1] - rss[-101]) / 1024, "MB",
         target="<= 1 MB", target_value=1, first_third_mb=round((rss[99] - rss[0]) / 1024, 2))


# ------------------------------------------------------------ (k) a million events

def _drain(conn) -> None:
    """Forget the signals a sending connection was sent (it never reads them)."""
    conn.signals.clear()


def fig_million(series: dict, n: int) -> None:
    path, iface, _props = _manager()
    step = 50000
    with Ours(CLASSES) as o:
        c = o.conn
        time.sleep(0.3)
        xs, rss = [0], [rss_kb(o.pid)]
        t0 = time.perf_counter()
        done = 0
        while done < n:
            serials = [c.send(path, iface, "EmitEvent", "sasb", ("nothing-matches", [], False))
                       for _ in range(1000)]
            for s in serials:
                c.wait_reply(s)
            _drain(c)
            done += 1000
            if done % step == 0 or done >= n:
                xs.append(done)
                rss.append(rss_kb(o.pid))
        wall = time.perf_counter() - t0
    series["million"] = {"x": xs, "rss_kb": rss}
    emit("k", f"rss_after_{n}_events", OURS, rss[-1] / 1024, "MB",
         target="<= 35 MB", target_value=35, classes=1000, events=n,
         rate_per_s=round(n / wall), wall_s=round(wall, 1), start_mb=round(rss[0] / 1024, 2))


# ------------------------------------------------------------ (l) throughput

def fig_throughput(runs: int = 5, n: int = 2000) -> None:
    from upstart.control import wire
    path, iface, props = _manager()
    with Ours({}) as o:
        c = o.conn

        def pipelined(make) -> float:
            t0 = time.perf_counter()
            serials = [make(i) for i in range(n)]
            for s in serials:
                c.wait_reply(s)
            dt = time.perf_counter() - t0
            _drain(c)
            return n / dt

        null, rate, ok, cpu, null_cpu = [], [], [], [], []
        for _ in range(runs):
            c0 = cpu_s(o.pid)
            null.append(pipelined(lambda i: c.send(path, props, "Get", "ss", (iface, "version"))))
            null_cpu.append((cpu_s(o.pid) - c0) / n * 1e6)
            lis = Listener(o.address)
            lis.start()
            c0 = cpu_s(o.pid)
            rate.append(pipelined(lambda i: c.send(path, iface, "EmitEvent", "sasb",
                                                   ("nothing-matches", [f"N={i}"], False))))
            cpu.append((cpu_s(o.pid) - c0) / n * 1e6)
            o.conn.call(path, props, "Get", "ss", (iface, "version"))   # a barrier
            time.sleep(0.2)
            lis.stop = True
            lis.join()
            got = [m.body[1] for m in lis.signals()
                   if m.fields.get(wire.F_MEMBER) == "EventEmitted"]
            lis.conn.close()
            ok.append(got == [[f"N={i}"] for i in range(n)])
        emit("l", "emit_pipelined_per_s", "null-request", median(null), "requests/s", "higher",
             is_ref=True, init_cpu_us_per_call=round(median(null_cpu), 1),
             load_average=round(os.getloadavg()[0], 2),
             note="Properties.Get pipelined the same way, same connection")
        emit("l", "emit_pipelined_per_s", OURS, median(rate), "events/s", "higher",
             ref="null-request", target=">= 20,000/s (C Upstart: 32,600/s)",
             target_value=20000, upstart_c=32600, in_flight=n, runs=runs,
             signals_in_order=all(ok), init_cpu_us_per_emit=round(median(cpu), 1),
             cpu_bound_rate_per_s=round(1e6 / median(cpu)),
             note="EmitEvent wait=false, a second connection receiving EventEmitted")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--only", default="ready,soak,million,throughput")
    opts = ap.parse_args()
    only = set(opts.only.split(","))
    series: dict = {}
    for name, fn in (("ready", fig_ready), ("throughput", fig_throughput),
                     ("soak", lambda: fig_soak(series)),
                     ("million", lambda: fig_million(series, opts.events))):
        if name not in only:
            continue
        try:
            fn()
        except Exception as exc:
            error({"ready": "i", "soak": "j", "million": "k", "throughput": "l"}[name], name,
                  OURS, repr(exc))
    if series:
        os.makedirs(os.path.dirname(SOAK_JSON), exist_ok=True)
        with open(SOAK_JSON, "w") as f:
            json.dump(series, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
