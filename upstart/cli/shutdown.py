"""`shutdown [-r|-h|-H|-P] [-c] [-k] TIME [MESSAGE...]`: bring the system down.

As 1.13's `util/shutdown.c` (spec 06 §8.4): TIME is `now`, `M` or `+M`
minutes, or `HH:MM` (the next such time on the 24 h clock). The target is
runlevel 6 (`-r`), 0 (`-h`; `-H` adds INIT_HALT=HALT, `-P` INIT_HALT=POWEROFF)
or 1 (maintenance, the default); the last of these options wins.

At start every logged-in user (utmp USER_PROCESS) gets the warning; `-k`
stops there. Otherwise, unless TIME is now, shutdown records its pid in
`/var/run/shutdown.pid` and counts down a minute at a time: from five
minutes left it writes the warning to `/etc/nologin`, and it warns every
minute below 10, every 15 minutes below 60, every 30 below 180, every hour
above (`warns_at`). At zero it emits the runlevel event (falling back to
sysvinit's `/dev/initctl` when no init answers on the private socket) and
removes both files. SIGINT, SIGQUIT or SIGTERM (`shutdown -c` sends SIGINT
to the pid in the file) cancels: `Shutdown cancelled`, files removed.

The pure parts (`parse_args`, `parse_time`, `warning`, `warns_at`) are
apart from the I/O (`wall`, the files, the countdown loop in `main`).
Deliberate difference: when neither init nor `/dev/initctl` answers, 1.13
exited 0 having done nothing; we say so and exit 1.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import time

from upstart.records import dataclass

PID_FILE = "/var/run/shutdown.pid"
NOLOGIN = "/etc/nologin"
DEV_INITCTL = "/dev/initctl"
MINUTE = 60.0
HINT = "Try `{0} --help' for more information.\n"
USAGE = """\
Usage: {0} [OPTION]... TIME [MESSAGE]
Bring the system down.

Options:
  -r                          reboot after shutdown
  -h                          halt or power off after shutdown
  -H                          halt after shutdown (implies -h)
  -P                          power off after shutdown (implies -h)
  -c                          cancel a running shutdown
  -k                          only send warnings, don't shutdown
      --help                  display this help and exit
      --version               output version information and exit

