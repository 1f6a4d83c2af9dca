"""CPU per udev device event (issue #21): the udev bridge and init, on this host.

A boot's coldplug sends ~290 uevents through `upstart-udev-bridge` into init
(docs/boot.md, CPU section). This runs init as PID 1 in private namespaces
(`unshare --net`: synthetic uevents stay in that namespace) with the stock
bridge and 40 job classes that wait for other events (as a boot's do), sends
N libudev-format uevents on the netlink group udevd uses (17 properties each,
like a coldplugged block or tty device), and reports the CPU seconds
(utime+stime from /proc/PID/stat) the bridge and init spent from the first
uevent until init has handled the last one, per event, and the bridge's CPU
from its start until it listens.

    .venv/bin/python bench/udev_events.py [--events 300] [--runs 3]
    OTHER_TREE/.venv/bin/python bench/udev_events.py   # the same on another tree

The tree measured is the one whose `.venv/bin` holds the Python running this
script (its `init` and `upstart-udev-bridge`): run it with two venvs for A/B.
Needs root and unshare; without them it prints an error row.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from common import OURS, emit, error, median
from init_harness import BIN, Pid1Init, descendants

PY = os.path.join(BIN, "python")
CLASSES = 40
PROPS = (b"ID_VENDOR=QEMU", b"ID_MODEL=QEMU_HARDDISK", b"ID_SERIAL=QM00001",
         b"ID_TYPE=disk", b"ID_BUS=ata", b"ID_PATH=pci-0000:00:01.1-ata-1",
         b"ID_PATH_TAG=pci-0000_00_01_1-ata-1", b"DEVTYPE=disk", b"MAJOR=8",
         b"MINOR=0", b"USEC_INITIALIZED=1234567", b"TAGS=:systemd:")

SENDER = r"""
import socket, struct, sys, time
n = int(sys.argv[1])
props = %r
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 15)
s.bind((0, 0))
def send(subsystem, i):
    body = b"".join(p + b"\0" for p in (
        b"ACTION=add", b"DEVPATH=/devices/virtual/%%s/ub%%d" %% (subsystem, i),
        b"SUBSYSTEM=" + subsystem, b"SEQNUM=%%d" %% i, b"DEVNAME=/dev/ub%%d" %% i) + props)
    header = struct.pack("8sIIIIIIII", b"libudev\0", socket.htonl(0xfeedcafe), 40, 40,
                         len(body), 0, 0, 0, 0)
    s.sendto(header + body, (0, 2))
for i in range(n):
    send(b"benchdev", i)
    if i %% 16 == 15:
        time.sleep(0.002)          # as udevd paces a coldplug; no receive-queue overflow
