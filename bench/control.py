"""Benchmark of the control plane: initctl start-up and server throughput.

Runs a ControlServer (in-memory test backend, its own thread) and prints
JSON lines:
  {"bench": "initctl_status_wall", "median_ms": ..., "target_ms": 20}
      median wall time of `initctl status svc` as a subprocess (interpreter
      start included);
  {"bench": "initctl_status_inproc", "median_ms": ...}
      the same command run by `main()` in this process (no interpreter start);
  {"bench": "requests_per_second", "value": ..., "target": 5000}
      `Properties.Get` calls answered per second for one persistent client;
  {"bench": "pipelined_requests_per_second", "value": ...}
      the same with 100 calls in flight (what `initctl list` does).
Usage: python bench/control.py [--runs N] [--requests N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from upstart.cli import initctl  # noqa: E402
from upstart.control.client import Connection  # noqa: E402
from control_harness import ServerThread  # noqa: E402
from membackend import MemoryBackend, ToyJob  # noqa: E402

M = "/com/ubuntu/Upstart"
PI = "org.freedesktop.DBus.Properties"


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def bench_wall(address: str, runs: int) -> None:
    exe = Path(sys.executable).parent / "initctl"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "upstart.cli.initctl"]
    env = dict(os.environ, UPSTART_SESSION=address)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd + ["status", "svc"], env=env, capture_output=True)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit("initctl failed: %r" % p.stderr)
    emit({"bench": "initctl_status_wall", "median_ms": round(statistics.median(times) * 1e3, 2),
          "min_ms": round(min(times) * 1e3, 2), "runs": runs, "target_ms": 20})


def bench_inproc(address: str, runs: int) -> None:
    os.environ["UPSTART_SESSION"] = address
    times = []
    for _ in range(runs):
        out = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = initctl.main(["initctl", "status", "svc"])
        times.append(time.perf_counter() - t0)
        assert code == 0, out.getvalue()
    emit({"bench": "initctl_status_inproc",
          "median_ms": round(statistics.median(times) * 1e3, 3), "runs": runs})


def bench_requests(address: str, n: int) -> None:
    with Connection(address) as conn:
        args = (M, PI, "Get", "ss", ("com.ubuntu.Upstart0_6", "version"))
        for _ in range(100):
            conn.call(*args)
        t0 = time.perf_counter()
        for _ in range(n):
            conn.call(*args)
        rate = n / (time.perf_counter() - t0)
        emit({"bench": "requests_per_second", "value": round(rate), "requests": n,
              "target": 5000})
        t0 = time.perf_counter()
        done = 0
        while done < n:
            serials = [conn.send(*args) for _ in range(100)]
            for s in serials:
                conn.wait_reply(s)
            done += 100
        rate = done / (time.perf_counter() - t0)
        emit({"bench": "pipelined_requests_per_second", "value": round(rate), "requests": done})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--requests", type=int, default=20000)
    opts = parser.parse_args()
    backend = MemoryBackend([ToyJob("svc")] + [ToyJob("job%d" % i) for i in range(50)])
    with ServerThread(backend) as st:
        st.call(backend.set_state_of, "svc", "", "start", "running", [("main", 4242)])
        bench_wall(st.address, opts.runs)
        bench_inproc(st.address, opts.runs)
        bench_requests(st.address, opts.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
