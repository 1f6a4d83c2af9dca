"""The daemon shell: one asyncio loop around the pure engine.

The shell owns every piece of I/O and nothing of the policy. It turns the
outside world into engine inputs (signals, SIGCHLD reaping through the
process supervisor, D-Bus requests through the control server, inotify,
timers) and carries out the effects the engine returns (signals to
processes, timers, replies, D-Bus signals, log lines). There are no threads.

As PID 1 the shell must never die: every handler runs inside `_guard`, which
logs a failure and lets the loop go on.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
import time
import traceback

from upstart.core.effects import (
    CancelTimer, CloseFd, Kill, Log, Reply, SetTimer, Trace, UnwatchReady, WatchReady,
)
from upstart.core.effects import ControlFailure
from upstart.core.effects import StateChanged  # cgroups hook (issue #9)
from upstart.daemon.backend import EngineBackend
from upstart.daemon.log import Logger
from upstart.daemon.options import Options
from upstart.daemon.timers import Timers, reaps_first
from upstart.sysv.utmp import mark_dead as utmp_mark_dead
from upstart.observe.service import ObservedBackend, Observer  # observe hook

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"
SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"
PR_SET_CHILD_SUBREAPER = 36
RB_DISABLE_CAD = 0
RB_CMD = {"halt": 0xCDEF0123, "poweroff": 0x4321FEDC, "reboot": 0x01234567}
# the final stage is asked for with SIGRTMIN+N (systemd's convention; see reboot.py)
FINAL_SIGNALS = {3: "halt", 4: "poweroff", 5: "reboot"}
# in a PID namespace the end of PID 1 tells its parent what was asked for
FINAL_EXIT_STATUS = {"halt": 0, "poweroff": 0, "reboot": 128 + 1}


# Upstream learns that an exec succeeded on a later main-loop turn (EOF on the
# child's status pipe, once the child has exec'd), and on that turn it reaps dead
# children before it reads pipes. We emulate both: the engine confirms a spawn on
# a short timer (about the time a fork+exec takes), and before the confirmation
# the shell reaps whatever died meanwhile. Measured against golden 108 (a killed
# service's `stopped` must come before a new task's `started`): 0 reorders events,
# 2 ms matches (with the reaping first). The engine uses the delay only while one
# of its kill timers is armed (the case it orders); otherwise it confirms at the
# end of the same input (upstart/core/dispatch.py, `_settle`).
CONFIRM_DELAY = 0.002


class MonotonicClock:
    def monotonic(self) -> float:
        return time.monotonic()


class Daemon:
    def __init__(self, opts: Options, environ: dict[str, str] | None = None,
                 argv: list[str] | None = None):
        self.opts = opts
        self.environ = dict(os.environ if environ is None else environ)
        _undo_locale_coercion(self.environ)
        self.argv = list(argv or sys.argv)
        self.session_init = opts.user
        self.pid1 = os.getpid() == 1 and not opts.user
        self.loop = asyncio.new_event_loop()
        self.logger = Logger(priority=opts.priority, kmsg=self.pid1)
        self.timers = Timers(self.loop, self._guard, self._timer_fired)
        self.server = None
        self.watcher = None
        self.engine = None
        self.sessions = None   # chroot sessions (upstart/daemon/sessions.py), when enabled
        self.supervisor = None
        self.observer: Observer | None = None  # observe hook: the event recorder
        self.backend: EngineBackend = ObservedBackend(self)  # observe hook: records callers
        self.bus_address: str | None = None
        self.cgroup_manager_address: str | None = None
        self.session_file: str | None = None
        self.exit_future: asyncio.Future | None = None
        self.quiescing: str | None = None
        self._quiesce_deadline: float | None = None
        self._quiesce_done = None
        self.in_container = False
        self.bus_connected = False
        self._bus_connecting = False
        self.control_handover: dict | None = None   # re-exec: the old init's sockets
        self._reexec_task = None
        self._logged_errors: set[str] = set()
        if self.session_init:
            self.address = (f"unix:abstract=/com/ubuntu/upstart-session/"
                            f"{os.getuid()}/{os.getpid()}")
        else:
            self.address = SYSTEM_ADDRESS

    # ------------------------------------------------------------ set-up

    def conf_dirs(self) -> list[str]:
        from upstart.jobfile.conf import session_dirs

        if self.opts.confdirs:
            dirs = list(self.opts.confdirs)
        elif self.session_init:
            dirs = session_dirs(self.environ)
            home_conf = dirs[0] if dirs else None
            if home_conf:
                try:
                    os.makedirs(home_conf, mode=0o700, exist_ok=True)
                except OSError:
                    pass
        else:
            dirs = [self.environ.get("UPSTART_CONFDIR") or "/etc/init"]
        return list(self.opts.prepend_confdirs) + dirs + list(self.opts.append_confdirs)

    def conf_sources(self) -> list:
        """The directories, with `/etc/init.conf` after the prepended ones in system mode."""
        from upstart.jobfile.conf import SYSTEM_CONF_FILE, ConfSource

        dirs = self.conf_dirs()
        if self.session_init:
            return dirs
        n = len(self.opts.prepend_confdirs)
        return dirs[:n] + [ConfSource(SYSTEM_CONF_FILE, "file")] + dirs[n:]

    def log_dir(self) -> str | None:
        if self.opts.no_log:
            return None
        if self.opts.logdir:
            return self.opts.logdir
        if self.session_init:
            cache = self.environ.get("XDG_CACHE_HOME") or os.path.join(
                self.environ.get("HOME", "/"), ".cache")
            path = os.path.join(cache, "upstart")
            try:
                os.makedirs(path, mode=0o700, exist_ok=True)
            except OSError:
                pass
            return path
        return self.environ.get("UPSTART_LOGDIR") or "/var/log/upstart"

    def job_env_table(self) -> list[str]:
        if self.session_init and not self.opts.no_inherit_env:
            return [f"{k}={v}" for k, v in self.environ.items()]
        table = []
        path = DEFAULT_PATH if self.pid1 else self.environ.get("PATH", DEFAULT_PATH)
        table.append(f"PATH={path}")
        if "TERM" in self.environ:
            table.append(f"TERM={self.environ['TERM']}")
        return table

    def engine_options(self) -> dict:
        """The Engine's keyword arguments: the global engine's, and every chroot
        session's (upstart/daemon/sessions.py)."""
        return dict(
            session_init=self.session_init,
            job_env=self.job_env_table(),
            init_env=dict(self.environ),
            default_console=self.opts.default_console,
            debug_stanza=self.opts.debug,
            session_address=self.address if self.session_init else None,
            confirm_delay=CONFIRM_DELAY,
            random=__import__("random").SystemRandom().random,  # hardening: backoff jitter
            log_enabled=self.logger.enabled,  # perf: lines nobody would see are not built
            apparmor=self.supervisor.apparmor,  # run `apparmor load`'s security process
        )

    def _build(self) -> None:
        from upstart.core.engine import Engine
        from upstart.process.supervisor import Supervisor

        self.supervisor = Supervisor(
            self.loop, logdir=self.log_dir(), no_log=self.opts.no_log,
            session_init=self.session_init, default_console=self.opts.default_console,
            debug=self.opts.debug,  # observe hook: the debug stanza pauses before exec
        )
        self.engine = Engine(MonotonicClock(), self.supervisor, **self.engine_options())
        self.observer = Observer(self)  # observe hook
        self.observer.attach()
        # ---- readiness (issue #8): the sources adapter (upstart/readiness/adapter.py);
        # each source (inotify, sock_diag, bus connection) is opened at its first use
        from upstart.readiness.adapter import Readiness
        self.readiness = Readiness(
            self.loop, emit=lambda name, env: self._guard(
                lambda: self.apply(self.engine.emit(name, list(env), wait=False, token=None))),
            log=self.logger.log, session_init=self.session_init, environ=self.environ)
        # ---- end readiness
        # ---- cgroups (issue #9): init writes cgroupfs itself (docs/design/cgroups.md)
        from upstart.cgroups.manager import CGroupManager
        self.cgroups = CGroupManager.from_environ(
            self.environ, log=self.logger.log, loop=self.loop, enabled=not self.opts.no_cgroups)
        self.supervisor.cgroups = self.cgroups
        # ---- end cgroups

    # ------------------------------------------------------------ effects

    def apply(self, effects, session=None) -> None:
        """Carry out what an engine returned: the global one's, or a chroot
        session's (`session`; docs/design/sessions.md)."""
        if session is None and self.observer is not None and effects:  # observe hook
            self.observer.effects(effects)
        for effect in effects or ():
            try:
                self._apply_one(effect, session)
            except Exception:  # never let one effect take the daemon down
                self.logger.log("error", "internal error applying effect: "
                                + traceback.format_exc().strip().replace("\n", " | "))
        if self.quiescing:
            self._check_quiesce_done()

    def _apply_one(self, effect, session=None) -> None:
        """Carry out one effect of the global engine, or of a chroot `session`'s
        (its backend, timers, readiness adapter, cgroup scope and object paths)."""
        kind = type(effect)
        if kind is Log:             # perf: the commonest effect, first (no hook applies)
            self.logger.log(effect.priority, effect.message)
            return
        if kind is Trace:           # for the observer only (it saw the batch)
            return
        root = None if session is None else session.root
        cgroups = getattr(self, "cgroups", None)   # cgroups hook (issue #9)
        if kind is StateChanged and cgroups is not None:
            cgroups.state_changed(effect.job, effect.instance, effect.state, scope=root)
        if kind is Kill and effect.group and cgroups is not None and \
                cgroups.kill(effect.pid, effect.signal):
            return          # the whole cgroup of the job was signalled
        if kind is Reply:
            (self.backend if session is None else session.backend).resolve(
                effect.token, effect.value, effect.error)
        elif kind is Kill:
            err = self.supervisor.kill(effect.pid, effect.signal, effect.group)
            if err:
                self.logger.log("warn", err)
        elif kind is SetTimer:
            (self.timers if session is None else session.timers).set(effect.key, effect.delay)
        elif kind is CancelTimer:
            (self.timers if session is None else session.timers).cancel(effect.key)
        elif kind is CloseFd:
            try:
                os.close(effect.fd)
            except OSError:
                pass
        # ---- readiness (issue #8): the adapter in upstart/readiness, if there is one
        elif kind is WatchReady:
            readiness = getattr(self, "readiness", None) if session is None else \
                self.sessions.readiness(session)
            if readiness is not None:
                readiness.watch(effect.job, effect.instance, effect.matches, effect.pids)
        elif kind is UnwatchReady:
            readiness = getattr(self, "readiness", None) if session is None else \
                session.readiness
            if readiness is not None:
                readiness.unwatch(effect.job, effect.instance)
        # ---- end readiness
        elif self.server is not None:
            self.server.broadcast(effect, root)

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            self.logger.log("error", "internal error: "
                            + traceback.format_exc().strip().replace("\n", " | "))

    def _timer_fired(self, key) -> None:
        if reaps_first(key):
            self.on_sigchld()  # upstream's loop order: children before pipes
        self.apply(self.engine.timer_fired(key))

    # ------------------------------------------------------------ children

    def on_sigchld(self) -> None:
        sessions = self.sessions
        for note in self.supervisor.reap():
            if sessions is not None and sessions.by_pid and sessions.take(note):
                continue            # chroot sessions: a session's process
            if self.observer is not None:  # observe hook
                self.observer.note(note)
            name = type(note).__name__
            if name == "Exited":
                self.apply(self.engine.process_exited(note.pid, note.code, note.signal))
                if self.pid1 and not self.in_container:   # a login's utmp entry ends (1.13)
                    self._guard(utmp_mark_dead, note.pid, note.code, note.signal)
            elif name == "Ready":
                self.apply(self.engine.process_ready(note.pid, note.main_pid))
            elif name == "Notified":              # readiness (issue #8)
                self.notified(note.pid, note.fields)
            elif name == "LogLine":
                self.logger.log(note.priority, note.message)

    def notified(self, pid: int, fields) -> None:
        """Readiness (issue #8): a process sent notify fields (READY=1, STATUS=…)."""
        self.apply(self.engine.process_notify(pid, list(fields)))

    # ------------------------------------------------------------ configuration

    def reload_configuration(self, full: bool = False) -> None:
        from upstart.jobfile.conf import load_sources

        result = load_sources(self.conf_sources())
        errors = list(result.errors)
        for err in errors:
            if full or err not in self._logged_errors:
                self.logger.log_parse_error(err)
        self._logged_errors = set(errors)
        self.apply(self.engine.load(result.classes))
        if full and self.sessions is not None:   # chroot sessions: every source, as upstream
            self.sessions.reload_all()

    # ------------------------------------------------------------ signals

    def _install_signals(self) -> None:
        add = self.loop.add_signal_handler
        add(signal.SIGCHLD, self._guard, self.on_sigchld)
        add(signal.SIGHUP, self._guard, self._on_sighup)
        add(signal.SIGTERM, self._guard, self._on_sigterm)
        if self.pid1 or not self.session_init:
            add(signal.SIGINT, self._guard, self._emit_signal_event, "control-alt-delete")
            add(signal.SIGPWR, self._guard, self._emit_signal_event, "power-status-changed")
            add(signal.SIGWINCH, self._guard, self._emit_signal_event, "keyboard-request")
            add(signal.SIGUSR1, self._guard, self._on_sigusr1)
            for offset, kind in FINAL_SIGNALS.items():
                add(signal.SIGRTMIN + offset, self._guard, self.final_stage, kind)
        for sig in (signal.SIGPIPE, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):
                pass

    def bus_address_for_mode(self) -> str | None:
        if self.bus_address:
            return self.bus_address
        if self.session_init or self.opts.session_bus:
            return self.environ.get("DBUS_SESSION_BUS_ADDRESS")
        return self.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or \
            "unix:path=/var/run/dbus/system_bus_socket"

    async def connect_bus(self, quiet: bool = False) -> None:
        """Take com.ubuntu.Upstart on the bus, if one runs (silent early in boot)."""
        address = self.bus_address_for_mode()
        if not address or self.server is None or self.bus_connected:
            return
        label = "notified" if self.bus_address else \
            "session" if (self.session_init or self.opts.session_bus) else "system"
        if self._bus_connecting:
            return
        self._bus_connecting = True
        try:
            await self.server.connect_bus(address, label=label)
            self.bus_connected = True
        except (OSError, asyncio.TimeoutError, ValueError, ControlFailure) as exc:
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
        self.apply(self.engine.emit(name, [], wait=False, token=None))

    # ------------------------------------------------------------ session end

    def quiesce(self, kind: str) -> None:
        """Session end: emit `session-end TYPE=kind`, stop every job, exit 0."""
        if self.quiescing:
            return
        self.logger.log("info", f"Quiescing due to {kind} request")
        self._stop_everything(kind, event=("session-end", [f"TYPE={kind}"]),
                              done=lambda: self._finish(0))

    def final_stage(self, kind: str) -> None:
        """PID 1's last act: stop every job, then halt, power off or reboot."""
        if self.quiescing:
            return
        self.logger.log("message", f"Will now {kind.replace('poweroff', 'power off')}")
        self._stop_everything(kind, event=None, done=lambda: self._end_system(kind))

    def _stop_everything(self, kind: str, event, done) -> None:
        self.quiescing = kind
        self._quiesce_done = done
        disable = getattr(self.engine, "disable_respawn", None)
        if disable is not None:
            disable()
        for job in list(self.engine.job_names()):
            for inst in list(self.engine.instances(job)):
                goal, _state, _procs = self.engine.instance_info(job, inst)
                if goal != "stop":
                    self.apply(self.engine.instance_stop(job, inst, wait=False, token=None))
        if self.sessions is not None:      # chroot sessions: their jobs stop too
            self.sessions.stop_all()
        if event is not None:
            self.apply(self.engine.emit(event[0], event[1], wait=False, token=None))
        timeout = max([5] + [getattr(self.engine.get_class(j), "kill_timeout", 5)
                             for j in self.engine.job_names()]
                      + (self.sessions.kill_timeouts() if self.sessions is not None else [])
                      ) + 1
        self._quiesce_deadline = self.loop.time() + timeout
        self.loop.call_later(timeout, self._guard, self._quiesce_timeout)
        self.loop.call_later(0.05, self._guard, self._check_quiesce_done)

    def _end_system(self, kind: str) -> None:
        if self.pid1:
            if self.in_container:
                try:
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
                os.sync()
            else:           # kill and reap the rest, swap off, file systems read-only
                from upstart.daemon.teardown import teardown
                teardown(self.logger.log)
            if not self.in_container:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.reboot(RB_CMD[kind])
        self._finish(FINAL_EXIT_STATUS[kind])

    def _live_instances(self) -> list[tuple[str, str]]:
        live = [(j, i) for j in self.engine.job_names() for i in self.engine.instances(j)]
        if self.sessions is not None:      # chroot sessions
            live += self.sessions.live_instances()
        return live

    def _check_quiesce_done(self) -> None:
        if not self.quiescing or self.exit_future is None or self.exit_future.done():
            return
        if not self._live_instances() and self._quiesce_done is not None:
            done, self._quiesce_done = self._quiesce_done, None
            self.loop.call_soon(self._guard, done)

    def _quiesce_timeout(self) -> None:
        if self._quiesce_done is None:
            return
        for job, _inst in self._live_instances():
            self.logger.log("warn", f"job {job} failed to stop")
        done, self._quiesce_done = self._quiesce_done, None
        done()

    def _finish(self, status: int) -> None:
        if self.exit_future is not None and not self.exit_future.done():
            self.exit_future.set_result(status)

    # ------------------------------------------------------------ re-exec

    def serialise_state(self) -> str:
        """GetState: Upstart 1.13's document of our state (upstart/daemon/upgrade.py)."""
        from upstart.daemon.upgrade import get_state
        return get_state(self)

    def request_reexec(self) -> None:
        """Re-exec soon: once the control server has answered what it was
        answering, its sockets go to the new init (docs/design/dbus.md)."""
        if self._reexec_task is None:
            self._reexec_task = self.loop.create_task(self._reexec())

    async def _reexec(self) -> None:
        self.logger.log("info", f"Re-executing {self.argv[0]}")
        from upstart.daemon.reexec import reexec
        try:
            if self.server is not None:
                await self.server.drain_for_exec()
            reexec(self)                       # returns only when the exec failed
            if self.server is not None:
                self.server.resume()
        finally:
            self._reexec_task = None

    # ------------------------------------------------------------ main

    def _write_session_file(self) -> None:
        runtime = self.environ.get("XDG_RUNTIME_DIR")
        if not runtime:
            return
        path = os.path.join(runtime, "upstart", "sessions")
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            self.session_file = os.path.join(path, f"{os.getpid()}.session")
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

    async def main(self) -> int:
        from upstart.control.server import ControlServer

        self.exit_future = self.loop.create_future()
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
        if os.getpid() != 1:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            except OSError as exc:
                self.logger.log("warn", f"Unable to register as subreaper: {exc.strerror}")
        from upstart.daemon.procname import name_process
        name_process()           # comm `init` (pgrep -x init), also after a re-exec
        from upstart.process.launch import reset_reserved_signals
        reset_reserved_signals()  # an inherited SIG_IGN must not reach the jobs
        self._build()
        from upstart.daemon.sessions import Sessions     # chroot sessions (05 §9)
        if Sessions.wanted(self):
            self.sessions = Sessions(self)
        self._install_signals()
        restored = False
        if self.opts.state_fd is not None:
            from upstart.daemon.reexec import restore_state
            restored = restore_state(self)
            if restored and self.observer is not None:  # observe hook: new engine
                self.observer.attach()
        if not restored:
            self.reload_configuration(full=True)
        self.watcher = _make_watcher(self)
        from upstart.control.sasl import ANY_UID
        # the system socket admits every user (the server's policy lets them look,
        # not touch: docs/security.md); a Session Init's only its own user (libdbus's rule)
        self.server = ControlServer(self.backend, self.address, loop=self.loop,
                                    user_mode=self.session_init, log=self.logger.log,
                                    allowed_uids=None if self.session_init else ANY_UID)
        self.server.sessions = self.sessions    # chroot sessions: scope of each caller
        self.server.on_bus_lost = self._bus_lost       # DM-14
        handover = self.control_handover or {}
        try:   # re-exec: the old init's listening socket, its backlog waiting
            await self.server.start(fd=handover.get("listen"))
        except OSError as exc:
            self.logger.log("warn", f"Unable to listen for private connections: {exc}")
        if handover and self.server.adopt(handover) and self.server.bus_connection():
            self.bus_connected = True          # the old init's bus connection, name kept
        if self.session_init:
            self._write_session_file()
        if not self.opts.no_dbus:
            await self.connect_bus(quiet=True)
        if restored:
            from upstart.control.signals import Restarted
            if self.server is not None:
                self.server.broadcast(Restarted())
            self.logger.log("info", "Stateful re-exec completed")
        elif self.opts.startup_event:
            self.apply(self.engine.emit(self.opts.startup_event, [], wait=False, token=None))
        # reap anything that died before the handler was installed
        self._guard(self.on_sigchld)
        try:
            return await self.exit_future
        finally:
            self._remove_session_file()
            if self.watcher is not None:
                self.watcher.close()
            if self.sessions is not None:      # chroot sessions: their watchers, timers
                self.sessions.close()
            if getattr(self, "readiness", None) is not None:   # readiness (issue #8)
                self.readiness.close()
            if self.server is not None:
                self.server.close()

    def run(self) -> int:
        asyncio.set_event_loop(self.loop)
        try:
            return self.loop.run_until_complete(self.main())
        finally:
            try:
                self.supervisor and self.supervisor.close()
            except Exception:
                pass
            try:   # cgroups hook (issue #9): remove what can be removed
                getattr(self, "cgroups", None) and self.cgroups.close()
            except Exception:
                pass


def _undo_locale_coercion(environ: dict[str, str]) -> None:
    """Python started in the C locale adds LC_CTYPE=C.UTF-8 to its own
    environment (PEP 538); that is not init's environment, so jobs must not
    inherit it."""
    if environ.get("LC_CTYPE") in ("C.UTF-8", "C.utf8", "UTF-8") and \
            not environ.get("LANG") and not environ.get("LC_ALL"):
        del environ["LC_CTYPE"]
        os.environ.pop("LC_CTYPE", None)


def _make_watcher(daemon: Daemon):
    from upstart.daemon.watch import ConfWatcher

    try:
        return ConfWatcher(daemon.loop, daemon.conf_dirs(),
                           lambda: daemon._guard(daemon.reload_configuration))
    except Exception as exc:
        daemon.logger.log("warn", f"Unable to watch configuration: {exc}")
        return None
