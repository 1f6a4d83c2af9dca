"""`call(argv)`: run a program, wait for it, give its exit status.

What `subprocess.call` does for the command-line tools on the boot's path
(`upstart-mountall`, `upstart-rc`), without importing `subprocess`, which
brings in `locale`, `re`, `enum`, `threading`, `selectors` and `signal`:
13-21 ms of a ~10 ms Python start on a fast machine, and 0.19-0.23 s
in the Debian VM under emulation, twice on the boot's critical path
(docs/boot.md). The
child inherits the environment and the standard streams; `posix_spawnp`
searches `PATH` as `execvp` does.

The status is `subprocess.call`'s: the exit code, or minus the signal
that killed the child. A program that cannot be run gives 127 (the
shell's "not found") and one line on stderr instead of an exception, so
one missing tool does not end a boot script.
"""

from __future__ import annotations

import os
import sys


def call(argv: list[str], prog: str = "upstart") -> int:
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ)
    except OSError as exc:
        sys.stderr.write(f"{prog}: {argv[0]}: {exc.strerror or exc}\n")
        return 127
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)
