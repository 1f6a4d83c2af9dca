"""Durations as written in `time` conditions: `30s`, `15m`, `1h30m`, `2d`, `90`.

Owns the parsing and the canonical printing of a span of seconds. Units:
`ms`, `s`, `m`, `h`, `d`, `w`; several parts add up (`1h30m`); a bare number
means seconds; fractions are allowed (`1.5s`). Pure; never reads a clock.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_BARE = re.compile(r"\d+(?:\.\d+)?")


class DurationError(ValueError):
    """The text is not a duration; the message says why."""


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises DurationError."""
    if _BARE.fullmatch(text):
        return float(text)
    pos, total = 0, 0.0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            raise DurationError("invalid duration: %s" % text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise DurationError("empty duration")
    return total


def format_duration(seconds: float) -> str:
    """The shortest canonical text: 90 -> `1m30s`, 0.25 -> `250ms`."""
    if seconds <= 0:
        return "0s"
    ms = round(seconds * 1000)
    out = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000),
                       ("ms", 1)):
        if ms >= size:
            out.append("%d%s" % (ms // size, unit))
            ms %= size
    return "".join(out)
