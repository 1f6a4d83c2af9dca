"""Stateful re-exec: hand the whole state to a fresh init in the same process.

`reexec()` serialises the engine (classes, latches, instances, pids, goals,
states, environments, pending and blocked events, the job environment
table) to JSON, puts it in an anonymous memory file that survives exec
(memfd, so no pipe-size limit and no helper process), and execs init again
with `--restart --state-fd N`. Running job processes are untouched: they are
our children before and after, and the new process reaps them as usual.

`read_state()` runs in the new process: it reads the memfd; the daemon tells
our own format from Upstart 1.13's (an upgrade from C Upstart, or our
`GetState`: upstart/daemon/upgrade.py), checks the version and rebuilds its
worlds from it. Anything
wrong (unreadable, damaged, another version) falls back to a clean start from
the configuration on disk, without killing anything: processes whose jobs are
not restored are still reaped, and simply no longer supervised.

The module is handed every part it saves or execs with; it knows no daemon.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

STATE_VERSION = 1
STATE_WAIT_SECS = 3      # 1.13's default wait for the state (UPSTART_STATE_WAIT_SECS)
_LEVEL_FLAGS = ("--debug", "--verbose", "--error", "-v", "-q", "--quiet")


def _new_argv(args_in: list[str], priority: str, fd: int | None) -> list[str]:
    args = []
    skip = False
    for arg in args_in:
        if skip:
            skip = False
            continue
        if arg == "--state-fd":
            skip = True
            continue
        if arg.startswith("--state-fd=") or arg in _LEVEL_FLAGS or arg == "--restart":
            continue
        args.append(arg)
    if priority == "debug":
        args.append("--debug")
    elif priority == "info":
        args.append("--verbose")
    elif priority in ("error", "fatal"):
        args.append("--quiet")
    args.append("--restart")
    if fd is not None:
        args += ["--state-fd", str(fd)]
    return args


def serialise(*, engine: Any, log_priority: str, logged_errors: set[str], supervisor: Any,
              cgroups: Any, sessions: Any, control: dict | None = None,
              bus_address: str | None = None) -> bytes:
    state = {
        "version": STATE_VERSION,
        "engine": engine.snapshot(),
        "log_priority": log_priority,
        "logged_errors": sorted(logged_errors),
        # job log ptys and unfinished ptrace sessions, kept open across the exec
        "supervisor": supervisor.export_state(),
        # job cgroups (issue #9), so that running jobs keep whole-cgroup kill and cleanup
        "cgroups": cgroups.export_state(),
        # chroot sessions: each session's engine (docs/design/sessions.md)
        "sessions": sessions.export_state() if sessions is not None else None,
        # the control server's listening socket and connections, inherited
        # (docs/design/dbus.md, "Re-exec")
        "control": control,
        # a bus address given with NotifyDBusAddress (1.13 keeps it too)
        "bus_address": bus_address,
    }
    return json.dumps(state).encode()


def reexec(state: Callable[[], tuple[bytes, bool]], *, argv: list[str], priority: str,
           log: Callable[[str, str], None], prepare: Callable[[bool], None]) -> None:
    """Exec init again with what `state()` makes (the document, and whether
    the control sockets are handed over in it); `prepare(handed_over)` closes
    what the new init opens itself. Returns only when the exec failed."""
    fd = None
    handed_over = False
    try:
        payload, handed_over = state()
        fd = os.memfd_create("upstart-state", 0)  # not close-on-exec
        os.write(fd, payload)
        os.lseek(fd, 0, os.SEEK_SET)
    except Exception:
        log("error", "Failed to generate serialisation data - reverting to "
            "stateless re-exec: " + traceback.format_exc().splitlines()[-1])
        if fd is not None:
            os.close(fd)
        fd = None
        handed_over = False
    from upstart.daemon.procname import exec_argv
    new_argv = exec_argv(argv[0]) + _new_argv(argv[1:], priority, fd)
    try:
        prepare(handed_over)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(new_argv[0], new_argv)
    except OSError as exc:
        log("error", f"Failed to re-execute {argv[0]}: {exc.strerror}")
        if fd is not None:
            os.close(fd)


def state_wait_secs(environ: dict[str, str]) -> float | None:
    """How long the new init waits for the state: `UPSTART_STATE_WAIT_SECS`
    as 1.13 reads it (atoi: a number, else 0), default 3 s; a negative value
    is forever (None)."""
    value = environ.get("UPSTART_STATE_WAIT_SECS")
    if value is None:
        return float(STATE_WAIT_SECS)
    digits = value.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    n = 0
    for ch in digits:
        if not ch.isdigit():
            break
        n = n * 10 + int(ch)
    n *= sign
    return None if n < 0 else float(n)


def read_state(fd: int, wait: float | None = None) -> bytes:
    """The document the old init left in `fd` (closed here), as bytes. It
    must come within `wait` seconds (None: however long it takes); a memfd is
    there at once, a pipe from Upstart 1.13's writer may not be."""
    import select
    import time

    deadline = None if wait is None else time.monotonic() + wait
    chunks = []
    try:
        while True:
            if deadline is not None:
                ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise TimeoutError(f"no state on fd {fd} within {wait:g} s "
                                       "(UPSTART_STATE_WAIT_SECS)")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def write_state_file(logdir: str | None, data: bytes, log: Callable[[str, str], None]) -> None:
    """`--write-state-file` / `UPSTART_WRITE_STATEFILE` (and always when the
    received state cannot be parsed): the document as received, in
    `<logdir>/upstart.state`, mode 0400, as 1.13."""
    if not logdir:
        return
    path = os.path.join(logdir, "upstart.state")
    try:
        try:
            os.unlink(path)          # a previous dump is read-only
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o400)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        log("warn", f"Unable to write state file {path}: {exc.strerror}")
