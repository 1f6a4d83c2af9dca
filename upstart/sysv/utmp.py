"""utmp and wtmp runlevel records, through glibc's own utmpx functions.

SysV tools keep the current runlevel in utmp as a RUN_LVL record whose
`ut_pid` is `runlevel + 256 * prevlevel`; `last` reads the same records from
wtmp. We call glibc (`utmpxname`, `getutxid`, `pututxline`, `updwtmpx`)
through ctypes rather than writing the binary format ourselves, so locking
and record matching are exactly the system's. Written here: runlevel, boot
and shutdown records, and (`mark_dead`, called by init when one of its
children exits) the DEAD_PROCESS record that ends a getty's or login's
entry, as Upstart 1.13 and sysvinit do: `login` leaves its USER_PROCESS
entry for init to close. `user_terminals` reads the logged-in users'
terminals for shutdown's warnings.
"""

from __future__ import annotations

import ctypes
import os
import time

UTMP_FILE = "/var/run/utmp"
WTMP_FILE = "/var/log/wtmp"

RUN_LVL = 1
BOOT_TIME = 2
INIT_PROCESS = 5
LOGIN_PROCESS = 6
USER_PROCESS = 7
DEAD_PROCESS = 8
SHUTDOWN_TIME = 254   # sysvinit's marker for `last`; written as RUN_LVL


class _ExitStatus(ctypes.Structure):
    _fields_ = [("e_termination", ctypes.c_short), ("e_exit", ctypes.c_short)]


class _TimeVal(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32)]


class Utmpx(ctypes.Structure):
    _fields_ = [
        ("ut_type", ctypes.c_short),
        ("ut_pid", ctypes.c_int),
        ("ut_line", ctypes.c_char * 32),
        ("ut_id", ctypes.c_char * 4),
        ("ut_user", ctypes.c_char * 32),
        ("ut_host", ctypes.c_char * 256),
        ("ut_exit", _ExitStatus),
        ("ut_session", ctypes.c_int32),
        ("ut_tv", _TimeVal),
        ("ut_addr_v6", ctypes.c_int32 * 4),
        ("reserved", ctypes.c_char * 20),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.getutxent.restype = ctypes.POINTER(Utmpx)
_libc.getutxid.restype = ctypes.POINTER(Utmpx)
_libc.getutxid.argtypes = [ctypes.POINTER(Utmpx)]
_libc.pututxline.restype = ctypes.POINTER(Utmpx)
_libc.pututxline.argtypes = [ctypes.POINTER(Utmpx)]
_libc.utmpxname.argtypes = [ctypes.c_char_p]
_libc.updwtmpx.argtypes = [ctypes.c_char_p, ctypes.POINTER(Utmpx)]


def _entry(kind: int, pid: int = 0) -> Utmpx:
    u = Utmpx()
    if kind == BOOT_TIME:
        u.ut_type, user = BOOT_TIME, b"reboot"
    elif kind == SHUTDOWN_TIME:
        u.ut_type, user = RUN_LVL, b"shutdown"
    else:
        u.ut_type, user = RUN_LVL, b"runlevel"
    u.ut_pid = pid
    u.ut_line = b"~"
    u.ut_id = b"~~"
    u.ut_user = user
    u.ut_host = os.uname().release.encode()[:255]
    now = time.time()
    u.ut_tv.tv_sec = int(now)
    u.ut_tv.tv_usec = int((now % 1) * 1e6)
    return u


def read_runlevel(path: str | None = None) -> tuple[str, str] | None:
    """(prevlevel, runlevel) from the newest RUN_LVL record, or None."""
    _libc.utmpxname((path or UTMP_FILE).encode())
    _libc.setutxent()
    try:
        key = Utmpx()
        key.ut_type = RUN_LVL
        found = _libc.getutxid(ctypes.byref(key))
        if not found:
            return None
        pid = found.contents.ut_pid
    finally:
        _libc.endutxent()
        _libc.utmpxname(UTMP_FILE.encode())
    runlevel = pid % 256
    prev = pid // 256
    if runlevel == 0:
        return None
    return (chr(prev) if prev else "N", chr(runlevel))


def _utmp_write(path: str, entry: Utmpx) -> bool:
    # glibc does not create utmp; a fresh /run has none until someone does
    if not os.path.exists(path):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o664)
            os.close(fd)
        except OSError:
            pass
    _libc.utmpxname(path.encode())
    _libc.setutxent()
    try:
        return bool(_libc.pututxline(ctypes.byref(entry)))
    finally:
        _libc.endutxent()
        _libc.utmpxname(UTMP_FILE.encode())


