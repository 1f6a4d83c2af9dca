"""Environment lists and `$VAR` expansion, as upstream's `environ.c` does them.

An environment here is an ordered list of `KEY=VALUE` strings (order matters:
events match positionally, and processes see variables in this order).
`env_set` replaces an existing key *in place* (keeping its position) or
appends; `env_lookup` finds the first entry for a key.

`expand(text, env)` implements the expansion grammar of instance names and
event-match values: `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`,
`${NAME:+word}`, `${NAME+word}`, nesting (`${$X}`), `${}` for a literal `$`.
Errors raise `ExpandError` with upstream's texts (`Unknown parameter: X`,
`Expected operator`, `Mismatched braces`).

Pure functions only: never reads the process environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class ExpandError(Exception):
    """An expansion failed; `str(err)` is upstream's message."""


Env = list[str]


def env_key(entry: str) -> str:
    return entry.split("=", 1)[0]


def env_value(entry: str) -> str:
    return entry.split("=", 1)[1] if "=" in entry else ""


def env_lookup(env: Iterable[str], key: str) -> str | None:
    """The value of the first `key=` entry, or None."""
    prefix = key + "="
    for entry in env:
        if entry.startswith(prefix):
            return entry[len(prefix):]
    return None


def env_index(env: list[str], key: str) -> int:
    prefix = key + "="
    for i, entry in enumerate(env):
        if entry.startswith(prefix) or entry == key:
            return i
    return -1


def env_set(env: list[str], entry: str, replace: bool = True) -> None:
    """Add `KEY=VALUE` to env: replace in place (if `replace`) or append."""
    i = env_index(env, env_key(entry))
    if i < 0:
        env.append(entry)
    elif replace:
        env[i] = entry


def env_unset(env: list[str], key: str) -> None:
    i = env_index(env, key)
    if i >= 0:
        del env[i]


_INDEX_FROM = 16       # perf: from this length on, `env_merge` indexes env's keys


def env_merge(env: list[str], entries: Iterable[str], replace: bool = True) -> list[str]:
    """env with every entry set in turn (as `env_set` would); returns env for
    chaining. perf: a long env (a session init inherits the user's whole
    environment) gets a key -> first position index, so merging m entries
    costs n + m steps, not n * m prefix tests."""
    if len(env) < _INDEX_FROM:
        for entry in entries:
            env_set(env, entry, replace)
        return env
    index: dict[str, int] = {}
    for i, item in enumerate(env):
        index.setdefault(env_key(item), i)
    for entry in entries:
        key = env_key(entry)
        i = index.get(key)
        if i is None:
            index[key] = len(env)
            env.append(entry)
        elif replace:
            env[i] = entry             # the same key: the index stays right
    return env


def env_to_dict(env: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in env:
        key = env_key(entry)
        if key not in out:
            out[key] = env_value(entry)
    return out


# ------------------------------------------------------------- expansion

def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def expand(text: str, env: Mapping[str, str] | Iterable[str] | None) -> str:
    """Expand `$` references in text against env (a mapping or KEY=VALUE list)."""
    if env is None:
        table: Mapping[str, str] = {}
    elif isinstance(env, Mapping):
        table = env
    else:
        table = env_to_dict(env)
    out, pos = _expand_until(text, 0, table, stop="")
    return out


def _expand_until(text: str, pos: int, env: Mapping[str, str], stop: str) -> tuple[str, int]:
    """Expand from pos until an unnested character in `stop` (or the end).

    Returns (expanded text, position of the stop character or len(text)).
    """
    out: list[str] = []
    n = len(text)
    while pos < n:
        c = text[pos]
        if c in stop:
            return "".join(out), pos
        if c != "$" or pos + 1 >= n:
            out.append(c)
            pos += 1
            continue
        nxt = text[pos + 1]
        if nxt == "{":
            value, pos = _expand_braces(text, pos + 2, env)
            out.append(value)
        elif _is_name_start(nxt):
            end = pos + 1
            while end < n and _is_name_char(text[end]):
                end += 1
            name = text[pos + 1:end]
            if name not in env:
                raise ExpandError(f"Unknown parameter: {name}")
            out.append(env[name])
            pos = end
        else:
            out.append(c)
            pos += 1
    return "".join(out), pos


def _expand_braces(text: str, pos: int, env: Mapping[str, str]) -> tuple[str, int]:
    """Expand `${...}` whose body starts at pos; return (value, position after `}`)."""
    n = len(text)
    name_parts: list[str] = []
    while pos < n:
        c = text[pos]
        if c == "$":
            part, pos = _expand_until_one_ref(text, pos, env)
            name_parts.append(part)
        elif _is_name_char(c):
            name_parts.append(c)
            pos += 1
        else:
            break
    if pos >= n:
        raise ExpandError("Mismatched braces")
    name = "".join(name_parts)
    c = text[pos]
    if c == "}":
        if not name:
            return "$", pos + 1
        if name not in env:
            raise ExpandError(f"Unknown parameter: {name}")
        return env[name], pos + 1
    if c == ":" and pos + 1 < n and text[pos + 1] in "-+":
        op, pos = ":" + text[pos + 1], pos + 2
    elif c in "-+":
        op, pos = c, pos + 1
    elif c == ":" and pos + 1 >= n:
        raise ExpandError("Mismatched braces")
    else:
        raise ExpandError("Expected operator")
    word, pos = _expand_until(text, pos, env, stop="}")
    if pos >= n:
        raise ExpandError("Mismatched braces")
    pos += 1
    value = env.get(name)
    if op == ":-":
        return (value if value else word), pos
    if op == "-":
        return (value if value is not None else word), pos
    if op == ":+":
        return (word if value else ""), pos
    return (word if value is not None else ""), pos   # "+"


def _expand_until_one_ref(text: str, pos: int, env: Mapping[str, str]) -> tuple[str, int]:
    """Expand the single `$...` reference at pos (used for nested names)."""
    n = len(text)
    if pos + 1 < n and text[pos + 1] == "{":
        return _expand_braces(text, pos + 2, env)
    if pos + 1 < n and _is_name_start(text[pos + 1]):
        end = pos + 1
        while end < n and _is_name_char(text[end]):
            end += 1
        name = text[pos + 1:end]
        if name not in env:
            raise ExpandError(f"Unknown parameter: {name}")
        return env[name], end
    return "$", pos + 1
