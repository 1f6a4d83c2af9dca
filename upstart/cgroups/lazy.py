"""The cgroup manager as init holds it: built at its first real use.

Footprint (issue #23): most systems run no job with a `cgroup` stanza, and the
manager costs imports (its file-system layer and model) and I/O (finding the
hierarchies and init's own cgroups) on the start path. `LazyCGroups` answers
what it can without the manager (nothing to kill, clean up or report while
no job has been given a cgroup) and builds it when a spawn wants one or a
re-exec hands over cgroups. The interface is `CGroupManager`'s, plus the
fallback of job tracking where no cgroup can be made (tracking.md): the proc
connector (`connector`, `follow`, `cgroups_ready`), asked after the manager
by `kill` and `state_changed`, and carried in the re-exec record (`proc`).

Owns: the moment the manager is made; the proc connector tracker (opened at
the first untracked spawn, retired once cgroups can be made); the policy
functions of who gets cgroups (`wants_cgroup`, `tracking_default`). Never:
imports the manager (or the connector) before they are needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


class LazyCGroups:
    __slots__ = ("_make", "enabled", "track_all", "_real", "loop", "log", "proc")

    def __init__(self, make: Callable[[], Any], *, enabled: bool = True,
                 track_all: bool = False, loop=None, log=None):
        self._make = make
        self.enabled = enabled
        self.track_all = track_all     # issue #26: a tracking cgroup for every job
        self._real: Any = None
        self.loop = loop
        self.log = log or (lambda priority, message: None)
        # issue #26: the proc connector fallback (upstart/process/proctrack.py):
        # None (not tried), a ProcTracker, or the text saying why there is none
        self.proc: Any = None

    def connector(self) -> str | None:
        """Listen to the proc connector (before the spawn it will follow, so
        that no fork of the new process is missed). None: listening; else
        why it cannot be used."""
        self._proc()                # a retired tracker is opened again
        if self.proc is None:
            from upstart.process.proctrack import open_connector
            self.proc = open_connector(self.loop, self.log)
        return self.proc if isinstance(self.proc, str) else None

    def follow(self, pid: int, request, scope: str | None = None) -> str | None:
        """No cgroup could be made for this tracked spawn: follow it through
        the proc connector. None when followed, else why not."""
        if self.connector() is not None:
            return self.proc
        from upstart.cgroups.manager import scoped
        jc = request.job_class
        self.proc.follow(pid, (scoped(request.job, scope), request.instance), request.slot,
                         jc.kill_signal, jc.kill_timeout)
        return None

    def _proc(self):
        if self.proc is None or isinstance(self.proc, str):
            return None
        if self.proc.closed:        # retired: cgroups took over
            self.proc = None
        return self.proc

    def cgroups_ready(self) -> None:
        """A tracked spawn got its cgroup: the proc connector, if it was
        opened before cgroupfs was mounted, closes once it follows nothing."""
        proc = self._proc()
        if proc is not None:
            proc.retire()

    def _manager(self):
        if self._real is None:
            self._real = self._make()
        return self._real

    def wants(self, request) -> bool:
        return wants_cgroup(request.job_class, enabled=self.enabled, track_all=self.track_all)

    def can_track(self) -> bool:
        return self.enabled and self._manager().can_track()

    def home_procs(self, procs: str) -> str | None:
        return self._real.home_procs(procs) if self._real is not None else None

    def prepare(self, request, scope: str | None = None) -> tuple[str, ...]:
        if not self.wants(request):
            return ()
        return self._manager().prepare(request, scope)

    def owner(self, pid: int):
        return self._real.owner(pid) if self._real is not None else None

    def kill(self, pid: int, sig: int) -> bool:
        if self._real is not None and self._real.kill(pid, sig):
            return True
        proc = self._proc()
        return proc.kill(pid, sig) if proc is not None else False

    def state_changed(self, job: str, instance: str, state: str,
                      scope: str | None = None) -> None:
        if self._real is not None:
            self._real.state_changed(job, instance, state, scope=scope)
        proc = self._proc()
        if proc is not None and state == "waiting":
            from upstart.cgroups.manager import scoped
            proc.ended((scoped(job, scope), instance))

    def cleanup(self, job: str, instance: str, *args) -> bool:
        return self._real.cleanup(job, instance, *args) if self._real is not None else True

    def close(self) -> None:
        if self._real is not None:
            self._real.close()
        proc = self._proc()
        if proc is not None:
            proc.close()
            self.proc = None

    def export_state(self) -> dict:
        out = {"version": 1, "instances": []} if self._real is None else \
            self._real.export_state()
        proc = self._proc()
        if proc is not None and (proc.pids or proc.runs):
            out["proc"] = proc.export()     # issue #26: processes followed by the connector
        return out

    def adopt_state(self, state: dict) -> None:
        if isinstance(state, dict) and state.get("instances"):
            self._manager().adopt_state(state)
        if isinstance(state, dict) and isinstance(state.get("proc"), dict):
            if self.connector() is None:    # listening again: forks in the gap are lost
                self.proc.adopt(state["proc"])

    def status(self, job: str) -> list[dict]:
        return self._real.status(job) if self._real is not None else []


# ------------------------------------------------------------------ policy

def wants_cgroup(job_class, *, enabled: bool, track_all: bool) -> bool:
    """Does a spawn of this job get cgroups: those of its `cgroup` stanza, or
    (`track_all`, tracking.md) its automatic tracking cgroup unless it says
    `kill mode group`? The one rule of `LazyCGroups` and `CGroupManager`."""
    return enabled and (bool(job_class.cgroups) or (
        track_all and job_class.kill_mode != "group"))


_INIT_PID_NS = 0xEFFFFFFC       # the kernel's fixed inode of the initial pid namespace


def tracking_default(*, session_init: bool, pid: int, ns_inode) -> bool:
    """Whether every job is tracked when no option says (tracking.md): only for
    the machine's own init, PID 1 of the initial pid namespace, which owns the
    cgroup tree it sees. A Session Init, or PID 1 of a pid namespace (a
    container, `unshare --pid`, the tests), may share its cgroups with other
    inits whose `upstart/<job>` cgroups would collide with its own: off unless
    `--job-tracking` is given. `ns_inode(kind)`: the inode of
    /proc/self/ns/<kind> (None: unknown)."""
    if session_init or pid != 1:
        return False
    return ns_inode("pid") == _INIT_PID_NS

def ns_inode(kind: str) -> int | None:
    try:
        return os.stat(f"/proc/self/ns/{kind}").st_ino
    except OSError:
        return None
