"""States: named conditions that are true or false over time (issue #7).

A *state* is a name plus an ordered `KEY=VALUE` environment, like an event,
but it lasts: it is true from the moment its source opens it until the
source closes it. This module owns the vocabulary and the pure evaluation of
a `while` condition over a set of states:

* `State(name, env)`: one true state;
* `StateTable`: the states set and cleared by name from outside
  (`initctl set-state` / `clear-state`, bridges later); job-derived states
  (`running`, `ready`) are not stored here, the engine derives them from its
  instances each time (so they can never drift from the jobs);
* `leaf_matches` / `witnesses`: which combinations of true states satisfy a
  condition tree (the parser's `Match`/`Op` tree, the same as `start on`).

Matching a leaf `NAME ARGS...` against a state uses the event rules
(`operator.match_args`: positional and `KEY=VALUE` / `KEY!=VALUE` globs).
A leaf whose name is not a job-state name (`running`, `ready`) also matches
the `running` state of the job it names: `while bar` is `while running bar`.
See docs/design/states.md.

It never performs I/O, never reads a clock and never touches jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from upstart.core.operator import match_args
from upstart.jobfile.model import Expr, Match, Op

# Job states an instance is in "running" for: from `started` until `stopping`.
RUNNING_STATES = frozenset({"running", "pre-stopping", "pre-stop"})
# Names reserved for job-derived states; `set-state` refuses them.
JOB_STATE_NAMES = ("running", "ready")
# At most this many witnesses per node (guards `and` products on large sets).
WITNESS_LIMIT = 1024


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


def leaf_matches(leaf: Match, state: State) -> bool:
    """Does the state make the leaf true? (`$VAR` in a leaf never matches,
    `${VAR-default}` does, as for `start on`)."""
    if match_args(leaf.name, tuple(leaf.args), state.name, state.env, None):
        return True
    if leaf.name not in JOB_STATE_NAMES and state.name == "running":
        return match_args("running", (leaf.name,) + tuple(leaf.args), "running", state.env, None)
    return False


def witnesses(expr: Expr, states: list[State]) -> list[list[State]]:
    """Every combination of states that makes `expr` true, in tree order.

    `and`: each left witness followed by each right witness; `or`: the left
    witnesses then the right ones. Empty list: the condition is false."""
    if isinstance(expr, Match):
        return [[s] for s in states if leaf_matches(expr, s)][:WITNESS_LIMIT]
    assert isinstance(expr, Op)
    left = witnesses(expr.left, states)
    if expr.kind == "and":
        if not left:
            return []
        right = witnesses(expr.right, states)
        return [lw + rw for lw in left for rw in right][:WITNESS_LIMIT]
    return (left + witnesses(expr.right, states))[:WITNESS_LIMIT]


def holds(expr: Expr, states: list[State]) -> bool:
    return bool(witnesses(expr, states))


__all__ = ["RUNNING_STATES", "JOB_STATE_NAMES", "State", "StateTable", "leaf_matches",
           "witnesses", "holds"]
