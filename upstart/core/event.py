"""Events: the unit of the event queue.

An `Event` is a name, an ordered `KEY=VALUE` env, an optional fd, and its
progress through `pending` -> `handling` -> `finished`. While `blockers > 0`
it cannot finish (each job it started or stopped holds one blocker until it
reaches its rest state). `blocking` lists what the event releases when it
finishes: a job held in `starting`/`stopping` (`("job", instance)`), or a
waiting `EmitEvent` caller (`("emit", token)`). `failed` is set when a job it
started/stopped failed; finishing a failed event queues `<name>/failed`.

The `EventQueue` only keeps events in order; the engine drives them. This
module never touches jobs.
"""

from __future__ import annotations

from typing import Any

from upstart.records import dataclass, field


@dataclass(eq=False, slots=True)   # footprint (issue #23): no per-object dict
class Event:
    name: str
    env: list[str]
    fd: int | None = None
    id: int = 0
    progress: str = "pending"
    blockers: int = 0
    failed: bool = False
    blocking: list[tuple[str, Any]] = field(default_factory=list)

    def block(self) -> None:
        self.blockers += 1

    def unblock(self) -> None:
        assert self.blockers > 0, f"unblock of unblocked event {self.name}"
        self.blockers -= 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "env": list(self.env), "fd": self.fd,
            "progress": self.progress, "blockers": self.blockers, "failed": self.failed,
        }


class EventQueue:
    """Events not yet finished, in the order they were queued."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._next_id = 1

    def new(self, name: str, env: list[str], fd: int | None = None) -> Event:
        event = Event(name, list(env), fd, id=self._next_id)
        self._next_id += 1
        self.events.append(event)
        return event

    def remove(self, event: Event) -> None:
        self.events.remove(event)

    def __len__(self) -> int:
        return len(self.events)

    def pending(self) -> int:
        return sum(1 for e in self.events if e.progress == "pending")