def _wtmp_write(path: str, entry: Utmpx) -> None:
    _libc.updwtmpx(path.encode(), ctypes.byref(entry))


def write_runlevel(runlevel: str, prevlevel: str, utmp: str | None = None,
                   wtmp: str | None = None) -> bool:
    """Record a change from `prevlevel` ('N' for none) to `runlevel`."""
    utmp = utmp or UTMP_FILE
    wtmp = wtmp or WTMP_FILE
    prev_code = 0 if prevlevel == "N" else ord(prevlevel)
    boot = _entry(BOOT_TIME)
    saved = read_runlevel(utmp)
    if saved is None or ord(saved[1]) != prev_code:
        _utmp_write(utmp, boot)
    saved_w = read_runlevel(wtmp)
    if saved_w is None or ord(saved_w[1]) != prev_code:
        _wtmp_write(wtmp, boot)
    rec = _entry(RUN_LVL, ord(runlevel) + prev_code * 256)
    ok = _utmp_write(utmp, rec)
    _wtmp_write(wtmp, rec)
    return ok


def write_shutdown(utmp: str | None = None, wtmp: str | None = None) -> bool:
    rec = _entry(SHUTDOWN_TIME)
    ok = _utmp_write(utmp or UTMP_FILE, rec)
    _wtmp_write(wtmp or WTMP_FILE, rec)
    return ok


def mark_dead(pid: int, code: int | None = None, signal: int | None = None,
              utmp: str | None = None, wtmp: str | None = None) -> bool:
    """If utmp holds a live entry (INIT, LOGIN or USER_PROCESS) of `pid`,
    turn it into DEAD_PROCESS (user and host cleared, the exit status kept)
    and append that record to wtmp, so `who` drops the line and `last`
    shows the log-out. False when there was no such entry (or no utmp)."""
    path = utmp or UTMP_FILE
    if not os.path.exists(path):
        return False
    _libc.utmpxname(path.encode())
    _libc.setutxent()
    try:
        while True:
            found = _libc.getutxent()
            if not found:
                return False
            ent = found.contents
            if ent.ut_pid == pid and ent.ut_type in (INIT_PROCESS, LOGIN_PROCESS, USER_PROCESS):
                rec = Utmpx.from_buffer_copy(ent)
                break
        rec.ut_type = DEAD_PROCESS
        rec.ut_user = b""
        rec.ut_host = b""
        rec.ut_exit.e_termination = signal or 0
        rec.ut_exit.e_exit = code or 0
        now = time.time()
        rec.ut_tv.tv_sec = int(now)
        rec.ut_tv.tv_usec = int((now % 1) * 1e6)
        ok = bool(_libc.pututxline(ctypes.byref(rec)))
    finally:
        _libc.endutxent()
        _libc.utmpxname(UTMP_FILE.encode())
    _wtmp_write(wtmp or WTMP_FILE, rec)
    return ok


def user_terminals(path: str | None = None) -> list[str]:
    """The terminal device of every logged-in user (USER_PROCESS records with
    a user name), as `wall` finds them: `/dev/` + ut_line unless it has it."""
    _libc.utmpxname((path or UTMP_FILE).encode())
    _libc.setutxent()
    out = []
    try:
        while True:
            entry = _libc.getutxent()
            if not entry:
                break
            e = entry.contents
            if e.ut_type != USER_PROCESS or not e.ut_user:
                continue
            line = e.ut_line.decode(errors="replace")
            out.append(line if line.startswith("/dev/") else "/dev/" + line)
    finally:
        _libc.endutxent()
        _libc.utmpxname(UTMP_FILE.encode())
    return out
