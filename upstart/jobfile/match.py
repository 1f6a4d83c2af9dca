"""Matching a condition leaf `NAME ARGS...` against an event or a state (02 §3).

The one rule shared by `start on`/`stop on` (core/operator.py), `while`
leaves (upstart/states/) and the time bridge's cross-firing analysis:
exact name; positional args by cursor; `KEY=VALUE` and `KEY!=VALUE` by first
occurrence (a missing key never matches, even for `!=`); values are
`$`-expanded against the given environment (an expansion error means no
match) and compared as whole-value shell globs (fnmatch(3) with flags 0:
`*` matches `/` and leading dots).

Pure string functions: no I/O, no runtime objects.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from upstart.jobfile.environ import ExpandError, expand


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """fnmatch(3) with flags 0, as one anchored regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape("\\"))
        elif c == "[":
            j = i
            negate = False
            if j < n and pattern[j] in "!^":
                negate = True
                j += 1
            body: list[str] = []
            first = True
            closed = False
            while j < n:
                ch = pattern[j]
                if ch == "]" and not first:
                    closed = True
                    j += 1
                    break
                first = False
                if ch == "\\" and j + 1 < n:
                    body.append(re.escape(pattern[j + 1]))
                    j += 2
                    continue
                if j + 2 < n and pattern[j + 1] == "-" and pattern[j + 2] != "]":
                    lo, hi = ch, pattern[j + 2]
                    if lo <= hi:
                        body.append(f"{re.escape(lo)}-{re.escape(hi)}")
                    j += 3
                    continue
                body.append(re.escape(ch))
                j += 1
            if not closed:
                out.append(re.escape("["))
            else:
                inner = "".join(body)
                out.append(f"[{'^' if negate else ''}{inner}]" if inner else ("[^\\s\\S]" if not negate else "[\\s\\S]"))
                i = j
        else:
            out.append(re.escape(c))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def glob_match(pattern: str, value: str) -> bool:
    return _glob_regex(pattern).match(value) is not None


def match_args(name: str, args: tuple[str, ...], event_name: str, event_env: list[str] | tuple[str, ...],
               env: Any = None) -> bool:
    """Does the event match a leaf `name args...`? (event_operator_match)."""
    if name != event_name:
        return False
    cursor = 0
    nenv = len(event_env)
    for arg in args:
        neg_at = arg.find("!=")
        if neg_at >= 0:
            key, pattern, negate = arg[:neg_at], arg[neg_at + 2:], True
        else:
            eq = arg.find("=")
            key, pattern, negate = (arg[:eq], arg[eq + 1:], False) if eq >= 0 else (None, arg, False)
        if key is not None:
            prefix = key + "="
            for idx in range(nenv):
                if event_env[idx].startswith(prefix):
                    cursor = idx
                    break
            else:
                return False
        elif cursor >= nenv:
            return False
        entry = event_env[cursor]
        eq = entry.find("=")
        value = entry[eq + 1:] if eq >= 0 else ""
        if "$" in pattern:
            try:
                pattern = expand(pattern, env)
            except ExpandError:
                return False
        if glob_match(pattern, value) == negate:
            return False
        cursor += 1
    return True


__all__ = ["glob_match", "match_args"]
