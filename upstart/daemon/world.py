"""One world: an engine and everything that serves it.

init runs one engine for its own jobs (the global world, `root` None) and,
with `--chroot-sessions`, one more per chroot that talked to it (a session,
`root` its directory; docs/design/sessions.md). Each world has the same
parts: its engine, the control backend that answers for it, its timers, its
readiness adapter (made at the first `ready on` watch), its configuration
watcher and the parse errors already logged. The daemon carries out every
world's effects with the same code (`upstart/daemon/effects.py`) and feeds
every world's engine the same inputs; only where they come from differs.
"""

from __future__ import annotations

from typing import Any

from upstart.daemon.timers import Timers


class World:
    __slots__ = ("root", "engine", "backend", "timers", "readiness", "watcher",
                 "logged_errors")

    def __init__(self, root: str | None, timers: Timers):
        self.root = root                 # None: init's own jobs; else a chroot session's
        self.engine: Any = None          # upstart.core.engine.Engine (replaced by a re-exec)
        self.backend: Any = None         # upstart.daemon.backend.EngineBackend
        self.timers = timers
        self.readiness: Any = None       # upstart.readiness.adapter.Readiness, when first used
        self.watcher: Any = None         # upstart.daemon.watch.ConfWatcher
        self.logged_errors: set[str] = set()

    def note_input(self, note) -> list | None:
        """The engine's answer to a note from `Supervisor.reap()` about one of
        its processes, or None for a note that is no engine input."""
        name = type(note).__name__
        if name == "Exited":
            return self.engine.process_exited(note.pid, note.code, note.signal)
        if name == "Ready":
            return self.engine.process_ready(note.pid, note.main_pid)
        if name == "Notified":                       # readiness (issue #8)
            return self.engine.process_notify(note.pid, list(note.fields))
        return None

    def live_instances(self) -> list[tuple[str, str]]:
        engine = self.engine
        return [(j, i) for j in engine.job_names() for i in engine.instances(j)]

    def busy(self) -> bool:
        """Has any instance a process? (Abstract jobs hold nothing up.)"""
        engine = self.engine
        return any(engine.instance_info(j, i)[2] for j in engine.job_names()
                   for i in engine.instances(j))

    def stop_all(self) -> list:
        """No more respawns, and a stop for every instance not already stopping:
        the effects, for the caller to carry out."""
        engine = self.engine
        engine.disable_respawn()
        effects: list = []
        for job in list(engine.job_names()):
            for inst in list(engine.instances(job)):
                goal, _state, _procs = engine.instance_info(job, inst)
                if goal != "stop":
                    effects += engine.instance_stop(job, inst, wait=False, token=None)
        return effects

    def kill_timeouts(self) -> list[int]:
        engine = self.engine
        return [engine.get_class(j).kill_timeout for j in engine.job_names()]

    def close(self) -> None:
        """Its watcher, timers and readiness sources (the engine stays)."""
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None
        self.timers.close()
        if self.readiness is not None:
            self.readiness.close()
            self.readiness = None
