"""C number and signal-name conversions as the job-file stanzas use them.

Upstream validates stanza values with `strtol`/`strtoul` and libnih's
`nih_signal_from_name`; which strings pass is observable (a file loads or not),
so this module reproduces those functions: optional leading C whitespace and
sign, at least one digit unless the string is empty (then 0), no trailing
garbage, overflow rejected, `strtoul` wrapping a negative value modulo 2^64.

It owns nothing but these pure conversions and must never raise anything but
`ValueError`.
"""

from __future__ import annotations

import re

LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1
ULONG_MAX = (1 << 64) - 1
INT_MAX = (1 << 31) - 1

_C_SPACE = " \t\n\v\f\r"
_DEC = re.compile(r"([+-]?)([0-9]+)\Z")
_OCT = re.compile(r"([+-]?)([0-7]+)\Z")

# nih/signal.c's table (Linux numbering).
SIGNALS: dict[str, int] = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6,
    "BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12,
    "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CLD": 17,
    "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
    "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "POLL": 29, "PWR": 30, "SYS": 31, "UNUSED": 31,
}


def _split(s: str, base: int) -> tuple[int, int]:
    """(sign, magnitude) of a complete C number, else ValueError."""
    if s == "":
        return 1, 0
    body = s.lstrip(_C_SPACE)
    m = (_DEC if base == 10 else _OCT).match(body)
    if m is None:
        raise ValueError(s)
    return (-1 if m.group(1) == "-" else 1), int(m.group(2), base)


def strtol(s: str, base: int = 10) -> int:
    sign, mag = _split(s, base)
    value = sign * mag
    if value < LONG_MIN or value > LONG_MAX:
        raise ValueError(s)
    return value


def strtoul(s: str, base: int = 10) -> int:
    sign, mag = _split(s, base)
    if mag > ULONG_MAX:
        raise ValueError(s)
    return mag if sign > 0 else (-mag) % (1 << 64)


def to_c_int(value: int) -> int:
    """The `(int)` cast of a long: keep the low 32 bits, signed."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def c_div(a: int, b: int) -> int:
    """C integer division (truncates towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def signal_from_name(s: str) -> int | None:
    """`nih_signal_from_name`: `TERM` or `SIGTERM`, case-sensitive."""
    if s.startswith("SIG"):
        s = s[3:]
    return SIGNALS.get(s)


def signal_name(num: int) -> str | None:
    """The canonical name for a signal number (first entry of the table)."""
    for name, n in SIGNALS.items():
        if n == num:
            return name
    return None
