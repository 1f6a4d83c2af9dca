"""A `while` condition over a set of states: leaf matching and witnesses.

Matching a leaf `NAME ARGS...` against a state uses the event rules
(`upstart.jobfile.match.match_args`: positional and `KEY=VALUE` /
`KEY!=VALUE` globs). A leaf whose name is not a job-state name (`running`,
`ready`) also matches the `running` state of the job it names: `while bar`
is `while running bar`. The condition tree is the parser's `Match`/`Op`
tree, the same as `start on`.

Pure: never performs I/O and never touches jobs.
"""

from __future__ import annotations

from upstart.jobfile.match import match_args
from upstart.jobfile.model import Expr, Match, Op
from upstart.states.model import JOB_STATE_NAMES, State

# At most this many witnesses per node (guards `and` products on large sets).
WITNESS_LIMIT = 1024


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


def leaves(expr: Expr) -> list[Match]:
    """The leaves of a condition tree, in tree order."""
    if isinstance(expr, Match):
        return [expr]
    assert isinstance(expr, Op)
    return leaves(expr.left) + leaves(expr.right)


__all__ = ["WITNESS_LIMIT", "leaf_matches", "witnesses", "holds", "leaves"]
