"""Signal numbers and the names upstream prints for them (without `SIG`).

Data only: libnih's `nih_signal_to_name` table for Linux, so log lines and
`EXIT_SIGNAL` read `TERM`, `KILL`, `SEGV`...; numbers without a name (real-time
signals) are shown as numbers by the callers. Never sends signals.
"""

from __future__ import annotations

import signal as _signal

SIGKILL = int(_signal.SIGKILL)
SIGTERM = int(_signal.SIGTERM)

_NAMES = (
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
    "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP",
    "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",
    "IO", "PWR", "SYS",
)
_BY_NUMBER: dict[int, str] = {}
for _name in _NAMES:
    _num = getattr(_signal, "SIG" + _name, None)
    if _num is not None:
        _BY_NUMBER.setdefault(int(_num), _name)


def signal_name(number: int) -> str | None:
    """`TERM` for 15; None when the number has no name."""
    return _BY_NUMBER.get(number)
