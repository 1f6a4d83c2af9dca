"""How the SysV tools reach the running system init.

telinit, shutdown and reboot talk to PID 1 over its private socket
(`unix:abstract=/com/ubuntu/upstart`), as upstream's tools do when run as root.
This module owns that choice and the runlevel-event emission they share;
it prints nothing (callers own their messages).
"""

from __future__ import annotations

import os

from upstart.control import client
from upstart.sysv import utmp

SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"


def current_runlevel(environ: dict[str, str] | None = None,
                     utmp_file: str | None = None) -> tuple[str, str] | None:
    """(prevlevel, runlevel): from RUNLEVEL/PREVLEVEL if set, else utmp."""
    env = os.environ if environ is None else environ
    run = env.get("RUNLEVEL", "")
    if run:
        prev = env.get("PREVLEVEL", "")
        return (prev[0] if prev else "N", run[0])
    return utmp.read_runlevel(utmp_file)


def emit_runlevel(runlevel: str, extra: list[str] | None = None,
                  address: str = SYSTEM_ADDRESS) -> None:
    """Record the change in utmp/wtmp and emit `runlevel` without waiting."""
    cur = current_runlevel()
    prev = cur[1] if cur else "N"
    try:
        utmp.write_runlevel(runlevel, prev)
    except OSError:
        pass
    env = [f"RUNLEVEL={runlevel}", f"PREVLEVEL={prev}"] + list(extra or [])
    with client.connect(address) as conn:
        conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "EmitEvent", "sasb",
                  ("runlevel", env, False))
