"""The record history: recent records in memory, bounded in bytes; the older
ones in the structured log file.

PID 1 keeps no unbounded structure (issue #23): the recorder's records live
here as the JSON lines the log file gets, at most `max_bytes` of them
(default 1.5 MB, counting each line's object and its slot), oldest first.
Records are appended as dicts, or as compact tuples (`compact.py`: an
event's three records; the queries see them as dicts), and encoded once, when the batch
they belong to is complete (`seal`, called at the end of each engine input
and before the observer writes the file): a record may still be completed
in its batch (a failure linked to the event that failed). Sealed lines are
handed to `spill` (the log file's writer) and kept here until the byte bound
pushes them out.

Queries read memory first and the file (through the injected `read_older`,
which yields the file's lines oldest first) only for what memory no longer
holds: `since` (the pages of `initctl timeline`), `find` (an event of `why`
that left the window), `scan` (every record, for `list --failed` when the
table of failures overflowed).

Owns: the window and its bound. Never: performs I/O itself, or raises out
of a query because the file is damaged (a bad line is skipped).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from upstart.observe.compact import as_dict, encode_lines, seq_of

MAX_BYTES = 1536 * 1024
LINE_OVERHEAD = 33 + 8          # a bytes object's header and its slot in the deque
SEAL_EVERY = 64                 # records waiting unencoded before a batch end seals them


def line_seq(line: bytes) -> int:
    """The sequence number of an encoded record (`{"seq":N,...`), -1 if none."""
    if line.startswith(b'{"seq":'):
        end = line.find(b",", 7)
        if end > 7:
            try:
                return int(line[7:end])
            except ValueError:
                return -1
    return -1


def _loads(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


class History:
    """Records, oldest first: sealed lines in memory plus the unsealed tail."""

    __slots__ = ("max_bytes", "lines", "size", "fresh", "spill", "read_older", "dropped")

    def __init__(self, max_bytes: int = MAX_BYTES, *,
                 spill: Callable[[list[bytes]], None] | None = None,
                 read_older: Callable[[], Iterable[bytes]] | None = None):
        self.max_bytes = max_bytes
        self.lines: deque[bytes] = deque()
        self.size = 0
        self.fresh: list = []        # dicts and compact tuples (compact.py)
        self.spill = spill
        self.read_older = read_older
        self.dropped = 0            # records that left memory

    # ------------------------------------------------------------ writing

    def append(self, record: dict) -> None:
        self.fresh.append(record)

    def settle(self) -> None:
        """The end of a batch: seal when enough records wait (keeps the
        unencoded tail short without encoding after every input)."""
        if len(self.fresh) >= SEAL_EVERY:
            self.seal()

    def seal(self) -> None:
        fresh = self.fresh
        if not fresh:
            return
        self.fresh = []
        lines = encode_lines(fresh)
        if self.spill is not None:
            self.spill(lines)
        self.lines.extend(lines)
        self.size += sum(map(len, lines)) + LINE_OVERHEAD * len(lines)
        self._bound()

    def _bound(self) -> None:
        lines = self.lines
        while self.size > self.max_bytes and lines:
            self.size -= len(lines.popleft()) + LINE_OVERHEAD
            self.dropped += 1

    def resize(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bound()

    # ------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self.lines) + len(self.fresh)

    def __iter__(self) -> Iterator[dict]:
        """The records in memory, oldest first."""
        for line in list(self.lines):
            rec = _loads(line)
            if rec is not None:
                yield rec
        yield from self._fresh()

    def __getitem__(self, index: int) -> dict:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("history index out of range")
        if index >= len(self.lines):
            rec = self.fresh[index - len(self.lines)]
            return as_dict(rec) if type(rec) is tuple else rec
        rec = _loads(self.lines[index])
        if rec is None:
            raise IndexError("damaged record")
        return rec

    def _fresh(self) -> list[dict]:
        """The unsealed records, as dicts."""
        return [as_dict(r) if type(r) is tuple else r for r in self.fresh]

    def first_seq(self) -> int:
        """The oldest sequence number memory holds (0 if none)."""
        if self.lines:
            return line_seq(self.lines[0])
        return seq_of(self.fresh[0]) if self.fresh else 0

    def _older_lines(self, below: int) -> Iterator[bytes]:
        """The file's lines of records older than `below`, oldest first."""
        if self.read_older is None:
            return
        try:
            for line in self.read_older():
                seq = line_seq(line)
                if 0 <= seq < below:
                    yield line
        except OSError:
            return

    def since(self, seq: int, limit: int) -> list[dict]:
        """Up to `limit` records with a sequence number above `seq`, oldest first."""
        self.seal()
        out: list[dict] = []
        first = self.first_seq()
        if self.dropped and seq + 1 < first:
            for line in self._older_lines(first):
                if line_seq(line) > seq:
                    rec = _loads(line)
                    if rec is not None:
                        out.append(rec)
                        if len(out) >= limit:
                            return out
        for line in list(self.lines):
            if line_seq(line) > seq:
                rec = _loads(line)
                if rec is not None:
                    out.append(rec)
                    if len(out) >= limit:
                        return out
        for rec in self._fresh():
            if rec["seq"] > seq:
                out.append(rec)
                if len(out) >= limit:
                    return out
        return out

    def scan(self, needles: tuple[bytes, ...] = ()) -> Iterator[dict]:
        """Every record (the file's older ones, then memory), oldest first,
        whose encoded line contains all of `needles` (a cheap filter before
        decoding; the caller still checks the fields)."""
        self.seal()
        lines: Iterable[bytes] = self._older_lines(self.first_seq()) if self.dropped else ()
        for source in (lines, list(self.lines)):
            for line in source:
                if all(n in line for n in needles):
                    rec = _loads(line)
                    if rec is not None:
                        yield rec
        yield from self._fresh()

    def find_newest(self, needles: tuple[bytes, ...], test: Callable[[dict], bool]) -> dict | None:
        """The newest record matching `needles` and `test`: memory first (newest
        first), then the file."""
        self.seal()
        for rec in reversed(self._fresh()):
            if test(rec):
                return rec
        for line in reversed(self.lines):
            if all(n in line for n in needles):
                rec = _loads(line)
                if rec is not None and test(rec):
                    return rec
        if not self.dropped:
            return None
        found = None
        for line in self._older_lines(self.first_seq()):
            if all(n in line for n in needles):
                rec = _loads(line)
                if rec is not None and test(rec):
                    found = rec
        return found
