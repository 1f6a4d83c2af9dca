"""The state model: a `State`, the table of states set by name, reserved names.

A *state* is a name plus an ordered `KEY=VALUE` environment, like an event,
but it lasts: it is true from the moment its source opens it until the
source closes it.

* `State(name, env)`: one true state;
* `StateTable`: the states set and cleared by name from outside
  (`initctl set-state` / `clear-state`, bridges); job-derived states
  (`running`, `ready`) are not stored here, they are derived from the
  instances each time (`derive.py`), so they can never drift from the jobs.

Never performs I/O and never touches jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

# Job states an instance is in "running" for: from `started` until `stopping`.
RUNNING_STATES = frozenset({"running", "pre-stopping", "pre-stop"})
# Names reserved for job-derived states; `set-state` refuses them.
JOB_STATE_NAMES = ("running", "ready")


@dataclass(frozen=True)
class State:
    name: str
    env: tuple[str, ...] = ()

    def text(self) -> str:
        return " ".join((self.name,) + self.env)


class StateTable:
    """States set and cleared by name (one value per name; a set replaces)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[str, ...]] = {}

    def set(self, name: str, env: list[str] | tuple[str, ...]) -> bool:
        """Open (or replace) `name`; True if anything changed."""
        value = tuple(env)
        changed = self._states.get(name) != value
        self._states[name] = value
        return changed

    def clear(self, name: str) -> bool:
        """Close `name`; False if it was not set."""
        return self._states.pop(name, None) is not None

    def __contains__(self, name: object) -> bool:
        return name in self._states

    def __len__(self) -> int:
        return len(self._states)

    def states(self) -> list[State]:
        return [State(n, self._states[n]) for n in sorted(self._states)]

    def to_json(self) -> dict[str, list[str]]:
        return {n: list(e) for n, e in sorted(self._states.items())}

    @classmethod
    def from_json(cls, data: dict[str, list[str]] | None) -> StateTable:
        table = cls()
        for name, env in (data or {}).items():
            table.set(name, env)
        return table


__all__ = ["RUNNING_STATES", "JOB_STATE_NAMES", "State", "StateTable"]
