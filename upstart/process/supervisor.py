"""The Supervisor: init's process adapter (docs/design/interfaces.md §3).

It implements the core's `Spawner` (`spawn(request) -> pid`, raising
`SpawnError` with upstream's reason text) and turns the kernel's view of
children into notes for the daemon: `reap()` loops
`waitpid(-1, WNOHANG|__WALL|WUNTRACED|WCONTINUED)` and returns `Exited`,
`Ready`, `LogLine` and `Notified` (readiness: `notify.py`) notes in order. It also sends signals (`kill`) and
owns the `console log` machinery (ptys, log files, buffering until
`notify_disk_writeable()`).

What it owns: the children it spawned (their pty loggers, script pipes,
`expect stop` waits) and the ptrace of `expect fork|daemon` mains. It
never knows about job states or goals, never runs threads, never uses
asyncio subprocesses or `subprocess.Popen` (their reapers would steal exit
statuses from `waitpid(-1)`). The loop is used for `add_reader` on pty
masters, `add_writer` for long scripts and timers of the tracer.

Notes produced outside `reap()` (the tracer's settle timer) are queued and
announced by raising SIGCHLD on init itself: the daemon's SIGCHLD handler
calls `reap()`, which returns them first.
"""

from __future__ import annotations

import os
import signal

from upstart.core.effects import SpawnError, SpawnRequest
from upstart.process import ptrace
from upstart.process.joblog import JobLog, LogHub, log_path
from upstart.process.launch import open_console, spawn_fast, spawn_forked
from upstart.process.notes import Exited, LogLine, Note, Ready
from upstart.process.notify import NotifyHub   # readiness (issue #8)
from upstart.process.setup import apparmor_usable, plan_for
from upstart.process.tracer import Tracer
from upstart.records import dataclass

WALL = 0x40000000
_WAIT_FLAGS = os.WNOHANG | WALL | os.WUNTRACED | os.WCONTINUED


@dataclass(slots=True)   # footprint (issue #23): no per-object dict
class _Child:
    label: str            # "job" or "job (instance)"
    slot: str
    await_stop: bool      # expect stop: the first SIGSTOP means ready
    debug_pause: bool     # debug: the first SIGSTOP is the pre-exec pause


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name.removeprefix("SIG")
    except ValueError:
        return str(sig)


