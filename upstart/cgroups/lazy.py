"""The cgroup manager as init holds it: built at its first real use.

Footprint (issue #23): most systems run no job with a `cgroup` stanza, and the
manager costs imports (its file-system layer and model) and I/O (finding the
hierarchies and init's own cgroups) on the start path. `LazyCGroups` answers
what it can without the manager (nothing to kill, clean up or report while
no job has been given a cgroup) and builds it when a spawn wants one or a
re-exec hands over cgroups. The interface is `CGroupManager`'s.

Owns: the moment the manager is made. Never: imports the manager before then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LazyCGroups:
    __slots__ = ("_make", "enabled", "_real")

    def __init__(self, make: Callable[[], Any], *, enabled: bool = True):
        self._make = make
        self.enabled = enabled
        self._real: Any = None

    def _manager(self):
        if self._real is None:
            self._real = self._make()
        return self._real

    def wants(self, request) -> bool:
        return self.enabled and bool(request.job_class.cgroups)

    def prepare(self, request, scope: str | None = None) -> tuple[str, ...]:
        if not self.wants(request):
            return ()
        return self._manager().prepare(request, scope)

    def owner(self, pid: int):
        return self._real.owner(pid) if self._real is not None else None

    def kill(self, pid: int, sig: int) -> bool:
        return self._real.kill(pid, sig) if self._real is not None else False

    def state_changed(self, job: str, instance: str, state: str,
                      scope: str | None = None) -> None:
        if self._real is not None:
            self._real.state_changed(job, instance, state, scope=scope)

    def cleanup(self, job: str, instance: str, *args) -> bool:
        return self._real.cleanup(job, instance, *args) if self._real is not None else True

    def close(self) -> None:
        if self._real is not None:
            self._real.close()

    def export_state(self) -> dict:
        if self._real is None:
            return {"version": 1, "instances": []}
        return self._real.export_state()

    def adopt_state(self, state: dict) -> None:
        if isinstance(state, dict) and state.get("instances"):
            self._manager().adopt_state(state)

    def status(self, job: str) -> list[dict]:
        return self._real.status(job) if self._real is not None else []
