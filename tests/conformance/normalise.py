"""Normalisation of golden-transcript output (pure; no I/O).

The golden corpus (``tests/conformance/golden/README.md``, "Normalisation") records what
upstream printed after four rewrites; this module applies the same rewrites to what
*our* init printed, so both sides can be compared as plain strings:

1. the scenario's temporary directory becomes ``<T>``;
2. ``/upstart-session/<uid>/<pid>`` becomes ``/upstart-session/<UID>/<PID>``;
3. a PID becomes ``<PID>`` after ``process ``, inside ``(1234)``, after ``pid=`` and at
   the start of a ``list-sessions`` line;
4. ``sorted`` steps have their stdout cut into records and sorted.

PID *labels* (``p1``, ``p2``, ...) name each distinct PID in order of first sight over
a whole scenario; :class:`PidLabeller` hands them out.  Everything here is a pure
function of its inputs so the runner's unit tests can pin it down.
"""

from __future__ import annotations

import re

_SESSION_RE = re.compile(r"/upstart-session/\d+/\d+")
# One alternation, so occurrences come out in textual order whatever their form.
_PID_RE = re.compile(
    r"(?P<pre>process |pid=)(?P<a>\d+)"
    r"|\((?P<b>\d+)\)"
    r"|^(?P<c>\d+)(?= unix:abstract=)",
    re.MULTILINE,
)


def replace_tdir(text: str, tdir: str) -> str:
    """Rule 1: the temporary directory's absolute path becomes ``<T>``."""
    if not tdir:
        return text
    return text.replace(tdir, "<T>")


def normalise_with_pids(text: str, tdir: str) -> tuple[str, list[str]]:
    """Apply rules 1-3; return the text and the raw PIDs replaced, in textual order.

    The PID inside the session address is *not* returned (it is not labelled).
    """
    text = replace_tdir(text, tdir)
    text = _SESSION_RE.sub("/upstart-session/<UID>/<PID>", text)
    pids: list[str] = []

    def repl(m: re.Match[str]) -> str:
        if m.group("a") is not None:
            pids.append(m.group("a"))
            return m.group("pre") + "<PID>"
        if m.group("b") is not None:
            pids.append(m.group("b"))
            return "(<PID>)"
        pids.append(m.group("c"))
        return "<PID>"

    return _PID_RE.sub(repl, text), pids


def normalise(text: str, tdir: str) -> str:
    """Rules 1-3 on one string."""
    return normalise_with_pids(text, tdir)[0]


def split_records(text: str) -> list[str]:
    """Cut text into records: a line not starting with space/TAB plus its continuation lines.

    Each record keeps its line ends, so ``"".join(split_records(t)) == t``.
    """
    records: list[str] = []
    for line in text.splitlines(keepends=True):
        if records and line[:1] in (" ", "\t"):
            records[-1] += line
        else:
            records.append(line)
    return records


def _ensure_nl(rec: str) -> str:
    return rec if rec.endswith("\n") else rec + "\n"


def sort_records(text: str, key_text: str | None = None) -> str:
    """Rule 4: sort the records of ``text`` in byte order.

    ``key_text`` (same record structure, e.g. the normalised form of ``text``) gives the
    sort keys when present, so raw output can be ordered the way its normalised form
    sorts.  A last record without a newline is sorted as if it had one and the text
    keeps no trailing newline then.
    """
    recs = split_records(text)
    keys = split_records(key_text) if key_text is not None else recs
    if len(keys) != len(recs):
        raise ValueError("key_text does not have the record structure of text")
    trailing = bool(text) and not text.endswith("\n")
    pairs = sorted(
        zip(recs, keys), key=lambda rk: _ensure_nl(rk[1]).encode("utf-8", "surrogateescape")
    )
    out = "".join(_ensure_nl(r) for r, _ in pairs)
    return out[:-1] if trailing else out


def sort_raw_by_normalised(text: str, tdir: str) -> str:
    """Sort raw output so that its normalised form is sorted (labels then follow it)."""
    key = "".join(normalise(r, tdir) for r in split_records(text))
    return sort_records(text, key)


class PidLabeller:
    """Names distinct PIDs ``p1``, ``p2``, ... in order of first sight."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def label(self, pids: list[str]) -> list[str]:
        out = []
        for pid in pids:
            if pid not in self._labels:
                self._labels[pid] = f"p{len(self._labels) + 1}"
            out.append(self._labels[pid])
        return out

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self._labels)
