"""`expect fork|daemon`: following a traced process tree until it settles.

Upstream 1.13 counts forks only (1 for `fork`, 2 for `daemon`) and then
takes the newest child as the main process; a daemon that forks fewer
times hangs the job, one that forks more leaves init tracking a dead
intermediate. This tracer implements the roadmap's *exit counting*
(spec 07 §2; algorithm and edge cases in docs/design/expect.md):

* the spawned process is traced from its exec (PTRACE_TRACEME in the
  child); fork and vfork children are traced automatically, threads are
  not; exec is reported;
* the *leader* is the oldest traced process none of whose traced ancestors
  is alive. When the leader exits and traced processes remain, the oldest
  orphaned root becomes the leader: one *hand-over*;
* once the tree has forked at least once, it *settles* when nothing
  happens (no fork, exit or exec) for a quiet period (short when the
  hand-overs reached the declared count, long when fewer happened: the
  daemon forked less than declared) and no traced process is running
  (`R`/`D` in /proc), bounded by a cap from the first fork;
* on settling: `Ready(spawned, leader)`, then every traced process is
  stopped and detached;
* if the whole tree dies before settling, the job sees `Exited(spawned,
  ...)` with the last leader's status. Absorbed intermediates are never
  reported.

The tracer owns the trace bookkeeping and the ptrace calls on traced pids;
it never waits for children (the supervisor feeds it the statuses) and
never touches a pid it is not tracing.
"""

from __future__ import annotations

import os
import signal
from typing import Callable

from upstart.process import procstat, ptrace
from upstart.process.notes import Exited, LogLine, Note, Ready
from upstart.records import dataclass, field

SETTLE_QUIET = 0.05   # seconds without activity once the declared hand-overs happened
SETTLE_SHORT_OF = 0.5  # ... when fewer hand-overs than declared happened
SETTLE_CAP = 3.0      # at most this long after the first fork

_WANT = {"fork": 1, "daemon": 2}
_STOP_SIGNALS = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
_FORK_EVENTS = {ptrace.EVENT_FORK, ptrace.EVENT_VFORK, ptrace.EVENT_CLONE}


@dataclass
class _Proc:
    pid: int
    parent: int | None
    seq: int
    new: bool = True     # waiting for its first stop (exec trap / attach SIGSTOP)


@dataclass
class _Trace:
    spawned: int
    want: int
    label: str
    procs: dict[int, _Proc] = field(default_factory=dict)
    leader: int = 0
    forks: int = 0
    handovers: int = 0
    first_fork: float | None = None
    timer: object = None
    main: int | None = None   # set once Ready was reported (detaching)


