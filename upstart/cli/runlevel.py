"""`runlevel [UTMP]`: print the previous and current runlevel (`N 2`)."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    prog = os.path.basename(sys.argv[0]) or "runlevel"
    if args and args[0] == "--help":
        sys.stdout.write(f"Usage: {prog} [UTMP]\nOutput previous and current runlevel.\n")
        return 0
    if args and args[0] == "--version":
        from upstart.version import print_version
        return print_version(prog)
    from upstart.sysv.control import current_runlevel

    path = args[0] if args else None
    if path is not None and not os.access(path, os.R_OK):
        sys.stderr.write(f"{prog}: {path}: {os.strerror(2 if not os.path.exists(path) else 13)}\n")
        return 1
    try:
        levels = current_runlevel(utmp_file=path)
    except OSError as exc:
        sys.stderr.write(f"{prog}: {path or '/var/run/utmp'}: {exc.strerror}\n")
        return 1
    if levels is None or levels[1] == "N":
        sys.stdout.write("unknown\n")
        return 1
    sys.stdout.write(f"{levels[0]} {levels[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
