"""A process's line in `/proc/PID/stat`, read one way for every user.

`fields(pid)` is the list after the command name (which may itself hold
spaces and parentheses, so the line is cut at its last `)`): index 0 is the
state letter, 1 the parent, 3 the session, 19 the start time (stat fields
3, 4, 6 and 22 of proc(5)). None when the process is gone.
"""

from __future__ import annotations


def fields(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    cut = data.rfind(b")")
    return data[cut + 1:].split() if cut >= 0 else None


def state(pid: int) -> bytes | None:
    """The state letter (`R`, `S`, `D`, `T`, `t`, `Z`...), None when gone."""
    f = fields(pid)
    return f[0] if f else None


def stopped(pid: int) -> bool:
    """Is `pid` stopped (`T`, or `t` while a debugger holds it)?"""
    return state(pid) in (b"T", b"t")
