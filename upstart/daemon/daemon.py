"""The daemon shell: one event loop (init's own reactor) around the pure engine.

The shell owns every piece of I/O and nothing of the policy. It turns the
outside world into engine inputs (signals, SIGCHLD reaping through the
process supervisor, D-Bus requests through the control server, inotify,
timers) and has the effects the engine returns carried out
(`upstart/daemon/effects.py`). There are no threads.

Its parts, each in its own module: what the mode and environment decide
(`env.py`), the clock (`clock.py`), a world (engine, backend, timers,
readiness, root: `world.py`; the global one here, chroot sessions' in
`sessions.py`), carrying out effects (`effects.py`), the end of init
(`shutdown.py`) and the re-exec (`reexec.py`). This module builds them,
passes each its collaborators, and routes inputs to the right world.

As PID 1 the shell must never die: every handler runs inside `guard`, which
logs a failure and lets the loop go on.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from upstart.daemon import clock
from upstart.daemon.env import InitEnv, undo_locale_coercion
from upstart.daemon.log import Logger
from upstart.daemon.options import Options
from upstart.daemon.timers import Timers, reaps_first
from upstart.daemon.world import World
from upstart.reactor.loop import Reactor

PR_SET_CHILD_SUBREAPER = 36
RB_DISABLE_CAD = 0
# the final stage is asked for with SIGRTMIN+N (systemd's convention; see reboot.py)
FINAL_SIGNALS = {3: "halt", 4: "poweroff", 5: "reboot"}


class Daemon:
    def __init__(self, opts: Options, environ: dict[str, str] | None = None,
                 argv: list[str] | None = None):
        self.opts = opts
        self.environ = dict(os.environ if environ is None else environ)
        undo_locale_coercion(self.environ)
        self.argv = list(argv or sys.argv)
        self.session_init = opts.user
        self.pid1 = os.getpid() == 1 and not opts.user
        self.env = InitEnv(opts, self.environ, pid1=self.pid1)
        self.address = self.env.address
        self.logger = Logger(priority=opts.priority, kmsg=self.pid1)
        # not asyncio: its import is a quarter of init's start (docs/design/reactor.md)
        self.loop = Reactor(report=self._loop_error)
        # made by _build(): the parts, and the global world
        self.supervisor = None
        self.cgroups = None
        self.observer = None
        self.world: World | None = None
        self.effects = None
        self.shutdown = None
        self.sessions = None   # chroot sessions (upstart/daemon/sessions.py), when enabled
        # made by main()
        self.server = None
        self._logdir_waiter = None   # inotify on the log directory's parent, until it exists
        self.bus_address: str | None = None       # NotifyDBusAddress
        self.cgroup_manager_address: str | None = None
        self.session_file: str | None = None
        self.exit_future = None   # a Future of the exit status, made by main()
        self.in_container = False
        self.bus_connected = False
        self._bus_connecting = False
        self.control_handover: dict | None = None   # re-exec: the old init's sockets
        self._reexec_task = None
        self.keyboard_request = False   # the console sends SIGWINCH on Alt-Up
        self.subreaper_failed = False   # prctl(PR_SET_CHILD_SUBREAPER) refused

    # ------------------------------------------------------------ set-up

    @property
    def engine(self):
        """The global world's engine."""
        return self.world.engine

    @property
    def backend(self):
        """The global world's control backend."""
        return self.world.backend

    def engine_options(self, root: str | None = None) -> dict:
        """The Engine's keyword arguments: the global engine's (`root` None),
        and every chroot session's."""
        return dict(
            session_init=self.session_init,
            job_env=self.env.job_env_table(),
            init_env=dict(self.environ),
            default_console=self.opts.default_console,
            debug_stanza=self.opts.debug or self.opts.debug_stanza,
            session_address=self.address if self.session_init and root is None else None,
            confirm_delay=clock.CONFIRM_DELAY,
            random=_system_random,  # hardening: backoff jitter
            log_enabled=self.logger.enabled,  # perf: lines nobody would see are not built
            apparmor=self.supervisor.apparmor,  # run `apparmor load`'s security process
        )

    def new_engine(self, spawner, root: str | None = None, snapshot: dict | None = None):
        """A fresh engine, or one rebuilt from a re-exec's snapshot."""
        from upstart.core.engine import Engine

        options = self.engine_options(root)
        if snapshot is None:
            return Engine(clock.MonotonicClock(), spawner, **options)
        return Engine.restore(snapshot, clock.MonotonicClock(), spawner, **options)

    def make_world(self, root: str | None, spawner, snapshot: dict | None = None) -> World:
        """A world with its engine, timers and backend: the global one (`root`
        None, its callers recorded) or a chroot session's."""
        world = World(root, None)
        world.timers = Timers(self.loop, self.guard,
                              lambda key: self.timer_fired(world, key))
        world.engine = self.new_engine(spawner, root, snapshot)
        if root is None:
            from upstart.daemon.observed import ObservedBackend
            world.backend = ObservedBackend(self, world, self.observer)
        else:
            from upstart.daemon.sessions import SessionBackend
            world.backend = SessionBackend(self, world)
        return world

    def _build(self) -> None:
        from upstart.cgroups.lazy import LazyCGroups
        from upstart.daemon.effects import Effects
        from upstart.daemon.shutdown import Shutdown
        from upstart.observe.service import Observer
        from upstart.process.supervisor import Supervisor

        log = self.logger.log
        logdir = self.env.log_dir()
        # cgroups (issue #9): init writes cgroupfs itself (docs/design/cgroups.md);
        # footprint (issue #23): the manager is made at its first use (cgroups/lazy.py)

        track = self.opts.job_tracking    # issue #26: every job's processes (tracking.md)
        if track is None:
            from upstart.cgroups.lazy import ns_inode, tracking_default
            track = tracking_default(session_init=self.session_init, pid=os.getpid(),
                                     ns_inode=ns_inode)

        def make_cgroups():
            from upstart.cgroups.manager import CGroupManager
            return CGroupManager.from_environ(self.environ, log=log, loop=self.loop,
                                              enabled=not self.opts.no_cgroups,
                                              track_all=track)
        self.cgroups = LazyCGroups(make_cgroups, enabled=not self.opts.no_cgroups,
                                   track_all=track, loop=self.loop, log=log)
        self.supervisor = Supervisor(
            self.loop, logdir=logdir, no_log=self.opts.no_log,
            session_init=self.session_init, default_console=self.opts.default_console,
            # observe: the debug stanza pauses before exec; --debug-stanza (RM-15)
            # honours it without debug-priority logging
            debug=self.opts.debug or self.opts.debug_stanza,
            inherit_umask=not self.opts.no_inherit_env,
        )
        self.supervisor.cgroups = self.cgroups
        from upstart.observe.jsonlog import default_path
        self.observer = Observer(logdir=logdir, loop=self.loop, log=log,
                                 events_path=None if self.opts.no_log else
                                 default_path(self.session_init, self.environ),
                                 events_dir_mode=0o700 if self.session_init else 0o755,
                                 cgroups_status=self.cgroups.status,
                                 history_bytes=self.opts.history_bytes)
        self.world = self.make_world(None, self.supervisor)
        self.observer.attach(self.world.engine)
        self.shutdown = Shutdown(loop=self.loop, log=log, worlds=self.worlds,
                                 apply=self._apply, guard=self.guard, finish=self._finish)
        self.effects = Effects(logger=self.logger, supervisor=self.supervisor,
                               cgroups=self.cgroups, broadcast=self._broadcast,
                               make_readiness=self._make_readiness,
                               record=self.observer.effects, after=self._after_effects)
        from upstart.daemon.sessions import Sessions     # chroot sessions (05 §9)
        if Sessions.wanted(self.opts, self.environ):
            self.sessions = Sessions(
                global_world=self.world, supervisor=self.supervisor,
                make_world=self.make_world, load=self.load_world, watch=self.watch_world,
                apply=self._apply, log=log)

    def worlds(self) -> list[World]:
        """Every world: the global one first, then the chroot sessions'."""
        return [self.world] + (self.sessions.worlds() if self.sessions is not None else [])

    def _current(self, world: World) -> bool:
        return world.root is None or (self.sessions is not None and self.sessions.current(world))

    def _make_readiness(self, world: World):
        """A world's readiness adapter (issue #8): its sources (inotify,
        sock_diag, bus connection) are opened at their first use."""
        from upstart.readiness.adapter import Readiness

        def emit(name, env):
            if self._current(world):
                self.guard(lambda: self.apply(
                    world.engine.emit(name, list(env), wait=False, token=None), world))
        return Readiness(self.loop, emit, log=self.logger.log,
                         session_init=self.session_init, environ=self.environ, root=world.root or "")

    # ------------------------------------------------------------ effects

    def apply(self, effects, world: World | None = None) -> None:
        """Carry out what an engine returned: the global one's, or a chroot
        session's (`world`; docs/design/sessions.md)."""
        self.effects.apply(world or self.world, effects)

    def _apply(self, world: World, effects) -> None:
        self.effects.apply(world, effects)

    def _broadcast(self, effect, root: str | None) -> None:
        if self.server is not None:
            self.server.broadcast(effect, root)

    def disk_writeable(self) -> None:
        """`NotifyDiskWriteable`, or the log directory appeared: job logs and
        event records held in memory are written now."""
        self.supervisor.notify_disk_writeable()
        self.observer.retry()

    def _wait_for_logdir(self) -> None:
        """No polling while the log directory is missing (at boot before
        /var/log is mounted): its appearance is an inotify event."""
        logdir = self.env.log_dir()
        if logdir and not os.path.isdir(logdir):
            from upstart.daemon.watch import DirWaiter
            self._logdir_waiter = DirWaiter(self.loop, logdir,
                                            lambda: self.guard(self._logdir_appeared))

    def _logdir_appeared(self) -> None:
        self._logdir_waiter = None
        self.logger.log("info", f"Log directory {self.env.log_dir()} now exists")
        self.disk_writeable()

    def _after_effects(self) -> None:
        if self.shutdown.quiescing:
            self.shutdown.progress()

    def _loop_error(self, message: str, exc: BaseException | None) -> None:
        """The loop's report of an exception no handler caught (a callback
        outside `guard`, a task's exception nobody retrieved): logged as
        `guard` logs, and the loop goes on."""
        import traceback         # footprint: only when something went wrong
        text = "".join(traceback.format_exception(exc)).strip() if exc is not None else ""
        self.logger.log("error", f"internal error: {message}: "
                        + text.replace("\n", " | "))

    def guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            import traceback     # footprint: only when something went wrong
            self.logger.log("error", "internal error: "
                            + traceback.format_exc().strip().replace("\n", " | "))

    def timer_fired(self, world: World, key) -> None:
        if reaps_first(key):
            self.on_sigchld()  # upstream's loop order: children before pipes
        if self._current(world):
            self.apply(world.engine.timer_fired(key), world)

    # ------------------------------------------------------------ children

    def on_sigchld(self) -> None:
        sessions = self.sessions
        for note in self.supervisor.reap():
            world = sessions.owner(note) if sessions is not None and sessions.by_pid \
                else None
            if world is None:                  # init's own jobs (and init's own notes)
                world = self.world
                self.observer.note(note)
                if type(note).__name__ == "LogLine":
                    self.logger.log(note.priority, note.message)
                    continue
            effects = world.note_input(note)
            if effects is not None:
                self.apply(effects, world)

    def notified(self, pid: int, fields) -> None:
        """Readiness (issue #8): a process sent notify fields (READY=1, STATUS=…)."""
        self.apply(self.world.engine.process_notify(pid, list(fields)))

    # ------------------------------------------------------------ configuration

    def conf_sources(self, world: World) -> list:
        if world.root is None:
            return self.env.conf_sources()
        from upstart.daemon.sessions import CONF_SUBDIR
        return [os.path.join(world.root, CONF_SUBDIR)]

    def load_world(self, world: World, full: bool = False) -> None:
        """(Re)read a world's job files into its engine, with the registry's
        rules (running instances keep their class)."""
        from upstart.jobfile.conf import load_sources

        result = load_sources(self.conf_sources(world))
        errors = list(result.errors)
        for err in errors:
            if full or err not in world.logged_errors:
                self.logger.log_parse_error(err)
        world.logged_errors = set(errors)
        self.apply(world.engine.load(result.classes), world)

    def reload_configuration(self, full: bool = False, world: World | None = None) -> None:
        world = world or self.world
        if not self._current(world):
            return
        self.load_world(world, full)
        if full and world.root is None and self.sessions is not None:
            self.sessions.reload_all()      # chroot sessions: every source, as upstream

    def watch_world(self, world: World) -> None:
        """Watch a world's configuration directories (inotify): a change rereads them."""
        from upstart.daemon.watch import ConfWatcher

        dirs = self.env.conf_dirs() if world.root is None else self.conf_sources(world)
        try:
            world.watcher = ConfWatcher(self.loop, dirs,
                                        lambda: self.guard(self.reload_configuration,
                                                           False, world))
        except Exception as exc:
            self.logger.log("warn", f"Unable to watch configuration: {exc}")

    # ------------------------------------------------------------ signals

    def _install_signals(self) -> None:
        add = self.loop.add_signal_handler
        add(signal.SIGCHLD, self.guard, self.on_sigchld)
        add(signal.SIGHUP, self.guard, self._on_sighup)
        add(signal.SIGTERM, self.guard, self._on_sigterm)
        if self.pid1 or not self.session_init:
            add(signal.SIGINT, self.guard, self._emit_signal_event, "control-alt-delete")
            add(signal.SIGPWR, self.guard, self._emit_signal_event, "power-status-changed")
            if self.keyboard_request:        # KDSIGACCEPT accepted (PID 1 only)
                add(signal.SIGWINCH, self.guard, self._emit_signal_event, "keyboard-request")
            add(signal.SIGUSR1, self.guard, self._on_sigusr1)
            for offset, kind in FINAL_SIGNALS.items():
                add(signal.SIGRTMIN + offset, self.guard, self.final_stage, kind)
        for sig in (signal.SIGPIPE, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):
                pass

    async def connect_bus(self, quiet: bool = False) -> None:
        """Take com.ubuntu.Upstart on the bus, if one runs (silent early in boot)."""
        from upstart.core.effects import ControlFailure
        address = self.bus_address or self.env.bus_address()
        if not address or self.server is None or self.bus_connected:
            return
        label = "notified" if self.bus_address else self.env.bus_label()
        if self._bus_connecting:
            return
        self._bus_connecting = True
        try:
            await self.server.connect_bus(address, label=label)
            self.bus_connected = True
        except (OSError, TimeoutError, ValueError, ControlFailure) as exc:
            # ControlFailure: the bus refused (e.g. its policy forbids our name)
            if not quiet:
                self.logger.log("warn", f"Unable to connect to the D-Bus {label} bus: {exc}")
        finally:
            self._bus_connecting = False

    def _bus_lost(self, label: str) -> None:
        """DM-14: the bus went away (logged by the server); SIGUSR1 or
        NotifyDBusAddress connect again."""
        self.bus_connected = False

    def _on_sigusr1(self) -> None:
        if self.opts.no_dbus or self.bus_connected:
            return
        self.logger.log("info", "Reconnecting to D-Bus system bus")
        self.loop.create_task(self.connect_bus())

    def _on_sighup(self) -> None:
        self.logger.log("info", "Reloading configuration")
        self.reload_configuration(full=True)

    def _on_sigterm(self) -> None:
        if self.session_init:
            self.quiesce("shutdown")
        else:
            self.request_reexec()

    def _emit_signal_event(self, name: str) -> None:
        self.apply(self.world.engine.emit(name, [], wait=False, token=None))

    # ------------------------------------------------------------ the end

    def quiesce(self, kind: str) -> None:
        """Session end (`EndSession`, SIGTERM): upstart/daemon/shutdown.py."""
        self.shutdown.quiesce(kind, lambda name, env: self.world.engine.emit(
            name, env, wait=False, token=None))

    def final_stage(self, kind: str) -> None:
        self.shutdown.final_stage(kind, pid1=self.pid1, in_container=self.in_container)

    def _finish(self, status: int) -> None:
        if self.exit_future is not None and not self.exit_future.done():
            self.exit_future.set_result(status)

    # ------------------------------------------------------------ re-exec

    def serialise_state(self) -> str:
        """GetState: Upstart 1.13's document of our state (upstart/daemon/upgrade.py)."""
        from upstart.daemon.upgrade import get_state
        return get_state(engine=self.world.engine, sources=self.env.conf_sources(),
                         bus_address=self.bus_address if self.session_init else None,
                         logdir=self.env.log_dir(),
                         daemon={"cgroups": self.cgroups.export_state(),
                                 "log_priority": self.logger.priority})

    def serialise(self, control: dict | None = None) -> bytes:
        from upstart.daemon.reexec import serialise
        return serialise(engine=self.world.engine, log_priority=self.logger.priority,
                         logged_errors=self.world.logged_errors, supervisor=self.supervisor,
                         cgroups=self.cgroups, sessions=self.sessions, control=control,
                         bus_address=self.bus_address)

    def request_reexec(self) -> None:
        """Re-exec soon: once the control server has answered what it was
        answering, its sockets go to the new init (docs/design/dbus.md)."""
        if self._reexec_task is None:
            self._reexec_task = self.loop.create_task(self._reexec())

    async def _reexec(self) -> None:
        from upstart.daemon.reexec import reexec

        self.logger.log("info", f"Re-executing {self.argv[0]}")
        try:
            if self.server is not None:
                await self.server.drain_for_exec()
            reexec(self._state_for_exec, argv=self.argv, priority=self.logger.priority,
                   log=self.logger.log, prepare=self._prepare_exec)
            if self.server is not None:            # the exec failed
                self.server.resume()
        finally:
            self._reexec_task = None

    def _state_for_exec(self) -> tuple[bytes, bool]:
        """The state for the new init, and whether the control server's
        sockets go with it (docs/design/dbus.md, "Re-exec")."""
        control = self.server.export_for_exec() if self.server is not None else None
        return self.serialise(control), control is not None

    def _prepare_exec(self, handed_over: bool) -> None:
        """Close what the re-executed init opens again itself."""
        if self.server is not None and not handed_over:
            self.server.close()              # a stateless re-exec binds anew
        if self.world.watcher is not None:
            self.world.watcher.close()
        if self.sessions is not None:     # chroot sessions: their inotify fds
            self.sessions.prepare_exec()
        if self._logdir_waiter is not None:
            self._logdir_waiter.close()
        self.supervisor.prepare_exec()

    def restore_state(self, fd: int) -> bool:
        """In the re-executed init: rebuild every world from the old one's
        state: ours, or Upstart 1.13's document (an upgrade from C Upstart, or
        our own `GetState`: upstart/daemon/upgrade.py)."""
        import json
        import traceback
        from upstart.compat.state113 import StateFormatError, is_113
        from upstart.daemon.reexec import (STATE_VERSION, read_state, state_wait_secs,
                                           write_state_file)

        dump = self.opts.write_state_file or "UPSTART_WRITE_STATEFILE" in self.environ
        try:
            data = read_state(fd, state_wait_secs(self.environ))
            try:
                state = json.loads(data)
            except ValueError:
                dump = True              # 1.13 always keeps a state it cannot parse
                raise
            finally:
                if dump:
                    write_state_file(self.env.log_dir(), data, self.logger.log)
            if isinstance(state, dict) and isinstance(state.get("control"), dict):
                # the sockets are ours whatever else is wrong with the state
                self.control_handover = state["control"]
            if is_113(state):
                from upstart.daemon.upgrade import restore_113
                restore_113(self, state)
                return True
            if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
                raise ValueError(f"state version {state.get('version')!r}"
                                 if isinstance(state, dict) else "not a state document")
            # the same arguments as a fresh engine (confirm_delay included)
            self.world.engine = self.new_engine(self.supervisor, None, state["engine"])
            if state.get("supervisor") is not None:
                self.supervisor.adopt_state(state["supervisor"])
            if state.get("cgroups"):
                self.cgroups.adopt_state(state["cgroups"])
            if state.get("sessions") and self.sessions is not None:   # chroot sessions
                self.sessions.adopt_state(state["sessions"])
            self.logger.priority = state.get("log_priority", self.logger.priority)
            if isinstance(state.get("bus_address"), str):
                self.bus_address = state["bus_address"]
            self.world.logged_errors = set(state.get("logged_errors", []))
            self.apply(self.world.engine.resume_effects())
            # configuration may have changed on disk meanwhile: reload with the
            # registry's rules (running instances keep their class)
            self.reload_configuration()
            return True
        except Exception as exc:
            why = str(exc) if isinstance(exc, StateFormatError) else \
                traceback.format_exc().splitlines()[-1]
            self.logger.log("error", "Failed to read serialisation data - reverting to "
                            "stateless re-exec: " + why)
            return False

    # ------------------------------------------------------------ main

    def _write_session_file(self) -> None:
        try:
            self.session_file = self.env.session_file()
            if self.session_file is None:
                return
            with open(self.session_file, "w") as f:
                f.write(f"UPSTART_SESSION={self.address}\n")
        except OSError as exc:
            self.logger.log("warn", f"Unable to write session file: {exc}")
            self.session_file = None

    def _remove_session_file(self) -> None:
        if self.session_file:
            try:
                os.unlink(self.session_file)
            except OSError:
                pass

    def _kernel_setup(self) -> None:
        """PID 1's early set-up, Ctrl-Alt-Del as SIGINT, and (when not PID 1)
        init as the subreaper of its jobs."""
        if self.pid1 and not self.opts.restart:
            from upstart.daemon.boot import early_setup
            early_setup(self.logger.log)
            # /dev may have been mounted just now
            self.logger.open_kmsg()
        if self.pid1:
            # disable ctrl-alt-del rebooting (we get SIGINT instead); inside a
            # PID namespace the kernel refuses this, which tells us where we are
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.reboot(RB_DISABLE_CAD) != 0 and ctypes.get_errno() == 22:
                self.in_container = True
            # Alt-Up on the console sends SIGWINCH: only a virtual terminal can
            from upstart.daemon.boot import accept_keyboard_request
            why = accept_keyboard_request(signal.SIGWINCH)
            self.keyboard_request = why is None
            if why is not None:
                self.logger.log("info", "No keyboard-request event: the console cannot "
                                f"send SIGWINCH (KDSIGACCEPT: {why})")
        if os.getpid() != 1:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            except OSError as exc:
                # 1.13 also queues child-subreaper-failed (main() emits it)
                self.logger.log("warn", f"Unable to register as subreaper: {exc.strerror}")
                self.subreaper_failed = True
        from upstart.daemon.procname import name_process
        name_process()           # comm `init` (pgrep -x init), also after a re-exec
        from upstart.process.launch import reset_reserved_signals
        reset_reserved_signals()  # an inherited SIG_IGN must not reach the jobs

    async def main(self) -> int:
        from upstart.control.server import ControlServer

        self.exit_future = self.loop.create_future()
        self._kernel_setup()
        self._build()
        self._install_signals()
        restored = self.opts.state_fd is not None and self.restore_state(self.opts.state_fd)
        if restored:
            self.observer.attach(self.world.engine)     # the engine was rebuilt
        else:
            self.reload_configuration(full=True)
        self.watch_world(self.world)
        self._wait_for_logdir()
        from upstart.control.sasl import ANY_UID
        # the system socket admits every user (the server's policy lets them look,
        # not touch: docs/security.md); a Session Init's only its own user (libdbus's rule)
        self.server = ControlServer(self.world.backend, self.address, loop=self.loop,
                                    user_mode=self.session_init, log=self.logger.log,
                                    allowed_uids=None if self.session_init else ANY_UID)
        self.server.sessions = self.sessions    # chroot sessions: scope of each caller
        self.server.on_bus_lost = self._bus_lost       # DM-14
        self.observer.control_status = self.server.statistics   # the `stats` query
        handover = self.control_handover or {}
        try:   # re-exec: the old init's listening socket, its backlog waiting
            await self.server.start(fd=handover.get("listen"))
        except OSError as exc:
            self.logger.log("warn", f"Unable to listen for private connections: {exc}")
        if handover and self.server.adopt(handover) and self.server.bus_connection():
            self.bus_connected = True          # the old init's bus connection, name kept
        if self.session_init:
            self._write_session_file()
        if not self.opts.no_dbus or self.bus_address:   # (a notified bus survives a re-exec)
            await self.connect_bus(quiet=True)
        if restored:
            from upstart.control.signals import Restarted
            self.server.broadcast(Restarted())
            self.logger.log("info", "Stateful re-exec completed")
        elif self.opts.startup_event:
            self.apply(self.world.engine.emit(self.opts.startup_event, [], wait=False,
                                              token=None))
        if self.subreaper_failed:       # after the startup event, as 1.13
            self._emit_signal_event("child-subreaper-failed")
        # reap anything that died before the handler was installed
        self.guard(self.on_sigchld)
        try:
            return await self.exit_future
        finally:
            self._remove_session_file()
            for world in self.worlds():     # watchers, timers, readiness sources
                world.close()
            if self._logdir_waiter is not None:
                self._logdir_waiter.close()
            if self.server is not None:
                self.server.close()

    def run(self) -> int:
        try:
            return self.loop.run_until_complete(self.main())
        finally:
            for part in (self.supervisor, self.cgroups):   # cgroups: remove what can be
                try:
                    if part is not None:
                        part.close()
                except Exception:
                    pass


def _system_random() -> float:
    """`random.SystemRandom().random()` without importing `random` (and its
    hashlib) on the start path (issue #23): 53 random bits from the kernel."""
    return (int.from_bytes(os.urandom(7), "big") >> 3) * (2.0 ** -53)
