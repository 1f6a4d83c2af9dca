"""Chroot sessions: `init --chroot-sessions` (spec 05 §9; docs/design/sessions.md).

A control request from a process whose root directory is not init's own
belongs to the *session* of that root. A session is a world of its own: one
more `Engine` (the core is untouched) holding the jobs of `<root>/etc/init`,
its own control backend, timers and D-Bus object paths. Its processes are
chrooted into the root before anything else (spec 01 §9 step 4) and log to
`<root><logdir>`. Events never cross between a session and the global jobs,
nor between two sessions.

This module owns the caller → root lookup (`caller_root`), the registry of
sessions (made on first contact, keyed by root; `reload-configuration` from
inside rereads the chroot's directory, inotify watches it), the routing of
what belongs to a session (its pids, timers, replies, signals) and carrying
out a session engine's effects. The daemon calls in at a few hooks (apply,
SIGCHLD, reload, shutdown, re-exec); the D-Bus server sees only `scope`,
`backend_of` and `roots`.

Never: lets a session see or change a global job, or lets a failure in one
session reach init (every effect is guarded like the daemon's own).
"""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING, Any

from upstart.core.effects import ControlFailure, upstart_error
from upstart.daemon.backend import EngineBackend
from upstart.daemon.timers import Timers, reaps_first

if TYPE_CHECKING:
    from upstart.control.backend import Caller
    from upstart.daemon.daemon import Daemon

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


class Session:
    """One chroot session: its root, engine, backend, timers and watcher."""

    def __init__(self, root: str):
        self.root = root
        self.engine = None
        self.backend: SessionBackend | None = None
        self.timers: Timers | None = None     # set by Sessions._new
        self.readiness = None                 # its `ready on` sources, at the first watch
        self.watcher = None
        self.logged_errors: set[str] = set()

    @property
    def conf_dir(self) -> str:
        return os.path.join(self.root, CONF_SUBDIR)


class SessionSpawner:
    """A session engine's spawner: the daemon's Supervisor with the session's
    root; every pid is remembered so that its notes come back to the session."""

    def __init__(self, supervisor, session: Session, pids: dict[int, Session]):
        self.supervisor = supervisor
        self.session = session
        self.pids = pids

    def spawn(self, request) -> int:
        pid = self.supervisor.spawn(request, root=self.session.root)
        self.pids[pid] = self.session
        return pid


