"""Boot time: from the exec of PID 1 to all of 100 simple jobs running.

init runs as PID 1 of fresh namespaces (tests/e2e/init_harness.Pid1Init) with
100 jobs `start on startup` / `exec sleep`; we poll `initctl list` (through
the D-Bus socket, like an administrator) until all 100 are running. The clock
starts just before the exec of unshare, so it includes the interpreter start.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "e2e"))
from init_harness import Pid1Init  # noqa: E402

JOBS = {f"j{i:03d}": "start on startup\nexec sleep 100000\n" for i in range(100)}


def one() -> float:
    t0 = time.monotonic()
    init = Pid1Init(jobs=JOBS, args=())
    try:
        while True:
            out = init.run("initctl", "list").stdout
            if out.count("start/running") == 100:
                return time.monotonic() - t0
            if time.monotonic() - t0 > 30:
                raise RuntimeError("jobs did not all start")
            time.sleep(0.01)
    finally:
        init.close()


def main() -> None:
    runs = [one() for _ in range(5)]
    print(json.dumps({"bench": "boot_100_jobs", "median_ms": round(statistics.median(runs) * 1000, 1),
                      "runs": len(runs), "target_ms": 500}))


if __name__ == "__main__":
    main()