send(b"benchdone", n)
""" % (PROPS,)


def cpu_s(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bridge_pid(init: Pid1Init) -> int | None:
    for pid in descendants(init.pid):
        try:
            with open("/proc/%d/cmdline" % pid) as f:
                if "upstart-udev-bridge" in f.read():
                    return pid
        except OSError:
            pass
    return None


def listening(pid: int) -> bool:
    """The bridge holds a NETLINK_KOBJECT_UEVENT socket in the udev group."""
    try:
        inodes = {os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in os.listdir(
            "/proc/%d/fd" % pid)}
        with open("/proc/%d/net/netlink" % pid) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return False
    return any(fl[1] == "15" and int(fl[3], 16) & 2 and "socket:[%s]" % fl[9] in inodes
               for fl in (line.split() for line in lines))


PROFILED = ("import cProfile, runpy, signal, sys\n"
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
            "sys.argv = [%r]\n"
            "cProfile.run('runpy.run_path(sys.argv[0], run_name=\"__main__\")', %r)\n")


INIT_PROFILED = ("import cProfile, os, sys, threading, time\n"
                 "sys.argv = sys.argv[1:]\n"
                 "from upstart.cli import init\n"
                 "prof = cProfile.Profile()\n"
                 "def dump():\n"
                 "    while not os.path.exists(%(flag)r):\n"
                 "        time.sleep(0.2)\n"
                 "    prof.create_stats()\n"
                 "    prof.dump_stats(%(out)r)\n"
                 "threading.Thread(target=dump, daemon=True).start()\n"
                 "prof.enable()\n"
                 "init.main()\n")


def one_run(n: int, tmp_out: str, profile: str | None = None,
            init_profile: str | None = None) -> tuple[float, float, float]:
    bridge = os.path.join(BIN, "upstart-udev-bridge")
    cmd = bridge
    if profile is not None:
        with open(profile + ".upstart-udev-bridge.py", "w") as f:
            f.write(PROFILED % (bridge, profile))
        cmd = "%s %s.upstart-udev-bridge.py" % (PY, profile)
    jobs = {"udevb": "exec %s\n" % cmd,
            "done": "start on benchdone-device-added\ntask\nexec touch %s\n" % tmp_out}
    for i in range(CLASSES):
        jobs["w%02d" % i] = ("start on (net-device-up IFACE=eth%d or block-device-added "
                             "DEVNAME=/dev/vd%d) and started w%02d\nexec sleep 1000\n"
                             % (i, i, (i + 1) % CLASSES))
    wrap = None
    if init_profile is not None:              # init under cProfile (a bench, not PID 1 code)
        with open(init_profile + ".py", "w") as f:
            f.write(INIT_PROFILED % {"flag": init_profile + ".now", "out": init_profile})
        wrap = lambda tmp: [PY, init_profile + ".py"]   # noqa: E731
    with Pid1Init(jobs=jobs, wrap=wrap) as init:
        assert init.run("initctl", "start", "udevb").returncode == 0
        pid = init.wait_for(lambda: bridge_pid(init), timeout=30)
        init.wait_for(lambda: listening(pid), timeout=30)
        time.sleep(0.5)                      # the D-Bus connection, after the socket
        start_cpu = cpu_s(pid)
        b0, i0 = cpu_s(pid), cpu_s(init.pid)
        init.run(PY, "-c", SENDER, str(n))
        init.wait_for(lambda: os.path.exists(tmp_out), timeout=120, interval=0.02)
        b1, i1 = cpu_s(pid), cpu_s(init.pid)
        if init_profile is not None:
            open(init_profile + ".now", "w").close()
            init.wait_for(lambda: os.path.exists(init_profile), timeout=30)
            time.sleep(1)
            os.unlink(init_profile + ".now")
        if profile is not None:              # let it write the profile
            os.kill(pid, 15)
            init.wait_for(lambda: not os.path.exists("/proc/%d/cmdline" % pid)
                          or not open("/proc/%d/cmdline" % pid).read(), timeout=30)
    os.unlink(tmp_out)
    return (b1 - b0) / (n + 1), (i1 - i0) / (n + 1), start_cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--system", default=OURS, help="the name on the rows (A/B runs)")
    ap.add_argument("--profile", metavar="FILE", help="one run, the bridge under cProfile")
    ap.add_argument("--profile-init", metavar="FILE", help="one run, init under cProfile")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        error("o", "udev_cpu_per_event", a.system, "needs root and unshare")
        return
    out = "/tmp/udev-bench-done-%d" % os.getpid()
    if a.profile or a.profile_init:
        print(one_run(a.events, out, a.profile, a.profile_init))
        return
    try:
        samples = [one_run(a.events, out) for _ in range(a.runs)]
    except Exception as exc:         # a bench reports, it does not fail
        error("o", "udev_cpu_per_event", a.system, exc)
        return
    emit("o", "udev_bridge_cpu_per_event", a.system,
         median([s[0] for s in samples]) * 1e3, "ms CPU/event", events=a.events, runs=a.runs)
    emit("o", "init_cpu_per_udev_event", a.system,
         median([s[1] for s in samples]) * 1e3, "ms CPU/event", events=a.events, runs=a.runs)
    emit("o", "udev_bridge_start_cpu", a.system,
         median([s[2] for s in samples]) * 1e3, "ms CPU", runs=a.runs)


if __name__ == "__main__":
    main()
