"""Readiness latency: from a job's readiness signal to init's `ready` event.

For each source (file, socket, notify from Python, notify via
systemd-notify, notify-fd, dbus) one job of a real `init --user` is started
N times; its producer writes the wall time just before its signal (the
file is created, listen(2), the datagram, the newline, RequestName), and
init's event log gives the wall time the `ready` event was queued. Prints
one JSON line per source:

  {"bench": "ready_latency", "source": "file", "median_ms": 0.41, "p90_ms": ...,
   "n": 15, "target_ms": 5}

Nothing polls init while a signal is in flight (the event log is read from
disk), so the figure is init's own latency plus the producer's last step.
For `socket` the figure is dominated by the re-check back-off (the kernel
has no listen(2) notification: upstart/readiness/socketsrc.py), and the
signal moment is random over 0.05-1 s after start, so the median is about
a quarter of the back-off step reached by then.

Usage: .venv/bin/python bench/ready.py [--n 15] [--only file,socket]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

from init_harness import SessionInit  # noqa: E402

PY = sys.executable
TARGET_MS = 5.0

SERVER = """\
import random, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(random.uniform(0.05, 1.0))
open(sys.argv[2], "w").write(repr(time.time()))
s.listen()
time.sleep(1000)
"""

SENDER = """\
import os, random, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
time.sleep(random.uniform(0.05, 0.2))
open(sys.argv[1], "w").write(repr(time.time()))
s.sendto(b"READY=1", "\\0" + addr[1:])
time.sleep(1000)
"""

FDWRITER = """\
import os, random, sys, time
time.sleep(random.uniform(0.05, 0.2))
open(sys.argv[1], "w").write(repr(time.time()))
os.write(3, b"\\n")
time.sleep(1000)
"""

CLAIMER = """\
import random, sys, time
from upstart.control.client import connect
conn = connect(sys.argv[1], bus=True)
time.sleep(random.uniform(0.05, 0.2))
open(sys.argv[3], "w").write(repr(time.time()))
conn.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su",
          (sys.argv[2], 4), destination="org.freedesktop.DBus")
time.sleep(1000)
"""


class EventLog:
    """Follows init's JSON-lines event log; finds `ready JOB=x` queue times."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.queued: dict[int, float] = {}

    def wait_ready(self, job: str, timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.path) as f:
                    f.seek(self.offset)
                    chunk = f.read()
            except OSError:
                chunk = ""
            end = chunk.rfind("\n")
            if end >= 0:
                self.offset += len(chunk[:end + 1].encode())
                for line in chunk[:end + 1].splitlines():
                    rec = json.loads(line)
                    if rec.get("name") != "ready":
                        continue
                    if rec["kind"] == "event-queued":
                        self.queued[rec["id"]] = rec["wall"]
                    elif rec["kind"] == "event-finished" and f"JOB={job}" in rec["env"]:
                        return self.queued[rec["id"]]
            time.sleep(0.002)
        raise TimeoutError(f"no ready event for {job}")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def jobs_for(tmp: str, bus_address: str | None) -> dict[str, tuple[str, object]]:
    """source -> (job text, producer run by the bench itself or None)."""
    sig = os.path.join(tmp, "signal")
    for name, text in (("server.py", SERVER), ("sender.py", SENDER), ("claim.py", CLAIMER),
                       ("fdwriter.py", FDWRITER)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    target = os.path.join(tmp, "files", "ready")
    out: dict[str, tuple[str, object]] = {
        "file": (f"ready on file FPATH={target}\nexec sleep 1000\n", "file"),
        "socket": (f"ready on socket PROTO=inet PORT={free_port()}\n", None),
        "notify": (f"ready on notify\nexec {PY} {tmp}/sender.py {sig}\n", None),
        "notify-fd": ("ready on notify-fd 3\n"
                      f"exec {PY} {tmp}/fdwriter.py {sig}\n", None),
    }
    port = out["socket"][0].split("PORT=")[1].strip()
    out["socket"] = (out["socket"][0] + f"exec {PY} {tmp}/server.py {port} {sig}\n", None)
    if shutil.which("systemd-notify"):
        out["notify-systemd-notify"] = (
            "ready on notify\nexec sh -c 'sleep 0.1; "
            f"{PY} -c \"import time; print(repr(time.time()))\" > {sig}; "
            "systemd-notify --ready; exec sleep 1000'\n", None)
    if bus_address:
        out["dbus"] = ("ready on dbus NAME=org.example.Bench\n"
                       f"exec {PY} {tmp}/claim.py {bus_address} org.example.Bench {sig}\n",
                       None)
    return out


def run(n: int, only: set[str] | None) -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="upstart-bench-ready-")
    bus = None
    address = None
    if shutil.which("dbus-daemon"):
        address = f"unix:path={tmp}/bus"
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                "--print-address=1", f"--address={address}"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        bus.stdout.readline()
    rows = []
    try:
        specs = jobs_for(tmp, address)
        if only:
            specs = {k: v for k, v in specs.items() if k in only}
        jobs = {f"r-{name}": text for name, (text, _p) in specs.items()}
        env = {"DBUS_SESSION_BUS_ADDRESS": address or "", "PYTHONPATH": REPO}
        with SessionInit(jobs, env=env) as init:
            log = EventLog(init.events)
            sig = os.path.join(tmp, "signal")
            for name, (_text, producer) in specs.items():
                job = f"r-{name}"
                lat = []
                for _ in range(n):
                    for path in (sig, os.path.join(tmp, "files", "ready")):
                        if os.path.exists(path):
                            os.unlink(path)
                    p = init.initctl("start", job)
                    assert p.returncode == 0, p.stderr
                    if producer == "file":
                        time.sleep(random.uniform(0.05, 0.15))
                        os.makedirs(os.path.join(tmp, "files"), exist_ok=True)
                        t = time.time()
                        open(os.path.join(tmp, "files", "ready"), "w").close()
                    ready_at = log.wait_ready(job)
                    if producer != "file":
                        with open(sig) as f:
                            t = float(f.read())
                    lat.append((ready_at - t) * 1000)
                    init.initctl("stop", job)
                lat.sort()
                row = {"bench": "ready_latency", "source": name,
                       "median_ms": round(statistics.median(lat), 3),
                       "p90_ms": round(lat[int(0.9 * (len(lat) - 1))], 3),
                       "min_ms": round(lat[0], 3), "max_ms": round(lat[-1], 3),
                       "n": len(lat), "target_ms": TARGET_MS}
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        if bus is not None:
            bus.kill()
            bus.wait()
            bus.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=15)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    run(args.n, set(args.only.split(",")) - {""} or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