class Supervisor:
    cgroups = None   # cgroups (issue #9): the daemon's CGroupManager, when there is one

    def __init__(self, loop, *, logdir: str | None, no_log: bool, session_init: bool,
                 default_console: str = "log", debug: bool = False,
                 subreaper: bool = True, inherit_umask: bool = True):
        self.loop = loop
        self.logdir = logdir
        self.no_log = no_log
        self.session_init = session_init
        self.inherit_umask = inherit_umask     # False: --no-inherit-env
        self.default_console = default_console
        self.debug = debug
        self._pending: list[Note] = []
        self._apparmor_warned: set[str] = set()
        # issue #26: False, then True once "not tracked" is logged, None once
        # tracking began after that
        self._untracked_said: bool | None = False
        self._woken = False
        self._hub = LogHub(loop, self._report)
        self._tracer = Tracer(loop, self._report, self._wake)
        self._notify = NotifyHub(loop, self._report)   # readiness: NOTIFY_SOCKET, notify-fd
        self._children: dict[int, _Child] = {}
        self._logs: dict[int, JobLog] = {}
        self._writers: dict[int, bytes] = {}
        self.apparmor = apparmor_usable()   # also tells the engine to run `security`
        self._was_subreaper: bool | None = None
        if subreaper and os.getpid() != 1:
            self._was_subreaper = ptrace.is_child_subreaper()
            try:
                ptrace.set_child_subreaper(True)
            except OSError:
                self._was_subreaper = None

    # ------------------------------------------------------------ spawn

    def _warn_without_apparmor(self, request: SpawnRequest) -> None:
        """1.13 skips `apparmor load` and `apparmor switch` silently when AppArmor
        is unusable; say so once per job instead, at its first process."""
        cls = request.job_class
        what = [f"not loading profile {cls.apparmor_load}"] if cls.apparmor_load else []
        if cls.apparmor_switch:
            what.append(f"running without profile {cls.apparmor_switch}")
        if what:
            self._apparmor_warned.add(request.job)
            self._report(LogLine("warn", f"{request.job}: AppArmor is not available, "
                                         + ", ".join(what)))

    def spawn(self, request: SpawnRequest, root: str | None = None) -> int:
        """`root`: the chroot session the job belongs to (docs/design/sessions.md):
        the process is chrooted there first and its log goes to `<root><logdir>`."""
        try:
            return self._spawn(request, root)
        except OSError as err:   # pipe/pty/fork exhaustion: never crash init
            raise SpawnError(f"unable to spawn: {os.strerror(err.errno) if err.errno else err}"
                             ) from None

    def _spawn(self, request: SpawnRequest, root: str | None = None) -> int:
        plan = plan_for(request, session_init=self.session_init,
                        default_console=self.default_console, no_log=self.no_log,
                        debug=self.debug, apparmor_usable=self.apparmor,
                        inherit_umask=self.inherit_umask)
        plan.session_root = root
        label = request.job_class.job_name_for_display(request.instance)
        if not self.apparmor and request.job not in self._apparmor_warned:
            self._warn_without_apparmor(request)
        # cgroups (issue #9): create, configure, join (a chroot session's job below
        # the session's own prefix: docs/design/sessions.md)
        untracked = False   # issue #26: tracking wanted, no cgroup: the proc connector
        if self.cgroups is not None:
            procs = self.cgroups.prepare(request, scope=root)
            if request.job_class.cgroups:
                plan.cgroup_procs = procs
            elif procs:   # issue #26: the automatic tracking cgroup (tracking.md)
                homes = tuple(self.cgroups.home_procs(p) for p in procs)
                if all(homes):      # fast path: init spawns from inside, goes back home
                    plan.track_procs, plan.track_home = procs, homes
                else:               # no way back for init: the child joins (fork path)
                    plan.cgroup_procs = procs
                if self._untracked_said is True:
                    self._untracked_said = None
                    self.cgroups.cgroups_ready()
                    self._report(LogLine("info", "job tracking: cgroups can be made now; "
                                                 "jobs started from now on are tracked"))
            elif self.cgroups.track_all and request.job_class.kill_mode != "group":
                untracked = True
                self.cgroups.connector()   # listening before the process exists
        if plan.console == "log" and self.logdir is None:
            plan.console = "none"
        master = script_w = None
        to_close: list[int] = []   # init's copies of the child's fds, closed after spawn
        notify = None              # readiness (issue #8): the main process's notify channel
        try:
            notify = self._notify.prepare(plan)
            if plan.console == "log":
                try:
                    master, slave = os.openpty()
                    to_close.append(slave)
                except OSError:
                    self._report(
                        LogLine("error", "Failed to create pty - disabling logging for job"))
                    plan.console = "none"
            if plan.console in ("none", "output"):
                got = open_console(plan.console)
                if isinstance(got, str):
                    self._report(LogLine("warn", got))
                    plan.console = "none"
                    got = open_console("none")
                stdio = got
                to_close.append(got[0])
            elif plan.console == "log":
                null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
                to_close.append(null)
                stdio = (null, slave, slave)
            else:
                stdio = None        # owner: opened by the child itself
            script_r = None
            if plan.script is not None:
                script_r, script_w = os.pipe()
                to_close.append(script_r)
            if plan.needs_fork():
                pid = spawn_forked(plan, stdio, script_r)
            else:
                pid = spawn_fast(plan, stdio, script_r)
        except BaseException:
            for fd in (master, script_w):
                if fd is not None:
                    os.close(fd)
            self._notify.abandon(notify)   # readiness
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        self._notify.started(notify, pid)   # readiness
        if untracked:
            self._untracked(self.cgroups.follow(pid, request, root))
        if script_w is not None:
            self._feed_script(script_w, plan.script)
        if master is not None:
            logdir = self.logdir if root is None else \
                os.path.join(root, os.path.abspath(self.logdir).lstrip("/"))
            self._logs[pid] = JobLog(self._hub, log_path(logdir, request.job,
                                                         request.instance), master)
        self._children[pid] = _Child(label, request.slot,
                                     await_stop=request.stop_on_exec and request.slot == "main",
                                     debug_pause=plan.debug)
        if plan.trace:
            self._tracer.add(pid, request.job_class.expect, label)
        if plan.debug:
            self._report(LogLine(
                "info", f"Pausing {request.job} ({pid}) [pre-exec] for debug",
                paused=pid, job=request.job))
        return pid

    def _untracked(self, why: str | None) -> None:
        """Tracking is wanted but no cgroup can be made: say once what is done
        instead (tracking.md): the proc connector follows the job's processes
        (`why` None), or nothing does."""
        if self._untracked_said is not False:
            return
        self._untracked_said = True
        head = "job tracking: no writable cgroup hierarchy (unified, or v1 freezer)"
        if why is None:
            self._report(LogLine("info", head + ": following processes of jobs without "
                                                "a cgroup stanza through the proc connector"))
        else:
            self._report(LogLine(
                "warn", head + f" and {why}: processes of jobs without a cgroup stanza "
                               "are not tracked; stop signals the main process group only"))

    def _feed_script(self, fd: int, data: bytes) -> None:
        os.set_blocking(fd, False)
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            n = 0
        except OSError:   # the child is gone already
            os.close(fd)
            return
        if n == len(data):
            os.close(fd)
            return
        self._writers[fd] = data[n:]
        self.loop.add_writer(fd, self._write_more, fd)

    def _write_more(self, fd: int) -> None:
        data = self._writers[fd]
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            return
        except OSError:
            n = len(data)
        data = data[n:]
        if data:
            self._writers[fd] = data
            return
        del self._writers[fd]
        self.loop.remove_writer(fd)
        os.close(fd)

    # ------------------------------------------------------------- reap

    def reap(self) -> list[Note]:
        notes: list[Note] = []
        self._woken = True          # notes queued while reaping are taken below
        self._take_pending(notes)
        while True:
            try:
                pid, status = os.waitpid(-1, _WAIT_FLAGS)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == 0:
                break
            if self._tracer.owns(pid):
                for note in self._tracer.handle(pid, status):
                    self._take_pending(notes)
                    self._note(note, notes)
                self._take_pending(notes)
            elif os.WIFSTOPPED(status):
                self._stopped(pid, os.WSTOPSIG(status), notes)
            elif os.WIFCONTINUED(status):
                child = self._children.get(pid)
                if child is not None:
                    notes.append(LogLine("info", f"{child.label} {child.slot} process ({pid}) "
                                                 f"continued by CONT signal"))
            elif self._tracer.swallow_second_report(pid):
                pass
            elif os.WIFEXITED(status):
                self._note(Exited(pid, os.WEXITSTATUS(status), None), notes)
            elif os.WIFSIGNALED(status):
                self._note(Exited(pid, None, os.WTERMSIG(status)), notes)
        self._take_pending(notes)
        if self._tracer.absorbed:
            self._tracer.forget_reaped()
        self._woken = False
        return notes

    def _take_pending(self, notes: list[Note]) -> None:
        while self._pending:
            self._note(self._pending.pop(0), notes)

    def _note(self, note: Note, notes: list[Note]) -> None:
        if isinstance(note, Exited):
            self._finished(note.pid, notes)
        elif isinstance(note, Ready) and note.main_pid != note.pid:
            log = self._logs.pop(note.pid, None)
            if log is not None:
                self._logs[note.main_pid] = log
            child = self._children.pop(note.pid, None)
            if child is not None:
                self._children[note.main_pid] = child
            self._notify.moved(note.pid, note.main_pid)   # readiness
        notes.append(note)

    def _finished(self, pid: int, notes: list[Note]) -> None:
        if self._children.pop(pid, None) is not None and not self.session_init:
            # a getty's login record ends with it (spec 03 §5: "always on termination")
            from upstart.sysv.utmp import mark_dead
            try:
                mark_dead(pid)
            except OSError:
                pass
        self._notify.finished(pid)   # readiness
        self._tracer.early.pop(pid, None)
        log = self._logs.pop(pid, None)
        if log is not None and not log.drain():
            notes.append(LogLine("debug", "Process associated with log leaked a file "
                                          f"descriptor {log.path}"))

    def _stopped(self, pid: int, sig: int, notes: list[Note]) -> None:
        child = self._children.get(pid)
        if child is None:
            self._tracer.stash_early(pid, (sig << 8) | 0x7F)
            return
        if sig == signal.SIGSTOP and child.debug_pause:
            child.debug_pause = False
            return
        if sig == signal.SIGSTOP and child.await_stop:
            child.await_stop = False
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            notes.append(Ready(pid, pid))
            return
        notes.append(LogLine("info", f"{child.label} {child.slot} process ({pid}) "
                                     f"stopped by {signal_name(sig)} signal"))

    # ------------------------------------------------------------- kill

    def kill(self, pid: int, sig: int, group: bool = True) -> str | None:
        try:
            if group:
                try:
                    pgid = os.getpgid(pid)
                except OSError:
                    pgid = None
                if pgid is not None and pgid > 1 and pgid != os.getpgrp():
                    os.killpg(pgid, sig)
                    return None
            os.kill(pid, sig)
        except ProcessLookupError:
            return None
        except OSError as err:
            return os.strerror(err.errno) if err.errno else str(err)
        return None

    # ---------------------------------------------------------- re-exec

    def export_state(self) -> dict:
        """JSON-able state for a stateful re-exec: job logs (their pty masters
        stay open across exec), unflushed buffers, the `expect` waits, the
        ptrace traces (the tracer relation survives exec) and the notify
        channels. Not destructive: if
        the exec fails, this supervisor carries on as before."""
        for log in self._logs.values():
            log.drain()
        return {
            "version": 1,
            "disk_writeable": self._hub.disk_writeable,
            "logs": {str(pid): log.export() for pid, log in self._logs.items()
                     if not log.closed},
            "unflushed": [{"path": log.path, "buffer": log.buffer.hex()}
                          for log in self._hub.unflushed],
            "children": {str(pid): [c.label, c.slot, c.await_stop, c.debug_pause]
                         for pid, c in self._children.items()},
            "tracer": self._tracer.export(),
            # readiness channels (NOTIFY_SOCKET sockets, notify-fd pipes) of
            # main processes still waiting to say they are ready
            "notify": self._notify.export(),
        }

    def prepare_exec(self) -> None:
        """Called just before init execs itself: flush what can be flushed."""
        for log in list(self._logs.values()):
            log.drain()
            if log.fd is not None:
                os.close(log.fd)
                log.fd = None

    def adopt_state(self, state: dict) -> None:
        """Take over what `export_state()` described in the previous init."""
        if state.get("version") != 1:
            return
        self._hub.disk_writeable = state.get("disk_writeable", False)
        for pid, item in state.get("logs", {}).items():
            try:
                self._logs[int(pid)] = JobLog.adopt(self._hub, item)
            except OSError:
                continue
        for item in state.get("unflushed", []):
            log = JobLog.__new__(JobLog)
            log.hub, log.path, log.master, log.fd = self._hub, item["path"], -1, None
            log.buffer = bytearray.fromhex(item["buffer"])
            log.closed, log._dropped, log._warned, log.open_errno = True, False, False, 0
            self._hub.unflushed.append(log)
        for pid, (label, slot, await_stop, debug_pause) in state.get("children", {}).items():
            self._children[int(pid)] = _Child(label, slot, await_stop, debug_pause)
        self._tracer.adopt(state.get("tracer", {}))
        self._notify.adopt(state.get("notify", {}))

    # ------------------------------------------------------------- logs

    def notify_disk_writeable(self) -> None:
        self._hub.notify_disk_writeable()

    def close(self) -> None:
        for log in list(self._logs.values()):
            log.drain()
        self._hub.close_all()
        self._logs.clear()
        for fd in list(self._writers):
            try:
                self.loop.remove_writer(fd)
            except Exception:   # noqa: BLE001 - loop already closed
                pass
            os.close(fd)
        self._writers.clear()
        self._tracer.close()
        self._notify.close()   # readiness
        if self._was_subreaper is not None:
            try:
                ptrace.set_child_subreaper(self._was_subreaper)
            except OSError:
                pass
            self._was_subreaper = None

    def _report(self, note: Note) -> None:
        """Queue a note produced outside reap() and make sure reap() runs soon."""
        self._pending.append(note)
        self._wake()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            signal.raise_signal(signal.SIGCHLD)


__all__ = ["Supervisor", "Exited", "Ready", "LogLine", "SpawnError"]