class Tracer:
    def __init__(self, loop, report: Callable[[Note], None], wake: Callable[[], None]):
        self.loop = loop
        self.report = report
        self.wake = wake
        self.by_pid: dict[int, _Trace] = {}
        self.early: dict[int, int] = {}   # pid -> status of a stop seen before its fork event
        # absorbed zombies whose real parent is another process: if that parent dies
        # before reaping them they are re-parented to init and reported a second time
        self.absorbed: set[int] = set()
        self._seq = 0

    # ------------------------------------------------------------ api

    def add(self, pid: int, expect: str, label: str) -> None:
        tr = _Trace(spawned=pid, want=_WANT.get(expect, 1), label=label, leader=pid)
        self._track(tr, pid, None)

    def owns(self, pid: int) -> bool:
        return pid in self.by_pid

    def stash_early(self, pid: int, status: int) -> bool:
        """A stop of a pid nobody knows yet: maybe a new tracee whose parent's
        fork event has not been read yet. Kept for `handle`."""
        if os.WIFSTOPPED(status) and len(self.early) < 1024:
            self.early[pid] = status
            return True
        return False

    def handle(self, pid: int, status: int) -> list[Note]:
        tr = self.by_pid[pid]
        proc = tr.procs[pid]
        if os.WIFEXITED(status):
            return self._exited(tr, proc, os.WEXITSTATUS(status), None)
        if os.WIFSIGNALED(status):
            return self._exited(tr, proc, None, os.WTERMSIG(status))
        if os.WIFSTOPPED(status):
            self._stopped(tr, proc, os.WSTOPSIG(status), status >> 16)
        return []

    def export(self) -> dict:
        """JSON-able trace state: the ptrace relation survives init's own exec,
        so a re-executed init adopts the traces and carries on."""
        traces = {id(t): t for t in self.by_pid.values()}.values()
        return {
            "traces": [{
                "spawned": t.spawned, "want": t.want, "label": t.label, "leader": t.leader,
                "forks": t.forks, "handovers": t.handovers, "main": t.main,
                "procs": [[p.pid, p.parent, p.seq, p.new] for p in t.procs.values()],
            } for t in traces],
            "early": {str(k): v for k, v in self.early.items()},
            "absorbed": sorted(self.absorbed),
        }

    def adopt(self, state: dict) -> None:
        for item in state.get("traces", []):
            tr = _Trace(spawned=item["spawned"], want=item["want"], label=item["label"],
                        leader=item["leader"], forks=item["forks"],
                        handovers=item["handovers"], main=item.get("main"))
            for pid, parent, seq, new in item["procs"]:
                tr.procs[pid] = _Proc(pid, parent, seq, new)
                self.by_pid[pid] = tr
                self._seq = max(self._seq, seq)
            if tr.main is not None:
                self._settle_again(tr)
            else:
                self._activity(tr)
        self.early.update({int(k): v for k, v in state.get("early", {}).items()})
        self.absorbed.update(state.get("absorbed", []))

    def _settle_again(self, tr: _Trace) -> None:
        """Detaching was under way: stop whatever is still traced once more."""
        for proc in tr.procs.values():
            if not proc.new:
                try:
                    ptrace.tgkill(proc.pid, signal.SIGSTOP)
                except OSError:
                    pass

    def swallow_second_report(self, pid: int) -> bool:
        """True (once) for the exit of a zombie the tracer already absorbed."""
        if pid in self.absorbed:
            self.absorbed.discard(pid)
            return True
        return False

    def forget_reaped(self) -> None:
        """Drop absorbed pids that their real parent has reaped meanwhile."""
        for pid in [p for p in self.absorbed if not os.path.exists(f"/proc/{p}")]:
            self.absorbed.discard(pid)

    def close(self) -> None:
        for tr in {id(t): t for t in self.by_pid.values()}.values():
            if tr.timer is not None:
                tr.timer.cancel()
        self.by_pid.clear()

    # ------------------------------------------------------- internals

    def _track(self, tr: _Trace, pid: int, parent: int | None) -> _Proc:
        self._seq += 1
        proc = _Proc(pid, parent, self._seq)
        tr.procs[pid] = proc
        self.by_pid[pid] = tr
        return proc

    def _untrack(self, tr: _Trace, pid: int) -> None:
        tr.procs.pop(pid, None)
        self.by_pid.pop(pid, None)
        for other in tr.procs.values():
            if other.parent == pid:
                other.parent = None
        if not tr.procs and tr.timer is not None:
            tr.timer.cancel()
            tr.timer = None

    def _ptrace(self, tr: _Trace, fn, pid: int, *args) -> bool:
        """One ptrace request; failures are upstream's warnings (ESRCH: the
        process died meanwhile, its exit is on its way: silent)."""
        try:
            fn(pid, *args)
            return True
        except ProcessLookupError:
            return False
        except OSError as err:
            what = {ptrace.setoptions: "Failed to set ptrace options for",
                    ptrace.cont: "Failed to continue traced",
                    ptrace.detach: "Failed to detach traced"}[fn]
            self.report(LogLine("warn", f"{what} {tr.label} main process ({pid}): "
                                        f"{os.strerror(err.errno)}"))
            return False

    def _stopped(self, tr: _Trace, proc: _Proc, sig: int, event: int) -> None:
        pid = proc.pid
        if tr.main is not None:                     # detaching after Ready
            self._stopped_detaching(tr, proc, sig, event)
            return
        if proc.new:
            first = sig == (signal.SIGTRAP if pid == tr.spawned else signal.SIGSTOP)
            if first and event == 0:
                proc.new = False
                self._ptrace(tr, ptrace.setoptions, pid)
                self._ptrace(tr, ptrace.cont, pid, 0)
            else:
                self._ptrace(tr, ptrace.cont, pid, sig)
            return
        if sig == signal.SIGTRAP and event in _FORK_EVENTS:
            try:
                child = ptrace.geteventmsg(pid)
            except OSError:
                child = 0
            if child and child not in self.by_pid:
                tr.forks += 1
                if tr.first_fork is None:
                    tr.first_fork = self.loop.time()
                self._track(tr, child, pid)
                early = self.early.pop(child, None)
                if early is not None:
                    self._stopped(tr, tr.procs[child], os.WSTOPSIG(early), early >> 16)
            self._ptrace(tr, ptrace.cont, pid, 0)
            self._activity(tr)
        elif sig == signal.SIGTRAP and event == ptrace.EVENT_EXEC:
            if pid == tr.leader:
                self.report(LogLine("info", f"{tr.label} main process ({pid}) executable changed"))
            self._ptrace(tr, ptrace.cont, pid, 0)
            self._activity(tr)
        elif event:
            self._ptrace(tr, ptrace.cont, pid, 0)
        elif sig in _STOP_SIGNALS and ptrace.is_group_stop(pid):
            self._ptrace(tr, ptrace.cont, pid, 0)
        else:
            self._ptrace(tr, ptrace.cont, pid, sig)

    def _stopped_detaching(self, tr: _Trace, proc: _Proc, sig: int, event: int) -> None:
        pid = proc.pid
        if sig == signal.SIGTRAP and event in _FORK_EVENTS:
            try:
                child = ptrace.geteventmsg(pid)
            except OSError:
                child = 0
            if child and child not in self.by_pid:
                self._track(tr, child, pid)
                early = self.early.pop(child, None)
                if early is not None:
                    self._stopped_detaching(tr, tr.procs[child], os.WSTOPSIG(early), 0)
            self._ptrace(tr, ptrace.cont, pid, 0)
        elif event:
            self._ptrace(tr, ptrace.cont, pid, 0)
        elif sig == signal.SIGSTOP:
            # the attach stop of a late child, or the SIGSTOP we sent (thread-directed,
            # so it is a signal-delivery stop of the traced thread): swallow it
            self._ptrace(tr, ptrace.detach, pid, 0)
            self._untrack(tr, pid)
        else:
            self._ptrace(tr, ptrace.cont, pid, sig)

    def _exited(self, tr: _Trace, proc: _Proc, code: int | None, sig: int | None) -> list[Note]:
        pid = proc.pid
        was_leader = pid == tr.leader
        self._untrack(tr, pid)
        if tr.main is not None:
            if pid == tr.main:
                return [Exited(pid, code, sig)]
            if _parent_of(pid) not in (None, os.getpid()):
                self.absorbed.add(pid)
            return []
        if not was_leader:                         # an absorbed intermediate
            if _parent_of(pid) not in (None, os.getpid()):
                self.absorbed.add(pid)
            return []
        roots = sorted((p for p in tr.procs.values() if p.parent is None), key=lambda p: p.seq)
        if not roots:
            self._untrack_all(tr)
            return [Exited(tr.spawned, code, sig)]
        tr.leader = roots[0].pid
        tr.handovers += 1
        self.report(LogLine("info", f"{tr.label} main process ({pid}) became new process "
                                    f"({tr.leader})"))
        self._activity(tr)
        return []

    def _untrack_all(self, tr: _Trace) -> None:
        for pid in list(tr.procs):
            self._untrack(tr, pid)
        if tr.timer is not None:
            tr.timer.cancel()
            tr.timer = None

    def _activity(self, tr: _Trace) -> None:
        if tr.forks == 0 and tr.handovers == 0:
            return
        if tr.timer is not None:
            tr.timer.cancel()
        quiet = SETTLE_QUIET if tr.handovers >= tr.want else SETTLE_SHORT_OF
        now = self.loop.time()
        start = tr.first_fork if tr.first_fork is not None else now
        delay = max(0.0, min(quiet, start + SETTLE_CAP - now))
        tr.timer = self.loop.call_later(delay, self._settle, tr)

    def _settle(self, tr: _Trace) -> None:
        tr.timer = None
        if tr.main is not None or tr.leader not in tr.procs:
            return
        if any(_busy(pid) for pid in tr.procs):
            # still running (or starved of CPU): not settled yet, look again later
            now = self.loop.time()
            start = tr.first_fork if tr.first_fork is not None else now
            if now < start + SETTLE_CAP:
                tr.timer = self.loop.call_later(
                    min(SETTLE_QUIET, start + SETTLE_CAP - now), self._settle, tr)
                return
        tr.main = tr.leader
        self.report(Ready(tr.spawned, tr.main))
        for proc in list(tr.procs.values()):
            if not proc.new:
                try:
                    ptrace.tgkill(proc.pid, signal.SIGSTOP)
                except OSError:
                    pass
        self.wake()


def _busy(pid: int) -> bool:
    """True when the process is runnable or in uninterruptible sleep (`R`/`D`):
    a daemon that has finished starting up waits in `S`."""
    return procstat.state(pid) in (b"R", b"D")


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None
