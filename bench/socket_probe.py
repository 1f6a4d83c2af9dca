"""What init's first socket watch costs: import of the socket source, a
`DiagProbe` and one unix `sock_diag` dump, in a fresh interpreter that has
already imported what init has at that point (`upstart.cli.init`, the daemon,
the readiness adapter and its spec parser; `ssl` kept out as init does).
Prints the best of N runs: wall time of the first probe, of a second one, the
modules it added and the growth of the peak RSS (docs/design/netlink.md).

    python bench/socket_probe.py [--runs 5] [--bare] [--tree DIR]

`--bare` imports nothing first (`python -c`: the probe's whole import chain).

`--tree DIR` measures another checkout (e.g. a worktree of an older commit):
its `upstart` package is put first on the path.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

INIT_HAS = ("upstart.cli.init", "upstart.daemon.daemon", "upstart.readiness.adapter",
            "upstart.readiness.spec")
CHILD = r"""
import importlib, os, resource, socket, sys, time
sys.modules["ssl"] = None
for m in sys.argv[1:]:
    importlib.import_module(m)
path = "/tmp/upstart-py-socket-probe-%d.sock" % os.getpid()
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen()
try:
    mods, rss = len(sys.modules), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    from upstart.readiness.socketsrc import DiagProbe
    from upstart.readiness.spec import parse_socket
    spec = parse_socket(("PROTO=unix", "PATH=" + path))
    probe = DiagProbe()
    got = probe.listeners(spec)
    t1 = time.perf_counter()
    probe.listeners(spec)
    t2 = time.perf_counter()
    assert got == [os.fstat(s.fileno()).st_ino], got
    print((t1 - t0) * 1e3, (t2 - t1) * 1e3, len(sys.modules) - mods,
          (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024,
          "pyroute2" in sys.modules)
finally:
    s.close()
    os.unlink(path)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bare", action="store_true",
                    help="import nothing before (the whole import chain is counted)")
    ap.add_argument("--tree", help="the checkout to measure (default: this one)")
    args = ap.parse_args()
    tree = os.path.abspath(args.tree or os.path.dirname(os.path.dirname(__file__)))
    env = dict(os.environ, PYTHONPATH=tree)
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD, *(() if args.bare else INIT_HAS)], env=env, cwd=tree,
                             capture_output=True, text=True, check=True).stdout.split()
        runs.append((float(out[0]), float(out[1]), int(out[2]), float(out[3]), out[4]))
    first, again, mods, rss, pyroute2 = min(runs)
    print(f"first probe {first:.1f} ms (best of {args.runs}), next {again:.3f} ms, "
          f"+{mods} modules, +{rss:.1f} MB peak RSS, pyroute2 imported: {pyroute2}")


if __name__ == "__main__":
    main()
