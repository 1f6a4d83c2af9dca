"""`telinit RUNLEVEL`: change the runlevel of the running system init.

0-6 and S emit `runlevel RUNLEVEL=N PREVLEVEL=P` (after recording it in
utmp) without waiting; Q reloads the configuration; U asks init for a
stateful re-exec and waits until it answers again.
"""

from __future__ import annotations

import os
import signal
import sys
import time

USAGE_HINT = "Try `{0} --help' for more information.\n"
HELP = """Usage: {0} [OPTION]... RUNLEVEL
Change runlevel.

Options:
  -e                          VAR=VAL to add to the runlevel event
  -t                          compatibility option, ignored
      --help                  display this help and exit
      --version               output version information and exit

RUNLEVEL should be one of 0123456S.
"""


def _usage(prog: str, text: str) -> int:
    sys.stderr.write(f"{prog}: {text}\n" + USAGE_HINT.format(prog))
    return 1


def main(argv: list[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) or "telinit"
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--help":
            sys.stdout.write(HELP.format(prog))
            return 0
        if a == "--version":
            from upstart.version import print_version
            return print_version(prog)
        if a in ("-e", "-t") or (a.startswith(("-e", "-t")) and len(a) > 2):
            value = a[2:] if len(a) > 2 else (args[i] if i < len(args) else None)
            if len(a) == 2:
                i += 1
            if value is None:
                return _usage(prog, f"missing argument: {a}")
            if a.startswith("-e"):
                if "=" not in value:
                    return _usage(prog, f"illegal environment variable: {value}")
                extra.append(value)
            continue
        if a.startswith("-") and len(a) > 1:
            return _usage(prog, f"invalid option: {a}")
        rest.append(a)
    if not rest:
        return _usage(prog, "missing runlevel")
    level = rest[0]
    if len(level) != 1 or level not in "0123456SsQqabcUu":
        return _usage(prog, f"illegal runlevel: {level}")
    if os.geteuid() != 0:
        sys.stderr.write(f"{prog}: Need to be root\n")
        return 1
    from upstart.control import client
    from upstart.sysv.control import SYSTEM_ADDRESS, emit_runlevel

    try:
        if level in "0123456Ss":
            emit_runlevel(level.upper(), extra)
        elif level in "Qq":
            os.kill(1, signal.SIGHUP)
        elif level in "Uu":
            with client.connect(SYSTEM_ADDRESS) as conn:
                try:   # init re-execs without answering: the connection closes (1.13)
                    conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "Restart")
                except client.CallError as exc:
                    if exc.name != "org.freedesktop.DBus.Error.NoReply":
                        raise
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.1)
                try:
                    with client.connect(SYSTEM_ADDRESS) as conn:
                        conn.get_property(client.MANAGER_PATH, client.MANAGER_IFACE, "version")
                    break
                except (client.ConnectError, client.CallError, OSError):
                    continue
    except client.ConnectError as exc:
        sys.stderr.write(f"{prog}: Unable to connect to Upstart: {exc}\n")
        return 1
    except client.CallError as exc:
        sys.stderr.write(f"{prog}: {exc.message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
