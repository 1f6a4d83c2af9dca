"""Spawn throughput of the process Supervisor: spawn `true`, reap, repeat.

Prints one JSON line per configuration: path (posix_spawn fast path or fork
path), console (none/log), heap size (a bytearray allocated and touched,
to show whether spawning slows down with a big init), spawns per second.
Usage: python bench/spawn.py [--count N] [--heap-mb 500] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))

from process_harness import Harness, request  # noqa: E402
from upstart.process.notes import Exited  # noqa: E402

WINDOW = 32   # processes in flight at most


def measure(count: int, path: str, console: str, logdir: str) -> float:
    stanzas = {"console": console}
    if path == "fork":
        stanzas["nice"] = 0          # a stanza that needs code in the child
    h = Harness(logdir=logdir, session_init=True)
    req = request("true", env=("PATH=/usr/bin:/bin",), **stanzas)
    live: set[int] = set()
    done = 0
    start = time.perf_counter()
    try:
        spawned = 0
        while done < count:
            while spawned < count and len(live) < WINDOW:
                live.add(h.spawn(req))
                spawned += 1
            h.run(0)
            for note in h.notes:
                if isinstance(note, Exited) and note.pid in live:
                    live.discard(note.pid)
                    done += 1
            h.notes.clear()
            if live and not h.notes:
                h.run(0.0005)
        return count / (time.perf_counter() - start)
    finally:
        h.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--heap-mb", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="fewer spawns, 100 MB heap")
    args = ap.parse_args()
    if args.quick:
        args.count, args.heap_mb = 300, 100
    heap = None
    with tempfile.TemporaryDirectory() as logdir:
        for heap_mb in (0, args.heap_mb):
            if heap_mb:
                heap = bytearray(heap_mb << 20)
                for i in range(0, len(heap), 4096):   # touch every page
                    heap[i] = 1
            for path, console in (("posix_spawn", "none"), ("posix_spawn", "log"),
                                  ("fork", "none")):
                rate = measure(args.count, path, console, logdir)
                print(json.dumps({"bench": "spawn", "path": path, "console": console,
                                  "heap_mb": heap_mb, "count": args.count,
                                  "spawns_per_s": round(rate, 1)}), flush=True)
    del heap


if __name__ == "__main__":
    main()
