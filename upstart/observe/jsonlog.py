"""The structured event log file: JSON lines, rotated by size.

One record per line (see `recorder`), appended in batches: records wait as
dicts and are serialised when the batch is written (once per loop turn), not
as they are made. When the file would grow past `max_bytes` it is renamed to
`<path>.1` (older copies shift to `.2` ... `.keep`, the oldest is dropped)
and a fresh file is started. If
the directory cannot be written yet (early boot, read-only root) the records
wait in memory (bounded) and the file is tried again later, at most once a
second.

Owns: the file and its rotation. Never: decides what is recorded, or raises
to its caller (init must not die because a disk is full).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

FILE_NAME = "upstart-events.jsonl"
# Where the file lives. Never in the job log directory (`--logdir`), which holds
# job logs only, as in 1.13: a Session Init's under $XDG_STATE_HOME, the system
# init's under /run (there from the first instant of boot, and fresh each boot).
SESSION_SUBDIR = "upstart"
SYSTEM_DIR = "/run/upstart"
MAX_BYTES = 4 * 1024 * 1024
KEEP = 3
MAX_PENDING = 100000
MAX_PENDING_BYTES = 512 * 1024   # encoded lines waiting for the file (issue #23)


def default_path(session_init: bool, environ) -> str:
    """The event log's path for a Session Init (`$XDG_STATE_HOME/upstart/`, by
    default `~/.local/state/upstart/`) or the system init (`/run/upstart/`)."""
    if not session_init:
        return os.path.join(SYSTEM_DIR, FILE_NAME)
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or "/", ".local", "state")
    return os.path.join(state, SESSION_SUBDIR, FILE_NAME)


def _dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"), sort_keys=False) + "\n"


def _c_encoder(check_circular: bool = True):
    """perf: the C encoder json.dumps(record, separators=(",", ":")) builds for
    every call (with its options and a fresh table of containers being
    encoded), built once; None without the C accelerator. Without
    `check_circular` it keeps no such table (10% faster; a circular record
    then fails with RecursionError instead of json's ValueError)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    enc = json.JSONEncoder(separators=(",", ":"), sort_keys=False)
    return make({} if check_circular else None, enc.default,
                json.encoder.encode_basestring_ascii, enc.indent, enc.key_separator,
                enc.item_separator, enc.sort_keys, enc.skipkeys, enc.allow_nan)


_C_ENCODE = _c_encoder()
_C_BATCH = _c_encoder(check_circular=False)    # for `_encode_all`: the recorder's records
C_ENCODER = _C_BATCH                            # (compact.py: a record's parts)


def encode(record: dict) -> str:
    global _C_ENCODE
    if _C_ENCODE is None or type(record) is not dict:
        return _dumps(record)
    try:
        return "".join(_C_ENCODE(record, 0)) + "\n"
    except Exception:
        _C_ENCODE = _c_encoder()        # its table may hold what it was encoding
        return _dumps(record)           # the same text, or json.dumps' own error


class JsonLog:
    def __init__(self, path: str, *, max_bytes: int = MAX_BYTES, keep: int = KEEP,
                 monotonic: Callable[[], float] | None = None):
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.pending: list[dict] = []        # records not yet written, unserialised
        self.lines: list[bytes] = []         # encoded lines not yet written (History)
        self._lines_size = 0
        self.monotonic = monotonic
        self._retry_at = 0.0
        self._size: int | None = None

    def retry_now(self) -> None:
        """The next `flush` tries the file at once (the disk may be writable now)."""
        self._retry_at = 0.0

    def add(self, record: dict) -> None:
        self.pending.append(record)
        self._bound()

    def add_lines(self, lines: list[bytes]) -> None:
        """Encoded records (from `History.seal`), written at the next flush;
        while the file cannot be written the newest MAX_PENDING_BYTES wait."""
        self.lines.extend(lines)
        self._lines_size += sum(map(len, lines))
        if self._lines_size > MAX_PENDING_BYTES:
            drop = 0
            while self._lines_size > MAX_PENDING_BYTES and drop < len(self.lines):
                self._lines_size -= len(self.lines[drop])
                drop += 1
            del self.lines[:drop]

    def _bound(self) -> None:
        """Keep the newest MAX_PENDING records (a writer may append to `pending`
        directly; `flush` bounds it then)."""
        if len(self.pending) > MAX_PENDING:
            del self.pending[:len(self.pending) - MAX_PENDING]

    def flush(self) -> bool:
        """Write what is pending; False when the file could not be written."""
        if not self.pending and not self.lines:
            return True
        self._bound()
        now = self.monotonic() if self.monotonic else 0.0
        if now < self._retry_at:
            return False
        try:
            if self._size is None:
                try:
                    self._size = os.stat(self.path).st_size
                except FileNotFoundError:
                    self._size = 0
            data = _encode_all(self.pending).encode() if self.pending else b""
            if self.lines:
                data += b"".join(self.lines)
            if self._size and self._size + len(data) > self.max_bytes:
                self.rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                         0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            self._size += len(data)
            self.pending.clear()
            self.lines.clear()
            self._lines_size = 0
            return True
        except OSError:
            self._retry_at = now + 1.0
            self._size = None
            return False

    def rotate(self) -> None:
        for n in range(self.keep, 0, -1):
            older = f"{self.path}.{n}"
            newer = self.path if n == 1 else f"{self.path}.{n - 1}"
            try:
                if n == self.keep and os.path.exists(older):
                    os.unlink(older)
                os.rename(newer, older)
            except FileNotFoundError:
                pass
        self._size = 0


def _encode_all(records: list[dict]) -> str:
    """The lines of `records`; one that cannot be serialised is left out (never
    raises: a bad record must not block the ones after it)."""
    try:
        if _C_BATCH is not None:   # records are acyclic dicts, made by the recorder
            return "".join(["".join(_C_BATCH(r, 0)) + "\n" if type(r) is dict else encode(r)
                            for r in records])
        return "".join(map(encode, records))
    except Exception:              # (RecursionError for a circular one, too)
        lines = []
        for record in records:
            try:
                lines.append(encode(record))
            except Exception:
                continue
        return "".join(lines)


def encode_lines(records: list[dict]) -> list[bytes]:
    """Each record as its UTF-8 line (a record that cannot be serialised is
    left out, as in `_encode_all`)."""
    enc = _C_BATCH
    if enc is not None:
        try:
            return [("".join(enc(r, 0)) + "\n").encode() for r in records]
        except Exception:       # (RecursionError for a circular one, too)
            pass
    out = []
    for record in records:
        try:
            out.append(encode(record).encode())
        except Exception:
            continue
    return out


def log_paths(path: str) -> list[str]:
    """The log file and its rotated copies, oldest first."""
    return [f"{path}.{n}" for n in range(9, 0, -1)] + [path]


def read_lines(path: str):
    """The raw lines of a log file and its rotated copies, oldest first
    (a missing or unreadable copy is skipped)."""
    for p in log_paths(path):
        try:
            with open(p, "rb") as f:
                yield from f
        except OSError:
            continue


def read_records(path: str) -> list[dict]:
    """Every record of a log file and its rotated copies, oldest first."""
    out: list[dict] = []
    for p in log_paths(path):
        try:
            with open(p) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            continue
        except OSError:
            continue
    return out
