"""`upstart-rc RUNLEVEL`: run the SysV scripts of a runlevel, then finish.

What Debian's /etc/init.d/rc does, for the stock `rc` job: stop the services
whose K scripts are in /etc/rcN.d (if they were started), start those with S
scripts, in name order. For runlevels 0 and 6 it then asks for the final
stage: `halt -f`, `poweroff -f` (INIT_HALT decides, default power off) or
`reboot -f`.
"""

from __future__ import annotations

import os
import sys

from upstart.cli.spawn import call


def _scripts(level: str, prefix: str, root: str = "/") -> list[str]:
    d = os.path.join(root, f"etc/rc{level}.d")
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return []
    return [os.path.join(d, n) for n in names
            if n.startswith(prefix) and os.access(os.path.join(d, n), os.X_OK)
            and not _has_job(n, root)]


def _has_job(script: str, root: str = "/") -> bool:
    """Is there a job for the service of `S01ssh` (`/etc/init/ssh.conf`)?"""
    name = script[1:].lstrip("0123456789")
    return bool(name) and os.path.exists(os.path.join(root, "etc/init", name + ".conf"))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or len(args[0]) != 1 or args[0] not in "0123456S":
        sys.stderr.write("upstart-rc: usage: upstart-rc RUNLEVEL\n")
        return 1
    level = args[0]
    status = 0
    for script in _scripts(level, "K"):
        if call([script, "stop"], "upstart-rc") != 0:
            status = 1
    for script in _scripts(level, "S"):
        if call([script, "start"], "upstart-rc") != 0:
            status = 1
    if level in "06":
        here = os.path.dirname(os.path.abspath(sys.argv[0]))
        if level == "6":
            prog = "reboot"
        elif os.environ.get("INIT_HALT") == "HALT":
            prog = "halt"
        else:
            prog = "poweroff"
        path = os.path.join(here, prog)
        if not os.access(path, os.X_OK):
            path = "/sbin/" + prog
        os.execv(path, [path, "-f"])
    return status


if __name__ == "__main__":
    sys.exit(main())
