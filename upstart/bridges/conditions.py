"""Reading what jobs wait for: the `start_on`/`stop_on` RPN properties.

A job's condition arrives as `aas` in reverse Polish order (spec 07 §11):
every element is `[event, arg...]` or an operator `["/AND"]`/`["/OR"]`.
Bridges only need the leaves naming their event (`file`, `socket`, `dbus`,
...) and each argument split into `KEY`, operator and value. Pure; never
evaluates a condition (init does that) and never does I/O.
"""

from __future__ import annotations

from typing import NamedTuple

OPERATORS = ("/AND", "/OR")


class Arg(NamedTuple):
    """One match argument: `KEY=VALUE`, `KEY!=VALUE` or positional `VALUE`."""
    key: str | None
    negated: bool
    value: str


def leaves(rpn, event: str) -> list[tuple[str, ...]]:
    """The argument lists of every leaf matching `event`, in RPN order."""
    out = []
    for element in rpn or ():
        if element and element[0] == event and element[0] not in OPERATORS:
            out.append(tuple(element[1:]))
    return out


def job_leaves(start_on, stop_on, event: str) -> list[tuple[str, ...]]:
    """Leaves for `event` from both of a job's conditions (start first)."""
    return leaves(start_on, event) + leaves(stop_on, event)


def split_arg(text: str) -> Arg:
    """Split a condition argument the way init matches it (02 §3)."""
    eq = text.find("=")
    if eq <= 0:
        return Arg(None, False, text)
    if text[eq - 1] == "!":
        return Arg(text[:eq - 1], True, text[eq + 1:])
    return Arg(text[:eq], False, text[eq + 1:])


def named(args, key: str) -> str | None:
    """The value of the first positive `KEY=` argument, or None."""
    for text in args:
        arg = split_arg(text)
        if arg.key == key and not arg.negated:
            return arg.value
    return None
