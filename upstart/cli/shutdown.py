"""`shutdown [-r|-h|-H|-P] [-c] [-k] TIME [MESSAGE...]`: bring the system down.

At TIME (`now`, `+M`, `M`, `HH:MM`) it emits the runlevel event for the
target (`-r` 6; `-h` 0; `-H` 0 + INIT_HALT=HALT; `-P` 0 + INIT_HALT=POWEROFF;
none 1), warning logged-in users meanwhile (the sysvinit schedule) and
writing /etc/nologin in the last five minutes. One shutdown runs at a time
(a pid file); `-c` cancels it; `-k` only warns.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import sys
import time

PID_FILE = "/var/run/shutdown.pid"
NOLOGIN = "/etc/nologin"
HINT = "Try `{0} --help' for more information.\n"


class Usage(Exception):
    pass


def parse_time(text: str, now: datetime.datetime) -> int:
    """Minutes from `now` until TIME; raises Usage with upstream's messages."""
    if text == "now":
        return 0
    if text.startswith("+"):
        text = text[1:]
    if ":" in text:
        hh, _, mm = text.partition(":")
        if not hh.isdigit():
            raise Usage("illegal hour value")
        if not mm.isdigit():
            raise Usage("illegal minute value")
        h, m = int(hh), int(mm)
        if h > 23:
            raise Usage("illegal hour value")
        if m > 59:
            raise Usage("illegal minute value")
        target = now.replace(hour=h, minute=m, second=0, microsecond=0)
        if target < now.replace(second=0, microsecond=0):
            target += datetime.timedelta(days=1)
        return int((target - now.replace(second=0, microsecond=0)).total_seconds() // 60)
    if not text.isdigit():
        raise Usage("illegal time value")
    return int(text)


def banner(kind: str, minutes: int) -> str:
    what = {"6": "reboot", "H": "halt", "P": "power off", "0": "power off",
            "1": "maintenance"}[kind]
    if minutes <= 0:
        return f"The system is going down for {what} NOW!"
    return f"The system is going down for {what} in {minutes} minute{'s' if minutes != 1 else ''}!"


def wall(text: str) -> None:
    """Write `text` to the terminal of every logged-in user (utmp USER_PROCESS)."""
    from upstart.sysv import utmp as u

    lib = u._libc
    lib.getutxent.restype = ctypes.POINTER(u.Utmpx)
    lib.setutxent()
    lines = []
    try:
        while True:
            entry = lib.getutxent()
            if not entry:
                break
            if entry.contents.ut_type == 7:  # USER_PROCESS
                lines.append(entry.contents.ut_line.decode(errors="replace"))
    finally:
        lib.endutxent()
    for line in lines:
        try:
            fd = os.open("/dev/" + line, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
            os.write(fd, text.encode())
            os.close(fd)
        except OSError:
            pass


def _next_warning(minutes: int) -> int:
    if minutes <= 10:
        return 1
    if minutes <= 60:
        return 15 if minutes % 15 == 0 else minutes % 15
    if minutes <= 180:
        return 30 if minutes % 30 == 0 else minutes % 30
    return 60 if minutes % 60 == 0 else minutes % 60


def main(argv: list[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) or "shutdown"
    args = list(sys.argv[1:] if argv is None else argv)
    kind = "1"
    cancel = warn_only = False
    rest: list[str] = []
    try:
        i = 0
        while i < len(args):
            a = args[i]
            i += 1
            if a == "--help":
                sys.stdout.write(f"Usage: {prog} [OPTION]... TIME [MESSAGE]\n"
                                 "Bring the system down.\n")
                return 0
            if a == "--version":
                from upstart.version import print_version
                return print_version(prog)
            if a.startswith("-") and len(a) > 1 and not rest:
                for ch in a[1:]:
                    if ch == "r":
                        kind = "6"
                    elif ch == "h":
                        kind = "0"
                    elif ch == "H":
                        kind = "H"
                    elif ch == "P":
                        kind = "P"
                    elif ch == "c":
                        cancel = True
                    elif ch == "k":
                        warn_only = True
                    elif ch in "anfF":
                        pass
                    elif ch in "gi":
                        i += 1
                    else:
                        raise Usage(f"invalid option: -{ch}")
                continue
            rest.append(a)
        if cancel:
            return _cancel(prog)
        if not rest:
            raise Usage("time expected")
        minutes = parse_time(rest[0], datetime.datetime.now())
    except Usage as exc:
        sys.stderr.write(f"{prog}: {exc}\n" + HINT.format(prog))
        return 1
    message = " ".join(rest[1:])
    if os.geteuid() != 0:
        sys.stderr.write(f"{prog}: Need to be root\n")
        return 1
    if _running_pid() is not None:
        sys.stderr.write(f"{prog}: Another shutdown is already running\n")
        return 1
    try:
        with open(PID_FILE, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError:
        pass
    cancelled = []
    signal.signal(signal.SIGINT, lambda *_: cancelled.append(True))
    try:
        while minutes > 0 and not cancelled:
            wall(f"\r{banner(kind, minutes)}\r\n{message}\r\n" if message
                 else f"\r{banner(kind, minutes)}\r\n")
            if minutes <= 5 and not warn_only:
                try:
                    with open(NOLOGIN, "w") as f:
                        f.write(banner(kind, minutes) + "\n")
                except OSError:
                    pass
            step = _next_warning(minutes)
            end = time.monotonic() + 60 * step
            while time.monotonic() < end and not cancelled:
                time.sleep(min(1.0, end - time.monotonic()))
            minutes -= step
        if cancelled:
            sys.stdout.write("Shutdown cancelled\n")
            wall("\rShutdown cancelled\r\n")
            return 0
        wall(f"\r{banner(kind, 0)}\r\n{message}\r\n" if message else f"\r{banner(kind, 0)}\r\n")
        if warn_only:
            return 0
        return _go(prog, kind)
    finally:
        for path in (NOLOGIN, PID_FILE):
            try:
                os.unlink(path)
            except OSError:
                pass


def _go(prog: str, kind: str) -> int:
    from upstart.control import client
    from upstart.sysv.control import emit_runlevel

    level = {"6": "6", "0": "0", "H": "0", "P": "0", "1": "1"}[kind]
    extra = {"H": ["INIT_HALT=HALT"], "P": ["INIT_HALT=POWEROFF"]}.get(kind, [])
    try:
        emit_runlevel(level, extra)
    except client.ConnectError as exc:
        sys.stderr.write(f"{prog}: Unable to shutdown system: {exc}\n")
        return 1
    except client.CallError as exc:
        sys.stderr.write(f"{prog}: {exc.message}\n")
        return 1
    return 0


def _running_pid() -> int | None:
    try:
        with open(PID_FILE) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _cancel(prog: str) -> int:
    if not os.path.exists(PID_FILE):
        sys.stderr.write(f"{prog}: Shutdown is not running\n")
        return 1
    pid = _running_pid()
    if pid is None:
        sys.stderr.write(f"{prog}: Cannot find pid of running shutdown\n")
        return 1
    os.kill(pid, signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
