"""`reboot`, `halt`, `poweroff`: the mode comes from the program name.

Without `-f` (and outside runlevels 0 and 6) they run `shutdown -r|-h -H|-h -P
now`. With `-f` they write the shutdown record, sync, and end the system:
when PID 1 is our init they ask it for its final stage (stop every job in
order, then halt, power off or reboot; in a PID namespace init exits) with
the signal convention SIGRTMIN+3 halt, +4 power off, +5 reboot; otherwise
they call reboot(2) as upstream does.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

RB = {"halt": 0xCDEF0123, "poweroff": 0x4321FEDC, "reboot": 0x01234567}
FINAL_SIGNAL = {"halt": 3, "poweroff": 4, "reboot": 5}


def _our_init() -> bool:
    """Is PID 1 upstart-py (a Python process), rather than a C init?"""
    try:
        exe = os.path.basename(os.readlink("/proc/1/exe"))
    except OSError:
        return False
    return exe.startswith("python")


def main(argv: list[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) or "reboot"
    mode = prog if prog in RB else "reboot"
    args = list(sys.argv[1:] if argv is None else argv)
    force = wtmp_only = no_sync = False
    for a in args:
        if a in ("-f", "--force"):
            force = True
        elif a in ("-p", "--poweroff"):
            if mode == "halt":
                mode = "poweroff"
        elif a in ("-w", "--wtmp-only"):
            wtmp_only = True
        elif a in ("-n", "--no-sync"):
            no_sync = True
        elif a in ("--verbose", "-v", "-d", "-i", "-h"):
            pass
        elif a == "--help":
            sys.stdout.write(f"Usage: {prog} [OPTION]...\n")
            return 0
        elif a == "--version":
            from upstart.version import print_version
            return print_version(prog)
        else:
            sys.stderr.write(f"{prog}: invalid option: {a}\n"
                             f"Try `{prog} --help' for more information.\n")
            return 1
    if os.geteuid() != 0:
        sys.stderr.write(f"{prog}: Need to be root\n")
        return 1
    from upstart.sysv import utmp
    from upstart.sysv.control import current_runlevel

    cur = current_runlevel()
    if cur and cur[1] in "06":
        force = True
    if not force and not wtmp_only:
        flags = {"reboot": ["-r"], "halt": ["-h", "-H"], "poweroff": ["-h", "-P"]}[mode]
        here = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "shutdown")
        target = here if os.access(here, os.X_OK) else "/sbin/shutdown"
        try:
            os.execv(target, [target] + flags + ["now"])
        except OSError as exc:
            sys.stderr.write(f"{prog}: Unable to execute shutdown: {exc.strerror}\n")
            return 1
    try:
        utmp.write_shutdown()
    except OSError:
        pass
    if wtmp_only:
        return 0
    if not no_sync:
        os.sync()
    if _our_init():
        os.kill(1, signal.SIGRTMIN + FINAL_SIGNAL[mode])
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.reboot(RB[mode]) != 0:
        err = ctypes.get_errno()
        sys.stderr.write(f"{prog}: Unable to {mode}: {os.strerror(err)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
