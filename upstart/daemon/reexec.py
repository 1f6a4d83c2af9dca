"""Stateful re-exec: hand the whole state to a fresh init in the same process.

`reexec()` serialises the engine (classes, latches, instances, pids, goals,
states, environments, pending and blocked events, the job environment
table) to JSON, puts it in an anonymous memory file that survives exec
(memfd, so no pipe-size limit and no helper process), and execs init again
with `--restart --state-fd N`. Running job processes are untouched: they are
our children before and after, and the new process reaps them as usual.

`restore_state()` runs in the new process: it reads the memfd, tells our own
format from Upstart 1.13's (an upgrade from C Upstart, or our `GetState`:
upstart/daemon/upgrade.py), checks the format version, and rebuilds the engine. Anything wrong (unreadable, damaged,
another version) falls back to a clean start from the configuration on disk,
without killing anything: processes whose jobs are not restored are still
reaped, and simply no longer supervised.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upstart.daemon.daemon import Daemon

STATE_VERSION = 1
_LEVEL_FLAGS = ("--debug", "--verbose", "--error", "-v", "-q", "--quiet")


def _new_argv(daemon: "Daemon", fd: int | None) -> list[str]:
    args = []
    skip = False
    for arg in daemon.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--state-fd":
            skip = True
            continue
        if arg.startswith("--state-fd=") or arg in _LEVEL_FLAGS or arg == "--restart":
            continue
        args.append(arg)
    prio = daemon.logger.priority
    if prio == "debug":
        args.append("--debug")
    elif prio == "info":
        args.append("--verbose")
    elif prio in ("error", "fatal"):
        args.append("--quiet")
    args.append("--restart")
    if fd is not None:
        args += ["--state-fd", str(fd)]
    return args


def serialise(daemon: "Daemon", control: dict | None = None) -> bytes:
    state = {
        "version": STATE_VERSION,
        "engine": daemon.engine.snapshot(),
        "log_priority": daemon.logger.priority,
        "logged_errors": sorted(daemon._logged_errors),
        # job log ptys and unfinished ptrace sessions, kept open across the exec
        "supervisor": daemon.supervisor.export_state(),
        # job cgroups (issue #9), so that running jobs keep whole-cgroup kill and cleanup
        "cgroups": daemon.cgroups.export_state() if getattr(daemon, "cgroups", None) else None,
        # chroot sessions: each session's engine (docs/design/sessions.md)
        "sessions": daemon.sessions.export_state() if getattr(daemon, "sessions", None) else None,
        # the control server's listening socket and connections, inherited
        # (docs/design/dbus.md, "Re-exec")
        "control": control,
    }
    return json.dumps(state).encode()


def reexec(daemon: "Daemon") -> None:
    fd = None
    control = None
    try:
        if daemon.server is not None:
            control = daemon.server.export_for_exec()
        data = serialise(daemon, control)
        fd = os.memfd_create("upstart-state", 0)  # not close-on-exec
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    except Exception:
        daemon.logger.log("error", "Failed to generate serialisation data - reverting to "
                          "stateless re-exec: " + traceback.format_exc().splitlines()[-1])
        if fd is not None:
            os.close(fd)
        fd = None
        control = None
    from upstart.daemon.procname import exec_argv
    argv = exec_argv(daemon.argv[0]) + _new_argv(daemon, fd)
    try:
        if daemon.server is not None and control is None:
            daemon.server.close()              # a stateless re-exec binds anew
        if daemon.watcher is not None:
            daemon.watcher.close()
        if getattr(daemon, "sessions", None):   # chroot sessions: their inotify fds
            daemon.sessions.prepare_exec()
        daemon.supervisor.prepare_exec()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)
    except OSError as exc:
        daemon.logger.log("error", f"Failed to re-execute {daemon.argv[0]}: {exc.strerror}")
        if fd is not None:
            os.close(fd)


def restore_state(daemon: "Daemon") -> bool:
    from upstart.core.engine import Engine
    from upstart.daemon.daemon import MonotonicClock

    fd = daemon.opts.state_fd
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(fd)
        state = json.loads(b"".join(chunks))
        if isinstance(state, dict) and isinstance(state.get("control"), dict):
            # the sockets are ours whatever else is wrong with the state
            daemon.control_handover = state["control"]
        from upstart.compat.state113 import is_113
        if is_113(state):          # from C Upstart 1.13, or our own GetState
            from upstart.daemon.upgrade import restore_113
            restore_113(daemon, state)
            return True
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"state version {state.get('version')!r}")
        # the same arguments as a fresh engine (confirm_delay included)
        daemon.engine = Engine.restore(state["engine"], MonotonicClock(), daemon.supervisor,
                                       **daemon.engine_options())
        if state.get("supervisor") is not None:
            daemon.supervisor.adopt_state(state["supervisor"])
        if state.get("cgroups") and getattr(daemon, "cgroups", None):
            daemon.cgroups.adopt_state(state["cgroups"])
        if state.get("sessions") and getattr(daemon, "sessions", None):   # chroot sessions
            daemon.sessions.adopt_state(state["sessions"])
        daemon.logger.priority = state.get("log_priority", daemon.logger.priority)
        daemon._logged_errors = set(state.get("logged_errors", []))
        effects = getattr(daemon.engine, "resume_effects", None)
        if effects is not None:
            daemon.apply(effects())
        # configuration may have changed on disk meanwhile: reload with the
        # registry's rules (running instances keep their class)
        daemon.reload_configuration()
        return True
    except Exception as exc:
        from upstart.compat.state113 import StateFormatError
        why = str(exc) if isinstance(exc, StateFormatError) else \
            traceback.format_exc().splitlines()[-1]
        daemon.logger.log("error", "Failed to read serialisation data - reverting to "
                          "stateless re-exec: " + why)
        return False
