"""(h) wall time of `initctl status JOB` and `initctl version` against our real
init (session mode, one running job), median of runs, interpreter start
included. References in the same run: `python3 -c pass` (the reference:
issue #23 asks `initctl version` <= 1.3x of it) and `python3 -S -c pass` of
the same interpreter (the floor of any Python command), and the
peers' status commands: `supervisorctl status`, `sv status`, `s6-svstat`
(and `supervisorctl version`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import BIN, OURS, Ours, emit, error, median
from peers import PEERS, Supervisord

RUNS = 21


def interleaved(cmds: dict[str, list[str]], env: dict | None = None) -> dict[str, float]:
    """Median wall ms of each command, run round-robin so that load bursts hit all alike."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(RUNS):
        for k, argv in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[k].append(time.perf_counter() - t0)
    return {k: median(v) * 1e3 for k, v in times.items()}


def main() -> int:
    floors = {"python -S -c pass": [sys.executable, "-S", "-c", "pass"],
              "python -c pass": [sys.executable, "-c", "pass"]}
    try:
        with Ours({"svc": "exec sleep 100000\n"}) as o:
            o.call_all(["svc"], "Start")
            initctl = os.path.join(BIN, "initctl")
            got = interleaved({**floors, "initctl_status": [initctl, "status", "svc"],
                               "initctl_version": [initctl, "version"]},
                              env={"PATH": o.env["PATH"], "UPSTART_SESSION": o.address})
            if o.initctl("status", "svc").returncode:
                raise RuntimeError("initctl status failed")
        # issue #23: `initctl version` <= 1.3x `python -c pass` of the same run
        for bench, target, tr, c in (
                ("initctl_status", "<= 1.5x python -c pass", 1.5, None),
                ("initctl_version", "<= 1.3x python -c pass (C Upstart: 3.5 ms)", 1.3, 3.5)):
            emit("h", bench, "python -c pass", got["python -c pass"], "ms", is_ref=True,
                 runs=RUNS, note="interleaved with the initctl runs")
            emit("h", bench, "python -S -c pass", got["python -S -c pass"], "ms",
                 ref="python -c pass", runs=RUNS)
            emit("h", bench, OURS, got[bench], "ms", ref="python -c pass", target=target,
                 target_ratio=tr, runs=RUNS, **({"upstart_c": c} if c else {}))
    except Exception as exc:
        error("h", "initctl", OURS, repr(exc))
    for cls in PEERS:
        try:
            with cls(["p0"]) as p:
                p.wait_supervised()
                p.start(["p0"])
                t = {}
                for _ in range(RUNS):
                    for k, fn in (("status", lambda: p.cli_status("p0")),
                                  ("version", lambda: subprocess.run(
                                      [p.supervisorctl, "-c", p.conf, "version"],
                                      stdout=subprocess.DEVNULL, check=True))):
                        if k == "version" and cls is not Supervisord:
                            continue
                        t0 = time.perf_counter()
                        fn()
                        t.setdefault(k, []).append(time.perf_counter() - t0)
                emit("h", "initctl_status", cls.name, median(t["status"]) * 1e3, "ms",
                     ref="python -c pass", runs=RUNS,
                     command={"supervisorctl": "supervisorctl status", "runit": "sv status",
                              "s6": "s6-svstat"}.get(cls.name, "supervisorctl status"))
                if "version" in t:
                    emit("h", "initctl_version", cls.name, median(t["version"]) * 1e3, "ms",
                         ref="python -c pass", runs=RUNS, command="supervisorctl version")
        except Exception as exc:
            error("h", "status", cls.name, repr(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