class SessionBackend(EngineBackend):
    """The control backend of a chroot caller: its session's engine, and the
    manager requests that would reach outside the chroot ignored with a warning
    and a success reply, as upstream's control.c does (docs/design/sessions.md)."""

    def __init__(self, daemon: "Daemon", session: Session):
        super().__init__(daemon)
        self.session = session

    def _ignore(self, what: str) -> None:
        self.d.logger.log("warn", f"Ignoring {what} request from chroot session")

    def set_log_priority(self, caller: "Caller", value: str) -> None:
        self._check(caller, "log_priority")
        self._ignore("set log priority")            # ours: upstream lets it through

    async def reload_configuration(self, caller: "Caller") -> None:
        self._check(caller, "ReloadConfiguration")
        self.d.sessions.reload(self.session, full=True)

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

    def __init__(self, daemon: "Daemon"):
        self.d = daemon
        self.by_root: dict[str, Session] = {}
        self.by_pid: dict[int, Session] = {}
        self._own = root_id("/")

    @staticmethod
    def wanted(daemon: "Daemon") -> bool:
        """On with `--chroot-sessions`, in system mode, unless UPSTART_NO_SESSIONS is set."""
        return bool(daemon.opts.chroot_sessions) and not daemon.session_init \
            and "UPSTART_NO_SESSIONS" not in daemon.environ

    # ------------------------------------------------------------ the server's hook

    def scope(self, caller: "Caller") -> tuple[Any, str | None]:
        """(backend, root) for a caller: its session's, or the global (root None).
        Only a caller who may change init makes a new session: anyone else in a
        chroot without one is global (they may only look, which they could do
        from outside too), so unprivileged users with their own roots (user
        namespaces) cannot make init read job files from wherever they like."""
        root = caller_root(caller.pid, self._own)
        if root is None:
            return self.d.backend, None
        session = self.by_root.get(root)
        if session is None:
            if not self.d.backend.permitted(caller):
                return self.d.backend, None
            session = self.get(root)
        return session.backend, root

    def backend_of(self, root: str) -> Any:
        session = self.by_root.get(root)
        return None if session is None else session.backend

    def roots(self) -> list[str]:
        return sorted(self.by_root)

    # ------------------------------------------------------------ life

    def get(self, root: str) -> Session:
        """The session of `root`, made (and its configuration loaded) on first contact."""
        session = self.by_root.get(root)
        if session is None:
            session = self._new(root)
            self.d.logger.log("info", f"New chroot session {root}")
            self.reload(session, full=True)
            self._watch(session)
        return session

    def _new(self, root: str, snapshot: dict | None = None) -> Session:
        from upstart.core.engine import Engine
        from upstart.daemon.daemon import MonotonicClock

        session = Session(root)
        session.timers = Timers(self.d.loop, self.d._guard,
                                lambda key: self._timer_fired(session, key))
        spawner = SessionSpawner(self.d.supervisor, session, self.by_pid)
        options = self.d.engine_options()
        options["session_address"] = None
        if snapshot is None:
            session.engine = Engine(MonotonicClock(), spawner, **options)
        else:
            session.engine = Engine.restore(snapshot, MonotonicClock(), spawner, **options)
        session.backend = SessionBackend(self.d, session)
        self.by_root[root] = session
        return session

    def _watch(self, session: Session) -> None:
        from upstart.daemon.watch import ConfWatcher
        try:
            session.watcher = ConfWatcher(
                self.d.loop, [session.conf_dir],
                lambda: self.d._guard(self.reload, session, False))
        except Exception as exc:
            self.d.logger.log("warn", f"Unable to watch configuration: {exc}")

    def reload(self, session: Session, full: bool = False) -> None:
        """(Re)read `<root>/etc/init` into the session's engine, with the
        registry's rules (running instances keep their class)."""
        from upstart.jobfile.conf import load_sources

        if self.by_root.get(session.root) is not session:
            return
        result = load_sources([session.conf_dir])
        for err in result.errors:
            if full or err not in session.logged_errors:
                self.d.logger.log_parse_error(err)
        session.logged_errors = set(result.errors)
        self.apply(session, session.engine.load(result.classes))

    def reload_all(self) -> None:
        for session in list(self.by_root.values()):
            self.d._guard(self.reload, session, True)

    def prepare_exec(self) -> None:
        """Before a re-exec: close the watchers (the new init makes its own)."""
        for session in self.by_root.values():
            if session.watcher is not None:
                session.watcher.close()
                session.watcher = None

    def close(self) -> None:
        self.prepare_exec()
        for session in self.by_root.values():
            session.timers.close()
            if session.readiness is not None:
                session.readiness.close()
                session.readiness = None

    # ------------------------------------------------------------ effects

    def apply(self, session: Session, effects) -> None:
        """A session engine's effects, carried out by the daemon's own
        `apply` with the session's backend, timers, readiness and paths."""
        self.d.apply(effects, session)

    def readiness(self, session: Session):
        """The session's readiness adapter, made at its first watch."""
        if session.readiness is None:
            from upstart.readiness.adapter import Readiness
            d = self.d

            def emit(name, env, s=session):
                if self.by_root.get(s.root) is s:
                    d._guard(lambda: self.apply(s, s.engine.emit(name, list(env), wait=False,
                                                                 token=None)))
            session.readiness = Readiness(d.loop, emit, log=d.logger.log, session_init=False,
                                          environ=d.environ, root=session.root)
        return session.readiness

    def _timer_fired(self, session: Session, key) -> None:
        if reaps_first(key):
            self.d.on_sigchld()      # upstream's loop order: children before pipes
        if self.by_root.get(session.root) is session:
            self.apply(session, session.engine.timer_fired(key))

    # ------------------------------------------------------------ children

    def take(self, note) -> bool:
        """A note from `Supervisor.reap()` about a session's process: hand it to
        that session's engine and say so (False: not a session's)."""
        pid = getattr(note, "pid", None)
        session = self.by_pid.get(pid)
        if session is None:
            return False
        name = type(note).__name__
        engine = session.engine
        if name == "Exited":
            del self.by_pid[pid]
            self.apply(session, engine.process_exited(pid, note.code, note.signal))
        elif name == "Ready":
            if note.main_pid != pid:         # expect fork/daemon: the main pid moved
                del self.by_pid[pid]
                self.by_pid[note.main_pid] = session
            self.apply(session, engine.process_ready(pid, note.main_pid))
        elif name == "Notified":
            self.apply(session, engine.process_notify(pid, list(note.fields)))
        else:
            return False
        return True

    # ------------------------------------------------------------ shutdown

    def stop_all(self) -> None:
        """The final stage: no more respawns, and every session job is stopped."""
        for session in list(self.by_root.values()):
            engine = session.engine
            engine.disable_respawn()
            for job in list(engine.job_names()):
                for inst in list(engine.instances(job)):
                    goal, _state, _procs = engine.instance_info(job, inst)
                    if goal != "stop":
                        self.apply(session, engine.instance_stop(job, inst, wait=False,
                                                                 token=None))

    def live_instances(self) -> list[tuple[str, str]]:
        return [(j, i) for s in self.by_root.values() for j in s.engine.job_names()
                for i in s.engine.instances(j)]

    def kill_timeouts(self) -> list[int]:
        return [getattr(s.engine.get_class(j), "kill_timeout", 5)
                for s in self.by_root.values() for j in s.engine.job_names()]

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
                self.reload(session)
                self._watch(session)
            except Exception:
                self.by_root.pop(root, None)
                self.d.logger.log("error", f"Unable to restore chroot session {root}: "
                                  + traceback.format_exc().splitlines()[-1])
