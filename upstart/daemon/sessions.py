"""Chroot sessions: `init --chroot-sessions` (spec 05 §9; docs/design/sessions.md).

A control request from a process whose root directory is not init's own
belongs to the *session* of that root. A session is a world of its own
(`upstart/daemon/world.py`, like init's own jobs): one more `Engine` (the core
is untouched) holding the jobs of `<root>/etc/init`, its own control backend,
timers, readiness adapter and D-Bus object paths. Its processes are chrooted
into the root before anything else (spec 01 §9 step 4) and log to
`<root><logdir>`. Events never cross between a session and the global jobs,
nor between two sessions.

This module owns the caller → root lookup (`caller_root`), the registry of
sessions (made on first contact, keyed by root), which session a process
belongs to (its pids), the manager requests a session may not make
(`SessionBackend`) and the sessions' part of a re-exec. The daemon gives it
what it needs (how a world is made, loaded, watched and its effects carried
out); the D-Bus server sees only `scope`, `backend_of` and `roots`.

Never: lets a session see or change a global job, or lets a failure in one
session reach init (every effect is guarded like the daemon's own).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from upstart.core.effects import ControlFailure, upstart_error
from upstart.daemon.backend import EngineBackend
from upstart.daemon.world import World

if TYPE_CHECKING:
    from upstart.control.backend import Caller

CONF_SUBDIR = "etc/init"


def root_id(path: str = "/") -> tuple[int, int] | None:
    """(st_dev, st_ino) of a directory: what identifies a root."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def caller_root(pid: int, own: tuple[int, int] | None = None) -> str | None:
    """The root directory of process `pid` as init sees it, or None when it is
    init's own root (`own`: its (st_dev, st_ino); by default that of `/`), or
    the pid is unknown (0) or gone, or its root cannot be read (then the caller
    is treated as global). A root reached through another path (a bind mount
    of `/`) is init's own: the comparison is by device and inode."""
    if pid <= 0:
        return None
    link = f"/proc/{pid}/root"
    try:
        st = os.stat(link)
        if (st.st_dev, st.st_ino) == (own if own is not None else root_id("/")):
            return None
        root = os.readlink(link)
    except OSError:
        return None
    if not root.startswith("/") or root == "/":
        return None      # outside init's view (another mount namespace): not ours to map
    return root


class SessionSpawner:
    """A session engine's spawner: the daemon's Supervisor with the session's
    root; every pid is remembered so that its notes come back to the session."""

    def __init__(self, supervisor, root: str, pids: dict[int, World]):
        self.supervisor = supervisor
        self.root = root
        self.pids = pids
        self.world: World | None = None        # set once the world exists

    def spawn(self, request) -> int:
        pid = self.supervisor.spawn(request, root=self.root)
        self.pids[pid] = self.world
        return pid


class SessionBackend(EngineBackend):
    """The control backend of a chroot caller: its session's engine, and the
    manager requests that would reach outside the chroot ignored with a warning
    and a success reply, as upstream's control.c does (docs/design/sessions.md)."""

    def _ignore(self, what: str) -> None:
        self.d.logger.log("warn", f"Ignoring {what} request from chroot session")

    def set_log_priority(self, caller: "Caller", value: str) -> None:
        self._check(caller, "log_priority")
        self._ignore("set log priority")            # ours: upstream lets it through

    def get_env(self, caller, job_details, name) -> str:
        self._env_target(caller, job_details, False)
        self._ignore("get env")
        return ""

    def set_env_list(self, caller, job_details, vars, replace) -> None:
        self._env_target(caller, job_details, True)
        self._ignore("set env")

    def unset_env_list(self, caller, job_details, names) -> None:
        self._env_target(caller, job_details, True)
        self._ignore("unset env")

    def reset_env(self, caller, job_details) -> None:
        self._env_target(caller, job_details, True)
        self._ignore("reset env")

    def notify_disk_writeable(self, caller) -> None:
        self._check(caller, "NotifyDiskWriteable")   # upstream: a silent no-op

    # NotifyDBusAddress: refused in system mode as for anyone (upstream's PID 1 check)

    def notify_cgroup_manager_address(self, caller, address) -> None:
        self._check(caller, "NotifyCGroupManagerAddress")
        self._ignore("notify cgroup manager address")

    def end_session(self, caller) -> None:
        self._check(caller, "EndSession")
        if os.getpid() != 1:
            self._ignore("session end")

    def get_state(self, caller) -> str:
        self._check(caller, "GetState")
        self.d.logger.log("warn", "Ignoring state query from chroot session")
        return ""

    async def restart(self, caller) -> bool:
        self._check(caller, "Restart")
        self._ignore("restart")
        return False

    def observe(self, caller, what: str, args: list[str]) -> str:
        """`initctl why/log/timeline` (issue #12): the event record covers the
        global jobs only; say so rather than answer about the wrong world."""
        raise ControlFailure(upstart_error(
            "NotAvailable", "No event record for the jobs of a chroot session"))


