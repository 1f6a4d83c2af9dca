"""The state model: a `State`, the table of states set by name, reserved names.

A *state* is a name plus an ordered `KEY=VALUE` environment, like an event,
but it lasts: it is true from the moment its source opens it until the
source closes it.

* `State(name, env)`: one true state;
* `StateTable`: the states set and cleared by name from outside
  (`initctl set-state` / `clear-state`, bridges) and the states opened and
  closed by events (`state` declarations of job files); job-derived states
  (`running`, `ready`) are not stored here, they are derived from the
  instances each time (`derive.py`), so they can never drift from the jobs.

Never performs I/O and never touches jobs.
"""

from __future__ import annotations

from upstart.records import dataclass

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
    """The states that are not kept by jobs.

    Set by name (`set-state`, one value per name, a set replaces; owner "")
    or opened by events (a `state` declaration of job file OWNER: one state
    per NAME and identity, the values of the declaration's keys)."""

    def __init__(self) -> None:
        # (name, identity) -> (env, owner)
        self._states: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], str]] = {}

    def set(self, name: str, env: list[str] | tuple[str, ...]) -> bool:
        """Open (or replace) the set state `name`; True if anything changed."""
        return self.open(name, (), env, "")

    def clear(self, name: str) -> bool:
        """Close the set state `name`; False if it was not set."""
        return self.close(name, ())

    def open(self, name: str, ident: tuple[str, ...], env: list[str] | tuple[str, ...],
             owner: str) -> bool:
        value = (tuple(env), owner)
        key = (name, tuple(ident))
        changed = self._states.get(key) != value
        self._states[key] = value
        return changed

    def close(self, name: str, ident: tuple[str, ...]) -> bool:
        return self._states.pop((name, tuple(ident)), None) is not None

    def env(self, name: str, ident: tuple[str, ...]) -> tuple[str, ...] | None:
        found = self._states.get((name, tuple(ident)))
        return found[0] if found else None

    def owned(self, owner: str) -> list[tuple[str, tuple[str, ...]]]:
        """The (name, identity) of every state opened for `owner`."""
        return sorted(k for k, (_env, who) in self._states.items() if who == owner)

    def __contains__(self, name: object) -> bool:
        """Is `name` set by name (`set-state`)?"""
        found = self._states.get((name, ())) if isinstance(name, str) else None
        return found is not None and found[1] == ""

    def __len__(self) -> int:
        return len(self._states)

    def states(self) -> list[State]:
        return [State(name, self._states[(name, ident)][0])
                for name, ident in sorted(self._states)]

    def to_json(self) -> dict[str, list[str]]:
        """The states set by name."""
        return {n: list(env) for (n, i), (env, who) in sorted(self._states.items())
                if not who and not i}

    def opened_json(self) -> list[list]:
        """The states opened by events: [name, identity, env, owner] each."""
        return [[n, list(i), list(env), who]
                for (n, i), (env, who) in sorted(self._states.items()) if who]

    @classmethod
    def from_json(cls, data: dict[str, list[str]] | None,
                  opened: list[list] | None = None) -> StateTable:
        table = cls()
        for name, env in (data or {}).items():
            table.set(name, env)
        for name, ident, env, owner in opened or ():
            table.open(name, tuple(ident), env, owner)
        return table


__all__ = ["RUNNING_STATES", "JOB_STATE_NAMES", "State", "StateTable"]
