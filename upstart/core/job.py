"""A job instance: the runtime object a class spawns per instance name.

An `Instance` owns its goal and state, its environments (`env` in use,
`start_env` pending for the next start, `stop_env` for pre-/post-stop), the
pid of each live process slot, the `blocker` (the `starting`/`stopping`
event it waits for), the `blocking` list (events it holds and control
requests waiting for it to rest), the failure record, the respawn window and
its fresh copy of the class's `stop on` operator tree, and its readiness
(whether it is ready, the `ready on` tree it waits on, what the main process
notified).

It is plain data plus tiny helpers; every transition is made by the engine.
It must never emit effects or spawn processes itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upstart.jobfile.model import PROCESS_SLOTS
from upstart.records import dataclass, field

if TYPE_CHECKING:
    from upstart.core.event import Event
    from upstart.core.operator import Operator
    from upstart.core.registry import ClassEntry


@dataclass(frozen=True)
class Waiter:
    """A control request waiting for the instance to rest.

    kind: `start`, `stop` or `restart` (selects the failure text);
    value: what a success reply carries (instance name for Job.Start/Restart).
    """

    kind: str
    token: Any
    value: Any = None


FAILURE_TEXT = {
    "start": "Job failed to start",
    "stop": "Job failed while stopping",
    "restart": "Job failed to restart",
}


@dataclass(eq=False, slots=True)   # footprint (issue #23): no per-object dict
class Instance:
    entry: ClassEntry
    name: str
    goal: str = "stop"
    state: str = "waiting"
    env: list[str] = field(default_factory=list)
    start_env: list[str] | None = None
    stop_env: list[str] | None = None
    stop_on: Operator | None = None
    pids: dict[str, int] = field(default_factory=dict)
    blocker: Event | None = None
    blocking: list[Any] = field(default_factory=list)   # Event or Waiter, in order
    failed: bool = False
    failed_process: str | None = None                    # None + failed: respawn
    exit_status: int = 0
    respawn_time: int | None = None
    respawn_count: int = 0
    kill_timer: bool = False
    expect_timer: bool = False       # `expect timeout` armed (issue #26)
    # respawn backoff (issue #14, backoff.py): consecutive respawns, the pause
    # chosen for the next one, whether it is still to come / timed now
    run_since: float | None = None
    backoff_count: int = 0
    backoff_delay: float = 0.0
    backoff_pending: bool = False
    backoff_timer: bool = False
    backoff_due: float | None = None
    # readiness (issue #8): `ready` from the ready event until stopping;
    # `ready_on` is this run's latching copy of the class's condition while
    # it waits; `notified` remembers a READY=1 that came before `running`
    ready: bool = False
    ready_on: Operator | None = None
    ready_watch: bool = False
    ready_timer: bool = False
    notified: bool = False
    notify_status: str | None = None
    notify_mainpid: int | None = None

    @property
    def job(self) -> str:
        return self.entry.name

    @property
    def display(self) -> str:
        """`name` or `name (instance)`, as upstream's job_name()."""
        return f"{self.entry.name} ({self.name})" if self.name else self.entry.name

    def pid(self, slot: str) -> int:
        return self.pids.get(slot, 0)

    def processes(self) -> list[tuple[str, int]]:
        return [(slot, self.pids[slot]) for slot in PROCESS_SLOTS if self.pids.get(slot, 0) > 0]

    def main_alive(self) -> bool:
        return "main" in self.entry.job_class.process and self.pid("main") > 0
