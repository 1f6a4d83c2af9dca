"""Before/after for figure (l) (issue #23 item 5): init from two source trees,
run side by side and measured alternately, so both see the same host load.

  python bench/throughput_ab.py TREE_A TREE_B [ROUNDS]   (PING=1: the floor is Peer.Ping)

Each TREE is a checkout with a .venv (a `git worktree add --detach DIR COMMIT`
with this tree's .venv linked into it will do). Per round and per tree: 2,000
`EmitEvent` (wait=false, no job matching) pipelined on one connection while a
second connection reads the signals, then 2,000 null requests
(`Properties.Get`, or `Peer.Ping`) pipelined the same way; init's CPU time
per call from /proc/PID/schedstat. Prints min and median per tree.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import Listener, cpu_s

N = 2000
PROPS = "org.freedesktop.DBus.Properties"
LAUNCH = "import sys; sys.argv[0] = 'init'; from upstart.cli import init; init.main()"


def start(tree: str, tmp: str) -> subprocess.Popen:
    for d in ("conf", "log", "xdg"):
        os.makedirs(os.path.join(tmp, d))
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "XDG_RUNTIME_DIR": tmp + "/xdg",
           "PYTHONPATH": tree}
    return subprocess.Popen(
        [tree + "/.venv/bin/python", "-c", LAUNCH, "--user", "--confdir", tmp + "/conf",
         "--logdir", tmp + "/log", "--no-dbus", "--no-startup-event"],
        env=env, cwd=tree, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def main() -> int:
    trees = sys.argv[1:3]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, Connection
    tmp = tempfile.mkdtemp(prefix="bench-ab-")
    procs = [start(t, os.path.join(tmp, str(i))) for i, t in enumerate(trees)]
    conns = []
    try:
        for p in procs:
            addr = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{p.pid}"
            for _ in range(3000):
                try:
                    c = Connection(addr)
                    c.call(MANAGER_PATH, PROPS, "Get", "ss", (MANAGER_IFACE, "version"))
                    break
                except Exception:
                    time.sleep(0.01)
            lis = Listener(addr, keep=False)
            lis.start()
            conns.append((c, lis))

        def run(i: int, emit: bool) -> float:
            c = conns[i][0]
            c0 = cpu_s(procs[i].pid)
            if emit:
                ss = [c.send(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb",
                             ("nothing-matches", [f"N={k}"], False)) for k in range(N)]
            elif os.environ.get("PING"):
                ss = [c.send(MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", "", ())
                      for _ in range(N)]
            else:
                ss = [c.send(MANAGER_PATH, PROPS, "Get", "ss", (MANAGER_IFACE, "version"))
                      for _ in range(N)]
            for s in ss:
                c.wait_reply(s)
            return (cpu_s(procs[i].pid) - c0) / N * 1e6

        res: dict[tuple[int, bool], list[float]] = {}
        for _ in range(rounds):
            for i in (0, 1):
                for emit in (True, False):
                    res.setdefault((i, emit), []).append(run(i, emit))
        for i, t in enumerate(trees):
            e, n = sorted(res[(i, True)]), sorted(res[(i, False)])
            print(f"{t}: EmitEvent µs/call min {e[0]:.1f} median {statistics.median(e):.1f}"
                  f" | null min {n[0]:.1f} median {statistics.median(n):.1f}")
    finally:
        for _c, lis in conns:
            lis.stop = True
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