class Sessions:
    """The registry of chroot sessions of one daemon (see the module doc)."""

    def __init__(self, *, global_world: World, supervisor: Any,
                 make_world: Callable[[str, Any, dict | None], World],
                 load: Callable[[World, bool], None], watch: Callable[[World], None],
                 apply: Callable[[World, list], None], log: Callable[[str, str], None]):
        self.global_world = global_world
        self.supervisor = supervisor
        self.make_world = make_world   # (root, spawner, snapshot or None) -> World
        self.load = load               # (re)read a world's job files
        self.watch = watch             # watch a world's configuration
        self.apply = apply             # carry out a world's effects
        self.log = log
        self.by_root: dict[str, World] = {}
        self.by_pid: dict[int, World] = {}
        self._own = root_id("/")

    @staticmethod
    def wanted(opts, environ: dict[str, str]) -> bool:
        """On with `--chroot-sessions`, in system mode, unless UPSTART_NO_SESSIONS is set."""
        return bool(opts.chroot_sessions) and not opts.user \
            and "UPSTART_NO_SESSIONS" not in environ

    # ------------------------------------------------------------ the server's hook

    def scope(self, caller: "Caller") -> tuple[Any, str | None]:
        """(backend, root) for a caller: its session's, or the global (root None).
        Only a caller who may change init makes a new session: anyone else in a
        chroot without one is global (they may only look, which they could do
        from outside too), so unprivileged users with their own roots (user
        namespaces) cannot make init read job files from wherever they like."""
        backend = self.global_world.backend
        root = caller_root(caller.pid, self._own)
        if root is None:
            return backend, None
        session = self.by_root.get(root)
        if session is None:
            if not backend.permitted(caller):
                return backend, None
            session = self.get(root)
        return session.backend, root

    def backend_of(self, root: str) -> Any:
        session = self.by_root.get(root)
        return None if session is None else session.backend

    def roots(self) -> list[str]:
        return sorted(self.by_root)

    def current(self, world: World) -> bool:
        """Is `world` a live session (not one dropped or replaced)?"""
        return self.by_root.get(world.root) is world

    def worlds(self) -> list[World]:
        return list(self.by_root.values())

    # ------------------------------------------------------------ life

    def get(self, root: str) -> World:
        """The session of `root`, made (and its configuration loaded) on first contact."""
        session = self.by_root.get(root)
        if session is None:
            session = self._new(root)
            self.log("info", f"New chroot session {root}")
            self.load(session, True)
            self.watch(session)
        return session

    def _new(self, root: str, snapshot: dict | None = None) -> World:
        spawner = SessionSpawner(self.supervisor, root, self.by_pid)
        session = self.make_world(root, spawner, snapshot)
        spawner.world = session
        self.by_root[root] = session
        return session

    def reload_all(self) -> None:
        for session in list(self.by_root.values()):
            self.load(session, True)

    def prepare_exec(self) -> None:
        """Before a re-exec: close the watchers (the new init makes its own)."""
        for session in self.by_root.values():
            if session.watcher is not None:
                session.watcher.close()
                session.watcher = None

    def close(self) -> None:
        for session in self.by_root.values():
            session.close()

    # ------------------------------------------------------------ children

    def owner(self, note) -> World | None:
        """The session whose process a note from `Supervisor.reap()` is about
        (its pid table follows the note), or None: not a session's."""
        pid = getattr(note, "pid", None)
        session = self.by_pid.get(pid)
        if session is None:
            return None
        name = type(note).__name__
        if name == "Exited":
            del self.by_pid[pid]
        elif name == "Ready" and note.main_pid != pid:   # expect fork/daemon: it moved
            del self.by_pid[pid]
            self.by_pid[note.main_pid] = session
        return session

    # ------------------------------------------------------------ re-exec

    def export_state(self) -> dict:
        """Each session's engine, for a stateful re-exec."""
        return {root: s.engine.snapshot() for root, s in self.by_root.items()}

    def adopt_state(self, state: dict) -> None:
        """In the re-executed init: rebuild each session from its snapshot
        (pids, goals, states, latches), re-arm its timers, then reread its
        configuration. A session that cannot be rebuilt is dropped (its
        processes are still reaped, no longer supervised)."""
        for root, snap in (state or {}).items():
            try:
                session = self._new(root, snapshot=snap)
                engine = session.engine
                for job in engine.job_names():
                    for inst in engine.instances(job):
                        for _slot, pid in engine.instance_info(job, inst)[2]:
                            self.by_pid[int(pid)] = session
                self.apply(session, engine.resume_effects())
                self.load(session, False)
                self.watch(session)
            except Exception:
                self.by_root.pop(root, None)
                self.log("error", f"Unable to restore chroot session {root}: "
                         + traceback.format_exc().splitlines()[-1])
