"""(h) wall time of `initctl status JOB` and `initctl version` against our real
init (session mode, one running job), median of runs, interpreter start
included. References in the same run: `python3 -S -c pass` and `python3 -c
pass` of the same interpreter (the floor of any Python command), and the
peers' status commands: `supervisorctl status`, `sv status`, `s6-svstat`
(and `supervisorctl version`).
"""

from __future__ import annotations

import subprocess
import sys
import time

from common import OURS, Ours, emit, error, median, python_floor_ms
from peers import PEERS, Supervisord

RUNS = 21


def wall(fn) -> float:
    ts = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return median(ts) * 1e3


def main() -> int:
    for bench in ("initctl_status", "initctl_version"):
        emit("h", bench, "python -S -c pass", python_floor_ms(RUNS), "ms", is_ref=True)
        emit("h", bench, "python -c pass", python_floor_ms(RUNS, ()), "ms",
             ref="python -S -c pass")
    try:
        with Ours({"svc": "exec sleep 100000\n"}) as o:
            o.call_all(["svc"], "Start")
            for bench, args, target, tv in (
                    ("initctl_status", ("status", "svc"), "<= 20 ms", 20),
                    ("initctl_version", ("version",), "<= 15 ms", 15)):
                def run(args=args) -> None:
                    if o.initctl(*args).returncode:
                        raise RuntimeError("initctl failed")
                emit("h", bench, OURS, wall(run), "ms", ref="python -S -c pass",
                     target=target + " (C Upstart: %s)" % ("3.5 ms" if "version" in bench
                                                          else "n/a"),
                     target_value=tv, runs=RUNS,
                     **({"upstart_c": 3.5} if "version" in bench else {}))
    except Exception as exc:
        error("h", "initctl", OURS, repr(exc))
    for cls in PEERS:
        try:
            with cls(["p0"]) as p:
                p.wait_supervised()
                p.start(["p0"])
                emit("h", "initctl_status", cls.name, wall(lambda: p.cli_status("p0")), "ms",
                     ref="python -S -c pass", runs=RUNS,
                     command={"supervisord": "supervisorctl status", "runit": "sv status",
                              "s6": "s6-svstat"}[cls.name])
                if cls is Supervisord:
                    emit("h", "initctl_version", cls.name,
                         wall(lambda: subprocess.run([p.supervisorctl, "-c", p.conf, "version"],
                                                     stdout=subprocess.DEVNULL, check=True)),
                         "ms", ref="python -S -c pass", runs=RUNS,
                         command="supervisorctl version")
        except Exception as exc:
            error("h", "status", cls.name, repr(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
