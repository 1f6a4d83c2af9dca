"""(e) memory of the idle supervisor with 0, 100 and 1,000 jobs loaded, and
(f) start until 1,000 jobs are listed; plus `initctl list` of 1,000 jobs.

Ours: `init --user` (session mode) with N job files `exec sleep 100000`, none
running. (f) runs from the exec of init until a persistent client's
`GetAllJobs` returns 1,000 paths (polled every millisecond), then checks that
`initctl list` prints 1,000 lines and times that command. (e) reads VmRSS and
Pss (/proc/PID/smaps_rollup) 0.3 s later. Peers: the same N programs/services,
down; their supervisor's whole process tree is counted (runit and s6 run one
supervisor process per service, so Pss, which splits shared pages, is the
fair figure; RSS is kept in the raw JSON). KB per job = (M1000 - M100) / 900.
The reference for (e) and (f) is supervisord, the other Python supervisor.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time

from common import BIN, OURS, emit, error, pss_kb, rss_kb, tree_pss_kb, tree_rss_kb, wait_until
from peers import PEERS

SIZES = (0, 100, 1000)


def ours(n: int) -> dict:
    from init_harness import DEFAULT_PATH, descendants, write_jobs
    from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, ConnectError, Connection
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-init-") as tmp:
        conf, log, xdg = (os.path.join(tmp, d) for d in ("conf", "log", "xdg"))
        for d in (conf, log, xdg):
            os.makedirs(d)
        write_jobs(conf, {f"j{i:04d}": "exec sleep 100000\n" for i in range(n)})
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": tmp, "XDG_RUNTIME_DIR": xdg}
        t0 = time.perf_counter()
        proc = subprocess.Popen([os.path.join(BIN, "init"), "--user", "--confdir", conf,
                                 "--logdir", log, "--no-dbus", "--no-startup-event"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        address = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{proc.pid}"
        conn = None
        try:
            def listed() -> bool:
                nonlocal conn
                if proc.poll() is not None:
                    raise RuntimeError("init exited")
                try:
                    if conn is None:
                        conn = Connection(address)
                    return len(conn.call(MANAGER_PATH, MANAGER_IFACE, "GetAllJobs")[0]) == n
                except ConnectError:
                    return False
            wait_until(listed, 60)
            out["ready_s"] = time.perf_counter() - t0
            conn.close()
            cmd_env = {"PATH": env["PATH"], "UPSTART_SESSION": address}
            t1 = time.perf_counter()
            r = subprocess.run([os.path.join(BIN, "initctl"), "list"], env=cmd_env,
                               capture_output=True, text=True)
            out["list_ms"] = (time.perf_counter() - t1) * 1e3
            out["listed"] = len(r.stdout.splitlines())
            time.sleep(0.3)
            out["rss_kb"], out["pss_kb"] = rss_kb(proc.pid), pss_kb(proc.pid)
        finally:
            family = descendants(proc.pid)
            proc.kill()
            proc.wait()
            for pid in family:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
    return out


def peer(cls, n: int) -> dict:
    with cls([f"p{i:04d}" for i in range(n)]) as p:
        if n:
            p.wait_supervised(120)
        else:
            time.sleep(0.3)
        out = {"ready_s": time.monotonic() - p.t_exec}
        time.sleep(0.3)
        out["rss_kb"], out["pss_kb"] = tree_rss_kb(p.proc.pid), tree_pss_kb(p.proc.pid)
        out["processes"] = len(__import__("common").tree(p.proc.pid))
    return out


def report(system: str, got: dict[int, dict]) -> None:
    is_ref = {"is_ref": True} if system == "supervisord" else {"ref": "supervisord"}
    targets = {0: {"target": "(C Upstart: 3.6 MB RSS)", "upstart_c": 3.6},
               100: {"target": "<= 30 MB", "target_value": 30},
               1000: {"target": "(C Upstart: 6.9 MB RSS)", "upstart_c": 6.9}}
    for n in SIZES:
        if n in got:
            g = got[n]
            emit("e", f"memory_{n}_jobs", system, g["pss_kb"] / 1024, "MB (Pss)",
                 rss_mb=round(g["rss_kb"] / 1024, 2), processes=g.get("processes", 1),
                 **(targets[n] if system == OURS else {}), **is_ref)
    if 100 in got and 1000 in got:
        emit("e", "kb_per_job", system, (got[1000]["pss_kb"] - got[100]["pss_kb"]) / 900,
             "KB/job (Pss)",
             rss_kb_per_job=round((got[1000]["rss_kb"] - got[100]["rss_kb"]) / 900, 2),
             **({"target": "<= 30 KB (C Upstart: 3.4 KB)", "target_value": 30,
                 "upstart_c": 3.4} if system == OURS else {}),
             **is_ref)
    if 1000 in got:
        emit("f", "ready_1000_jobs", system, got[1000]["ready_s"], "s",
             **({"target": "<= 0.30 s (C Upstart: 0.20 s)", "target_value": 0.3,
                 "upstart_c": 0.2} if system == OURS else {}),
             **is_ref)
        if "list_ms" in got[1000]:
            emit("f", "initctl_list_1000_jobs", system, got[1000]["list_ms"], "ms",
                 target="(C Upstart: 151 ms)", upstart_c=151, listed=got[1000]["listed"])


def main() -> int:
    systems = [(OURS, ours)] + [(c.name, functools.partial(peer, c)) for c in PEERS]
    for name, fn in systems:
        got = {}
        for n in SIZES:
            try:
                got[n] = fn(n)
            except Exception as exc:
                error("ef", f"memory_{n}_jobs", name, repr(exc))
        report(name, got)
    return 0


if __name__ == "__main__":
    sys.exit(main())
