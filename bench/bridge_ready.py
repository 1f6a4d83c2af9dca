"""The udev bridge's start (issue #21): from exec to READY=1, and what it imports.

In a boot the coldplug waits for `ready upstart-udev-bridge`, which the bridge
says on `$NOTIFY_SOCKET` once its udev monitor is open, so its start is on
the critical path. This runs a Session Init, then starts the bridge `--user
--no-link-events` against it N times, each in a fresh process with its own
NOTIFY_SOCKET, and reports the best and all times from `exec` until the
datagram arrives; then once more with `PYTHONPROFILEIMPORTTIME=1`, to count
the modules CPython imported by then and say whether asyncio was one.

    .venv/bin/python bench/bridge_ready.py [--runs 5] [--src TREE]

`--src TREE`: run the bridge from another checkout's `upstart` package (put
first on its PYTHONPATH, run from `/`), e.g. `git archive` of an older commit,
for before/after numbers with this venv's pyudev. Numbers: reactor.md.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "support"))
from init_harness import SessionInit  # noqa: E402

START = "from upstart.bridges.udev import main; raise SystemExit(main())"
IMPORT = re.compile(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$", re.M)


def start_once(init: SessionInit, src: str | None, n: int, extra: dict) -> tuple[float, str]:
    """Seconds from exec to READY=1, and the bridge's stderr."""
    name = "/upstart-py/bridge-ready/%d/%d" % (os.getpid(), n)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind("\0" + name)
        notify.settimeout(60)
        env = dict(os.environ, UPSTART_SESSION=init.address, NOTIFY_SOCKET="@" + name, **extra)
        if src:
            env["PYTHONPATH"] = src
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", START, "--user", "--no-link-events"],
                                env=env, cwd="/", stdin=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            data = notify.recv(64)
            elapsed = time.perf_counter() - t0
        finally:
            proc.terminate()
            err = proc.communicate(timeout=30)[1]
    if not data.startswith(b"READY=1"):
        raise RuntimeError("not READY=1: %r" % data)
    return elapsed, err


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--src", help="the checkout whose `upstart` package to run")
    opts = ap.parse_args()
    with SessionInit() as init:
        times = [start_once(init, opts.src, n, {})[0] for n in range(opts.runs)]
        _, err = start_once(init, opts.src, opts.runs, {"PYTHONPROFILEIMPORTTIME": "1"})
    modules = set(IMPORT.findall(err))
    print("exec -> READY=1: best %.1f ms (of %s)" % (
        min(times) * 1000, ", ".join("%.1f" % (t * 1000) for t in times)))
    print("modules imported by READY=1: %d; asyncio among them: %s" % (
        len(modules), "asyncio" in modules))


if __name__ == "__main__":
    main()
