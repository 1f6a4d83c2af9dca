"""Facts about the machine and the init the bridge serves, read from /proc.

Owns: the boot id (is a saved monotonic deadline still meaningful?), the
identity and start time of init (does a saved firing count belong to this
life of init? when did `startup` happen?), the local time zone, the host
seed for SPREAD, and the CLOCK_BOOTTIME clock. Read-only; never writes.
"""

from __future__ import annotations

import os
import re
import time
from datetime import timezone, tzinfo

_SESSION_PID = re.compile(r"/upstart-session/\d+/(\d+)$")


def boottime() -> float:
    """Seconds since boot, counting suspend (never jumps)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id(proc: str = "/proc") -> str:
    try:
        with open(os.path.join(proc, "sys/kernel/random/boot_id")) as f:
            return f.read().strip()
    except OSError:
        return ""


def init_pid(address: str | None) -> int:
    """PID of the init behind an address: a Session Init's is in its name."""
    if address:
        m = _SESSION_PID.search(address)
        if m:
            return int(m.group(1))
    return 1


def start_ticks(pid: int, proc: str = "/proc") -> int | None:
    """Field 22 of /proc/PID/stat: start time in clock ticks after boot."""
    try:
        with open(os.path.join(proc, str(pid), "stat")) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[19])


def init_identity(pid: int, proc: str = "/proc") -> tuple[str, float | None]:
    """(identity text, start time on the boottime clock) of init `pid`."""
    ticks = start_ticks(pid, proc)
    if ticks is None:
        return "%d:?" % pid, None
    return "%d:%d" % (pid, ticks), ticks / os.sysconf("SC_CLK_TCK")


def host_seed() -> str:
    """The machine id (stable per host), else the node name."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return os.uname().nodename


def local_zone(environ=os.environ) -> tzinfo:
    from zoneinfo import ZoneInfo
    name = environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError, LookupError):
        return timezone.utc