TIME may be `now', +m (minutes from now) or hh:mm (24 hour clock). Logged in
users are warned; -k sends the warning without bringing the system down. A
pending shutdown can be cancelled with Control-C or with -c.
"""


class Usage(Exception):
    """A command-line error; the text is 1.13's."""


class Cancelled(Exception):
    """SIGINT/SIGQUIT/SIGTERM arrived while counting down."""


@dataclass
class Request:
    level: str = "1"               # runlevel to go to
    halt: str | None = None        # INIT_HALT value
    cancel: bool = False
    warn_only: bool = False
    when: str | None = None
    message: str = ""              # the words, each followed by a space, then CR LF


# ------------------------------------------------------------------ pure

_TARGETS = {"r": ("6", None), "h": ("0", None), "H": ("0", "HALT"), "P": ("0", "POWEROFF")}
_WITH_VALUE = "git"                # -g TIME, -i LEVEL, -t SECS
_IGNORED = "anfFy"


def parse_args(args: list[str]) -> Request:
    """Options (anywhere before `--`), then TIME and MESSAGE; raises Usage."""
    req = Request()
    words: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            words += args[i:]
            break
        if not a.startswith("-") or a == "-":
            words.append(a)
            continue
        j = 1
        while j < len(a):
            ch = a[j]
            j += 1
            if ch in _TARGETS:
                req.level, req.halt = _TARGETS[ch]
            elif ch == "c":
                req.cancel = True
            elif ch == "k":
                req.warn_only = True
            elif ch in _WITH_VALUE:
                value = a[j:]
                if not value:
                    if i >= len(args):
                        raise Usage(f"missing argument: -{ch}")
                    value = args[i]
                    i += 1
                if ch == "g":
                    req.when = value
                break
            elif ch not in _IGNORED:
                raise Usage(f"invalid option: -{ch}")
    if not (req.cancel or req.when or words):
        raise Usage("time expected")
    if not (req.cancel or req.when):
        req.when = words.pop(0)
    if words:
        req.message = "".join(w + " " for w in words) + "\r\n"
    return req


def _strtoul(text: str) -> tuple[int, str]:
    """C's strtoul(text, &end, 10): (value, the text after the number);
    a minus sign gives a negative value (what the wrapped C value turns into)."""
    s = text.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in "+-" and s[:1]:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = len(s) - len(s.lstrip("0123456789"))
    if digits == 0:
        return 0, text
    return sign * int(s[:digits]), s[digits:]


def parse_time(when: str, hour: int, minute: int) -> int:
    """Minutes until `when`, it being `hour:minute` now; raises Usage."""
    if when == "now":
        return 0
    if ":" in when:
        hours, rest = _strtoul(when)
        if not rest.startswith(":") or not 0 <= hours <= 23:
            raise Usage("illegal hour value")
        mins, rest = _strtoul(rest[1:])
        if rest or not 0 <= mins <= 59:
            raise Usage("illegal minute value")
        delay = hours * 60 + mins - (hour * 60 + minute)
        return delay + 1440 if delay < 0 else delay
    delay, rest = _strtoul(when)
    if rest or delay < 0:
        raise Usage("illegal time value")
    return delay


def banner(level: str, halt: str | None, delay: int) -> str:
    what = {"6": "reboot", "1": "maintenance"}.get(level) or \
        ("power off" if halt == "POWEROFF" else "halt")
    if delay == 0:
        return f"The system is going down for {what} NOW!"
    return f"The system is going down for {what} in {delay} minute{'' if delay == 1 else 's'}!"


def warning(req: Request, delay: int) -> str:
    """What users are sent (and /etc/nologin holds) with `delay` minutes left."""
    return "\r%s\r\n%s" % (banner(req.level, req.halt, delay), req.message)


def warns_at(delay: int) -> bool:
    """Is a warning due once `delay` minutes are left (after the first one)?"""
    if delay < 10:
        return True
    if delay < 60:
        return delay % 15 == 0
    if delay < 180:
        return delay % 30 == 0
    return delay % 60 == 0


# ------------------------------------------------------------------- I/O

def wall(message: str) -> None:
    """Send `message`, under a broadcast header, to every logged-in user."""
    from upstart.sysv import utmp

    try:
        user = os.getlogin()
    except OSError:
        try:
            import pwd
            user = pwd.getpwuid(os.getuid()).pw_name
        except (KeyError, ImportError):
            user = "uid %d" % os.getuid() if os.getuid() else "root"
    try:
        tty = os.ttyname(0)
    except OSError:
        tty = "unknown"
    now = time.localtime()
    text = ("\a\r\nBroadcast message from %s@%s\r\n\t(%s) at %d:%02d ...\r\n\r\n%s"
            % (user, socket.gethostname(), tty, now.tm_hour, now.tm_min, message))
    try:
        terminals = utmp.user_terminals()
    except OSError:
        return
    for dev in terminals:
        try:
            fd = os.open(dev, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            continue
        try:
            if os.isatty(fd):
                os.write(fd, text.encode(errors="replace"))
        except OSError:
            pass
        finally:
            os.close(fd)


def _unlink(*paths: str) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def _read_pid() -> int:
    try:
        with open(PID_FILE) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except PermissionError:
        return True
    except OSError:
        return False


def _sysvinit(level: str) -> bool:
    """Ask a sysvinit through its FIFO (the 384-byte `struct request`)."""
    request = struct.pack("iiii368s", 0x03091969, 1, ord(level), 5, b"")
    try:
        fd = os.open(DEV_INITCTL, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.write(fd, request) == len(request)
    except OSError:
        return False
    finally:
        os.close(fd)


def shutdown_now(prog: str, req: Request) -> int:
    from upstart.control import client
    from upstart.sysv.control import emit_runlevel

    try:
        emit_runlevel(req.level, [f"INIT_HALT={req.halt}"] if req.halt else [])
    except client.ConnectError as exc:
        if not _sysvinit(req.level):
            sys.stderr.write(f"{prog}: Unable to shutdown system: {exc}\n")
            return 1
    except client.CallError as exc:
        sys.stderr.write(f"{prog}: {exc.message}\n")
        return 1
    _unlink(NOLOGIN, PID_FILE)
    return 0


def _cancel(prog: str, req: Request) -> int:
    pid = _read_pid()
    if pid <= 0:
        sys.stderr.write(f"{prog}: Cannot find pid of running shutdown\n")
        return 1
    try:
        os.kill(pid, signal.SIGINT)
    except OSError:
        sys.stderr.write(f"{prog}: Shutdown is not running\n")
        return 1
    if req.message:
        wall(req.message)
    return 0


def _on_cancel(signum, frame) -> None:
    raise Cancelled()


def main(argv: list[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) or "shutdown"
    args = list(sys.argv[1:] if argv is None else argv)
    if "--help" in args[:args.index("--") if "--" in args else len(args)]:
        sys.stdout.write(USAGE.format(prog))
        return 0
    if "--version" in args[:args.index("--") if "--" in args else len(args)]:
        from upstart.version import print_version
        return print_version(prog)
    try:
        req = parse_args(args)
        now = time.localtime()
        delay = 0 if req.cancel else parse_time(req.when, now.tm_hour, now.tm_min)
    except Usage as exc:
        sys.stderr.write(f"{prog}: {exc}\n" + HINT.format(prog))
        return 1
    if os.geteuid() != 0:
        sys.stderr.write(f"{prog}: Need to be root\n")
        return 1
    if req.cancel:
        return _cancel(prog, req)
    pid = _read_pid()
    if pid > 0 and _alive(pid):
        sys.stderr.write(f"{prog}: Another shutdown is already running\n")
        return 1
    wall(warning(req, delay))
    if req.warn_only:
        return 0
    os.chdir("/")
    os.umask(0o022)
    if delay == 0:
        return shutdown_now(prog, req)
    return _count_down(prog, req, delay)


def _count_down(prog: str, req: Request, delay: int) -> int:
    try:
        with open(PID_FILE, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as exc:
        sys.stderr.write(f"{prog}: {PID_FILE}: Unable to write pid file: {exc.strerror}\n")
    for sig in (signal.SIGHUP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_IGN)
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, _on_cancel)
    try:
        due = time.monotonic()
        while True:
            due += MINUTE
            while (left := due - time.monotonic()) > 0:
                time.sleep(left)
            delay -= 1
            text = warning(req, delay)
            if delay <= 5:
                try:
                    with open(NOLOGIN, "w") as f:
                        f.write(text)
                except OSError:
                    pass
            if warns_at(delay):
                wall(text)
            if delay == 0:
                for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_IGN)      # too late to cancel
                return shutdown_now(prog, req)
    except Cancelled:
        sys.stderr.write(f"{prog}: Shutdown cancelled\n")
        _unlink(NOLOGIN, PID_FILE)
        return 0


if __name__ == "__main__":
    sys.exit(main())
