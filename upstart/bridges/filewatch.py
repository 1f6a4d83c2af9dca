"""The file bridge's pure logic: watches, verbs, matching, snapshots.

A *watch* is what one `file` leaf of a job condition asks for (spec 06 §2):
`FILE=` (required; a plain path, a directory when it ends in `/`, or a glob
in its last component) and optional `EVENT=create|modify|delete`. With
`--user`, `~/x`, `./x` and bare relative paths are resolved against the
home directory; the event still carries `FILE` as written.

This module decides
* which directory must be watched for a watch (the target directory for
  directories and globs, the parent for files; the nearest existing
  ancestor while that does not exist yet),
* how raw inotify notifications become verbs (`ChangeTracker`: a new file
  is `create` at its first close after writing, not also `modify`; `modify`
  is a close after writing an existing file; moves count as create/delete),
* which events a change of a path produces (`events_for`) and the initial
  `create` events for targets that already exist (`initial_events`),
* what a rescan finds changed (`snapshot`, `diff`), used after an inotify
  queue overflow and whenever a watch moves to a more specific directory.

Emitted env: `FILE=<as written>`, `EVENT=<verb>`, and `MATCH=<full path>`
for glob watches. An entry created, written or deleted inside a directory
watch is reported as 1.13's bridge does: `EVENT=modify` of the directory
(`FILE` as written) with `MATCH` the entry's path. Pure apart from
the `exists`/`listdir` callables handed in; never touches inotify.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable

from upstart.bridges.conditions import named
from upstart.records import dataclass

VERBS = ("create", "modify", "delete")
GLOB_CHARS = "*?["

# inotify mask bits (linux/inotify.h)
IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
DIR_MASK = (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
            | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)


@dataclass(frozen=True)
class Watch:
    text: str                 # FILE as written in the job
    path: str                 # resolved absolute path, no trailing slash (but "/")
    kind: str                 # "file" | "dir" | "glob"
    verb: str | None          # EVENT filter, None = any

    @property
    def directory(self) -> str:
        """The directory whose entries this watch is about."""
        if self.kind == "dir":
            return self.path
        return os.path.dirname(self.path) or "/"

    @property
    def pattern(self) -> str:
        return os.path.basename(self.path)


def resolve(text: str, home: str | None) -> str | None:
    """Absolute path for FILE text; relative forms only with a home (--user)."""
    if text.startswith("/"):
        return text
    if home is None:
        return None
    rest = text[2:] if text.startswith(("~/", "./")) else text
    if rest.startswith("~"):
        return None                                   # ~user is not supported
    return os.path.join(home, rest)


def parse_watch(args: Iterable[str], home: str | None = None) -> Watch | str:
    """A Watch from one `file` leaf, or the reason it is ignored."""
    args = tuple(args)
    text = named(args, "FILE")
    if not text:
        return "Ignored file event without FILE"
    verb = named(args, "EVENT")
    if verb is not None and verb not in VERBS:
        return "Ignored file event with unknown EVENT=%s" % verb
    path = resolve(text, home)
    if path is None:
        return "Ignored file event with relative FILE=%s" % text
    if path.endswith("/"):
        kind = "dir"
        path = path.rstrip("/") or "/"
    elif any(c in os.path.basename(path) for c in GLOB_CHARS):
        kind = "glob"
    else:
        kind = "file"
    if any(c in os.path.dirname(path) for c in GLOB_CHARS):
        return "Ignored file event with a glob outside the last component: %s" % text
    return Watch(text, os.path.normpath(path) if path != "/" else path, kind, verb)


def watched_directory(watch: Watch, exists: Callable[[str], bool]) -> str:
    """The directory to put the inotify watch on: the watch's own directory
    if it exists, else its nearest existing ancestor."""
    d = watch.directory
    while not exists(d) and d != "/":
        d = os.path.dirname(d) or "/"
    return d


def _env(watch: Watch, verb: str, match: str | None) -> tuple[str, ...]:
    env = ("FILE=" + watch.text, "EVENT=" + verb)
    return env + ("MATCH=" + match,) if match is not None else env


def events_for(watch: Watch, path: str, verb: str) -> list[tuple[str, ...]]:
    """The env of every event `watch` emits when `path` undergoes `verb`."""
    parent = os.path.dirname(path) or "/"
    if watch.kind == "dir" and path != watch.path:
        # as 1.13's bridge: an entry created, written or deleted inside a watched
        # directory is a modification of the directory, the entry in MATCH
        if parent != watch.path or watch.verb not in (None, "modify"):
            return []
        return [_env(watch, "modify", path)]
    if watch.verb is not None and watch.verb != verb:
        return []
    if watch.kind in ("file", "dir"):
        return [_env(watch, verb, None)] if path == watch.path else []
    if parent == watch.directory and fnmatch.fnmatchcase(os.path.basename(path),
                                                         watch.pattern):
        return [_env(watch, verb, path)]
    return []


def targets(watch: Watch, exists: Callable[[str], bool],
            listdir: Callable[[str], list[str]]) -> set[str]:
    """The existing paths a watch is about (for initial events and rescans)."""
    if watch.kind == "file":
        return {watch.path} if exists(watch.path) else set()
    if watch.kind == "dir":
        if not exists(watch.path):
            return set()
        try:
            names = listdir(watch.path)
        except OSError:
            names = []
        return {watch.path} | {os.path.join(watch.path, n) for n in names}
    try:
        names = listdir(watch.directory)
    except OSError:
        return set()
    return {os.path.join(watch.directory, n) for n in names
            if fnmatch.fnmatchcase(n, watch.pattern)}


def initial_events(watch: Watch, exists, listdir) -> list[tuple[str, ...]]:
    """`create` for targets that already exist (spec 06 §2 "Initial state")."""
    if watch.verb not in (None, "create"):
        return []
    out = []
    for path in sorted(targets(watch, exists, listdir)):
        if watch.kind == "dir" and path != watch.path:
            continue                 # a directory's entries are not its creation
        out += events_for(watch, path, "create")
    return out


def snapshot(watches: Iterable[Watch], exists, listdir) -> set[str]:
    """Every existing path any watch is about."""
    out: set[str] = set()
    for w in watches:
        out |= targets(w, exists, listdir)
    return out


def diff(old: set[str], new: set[str]) -> list[tuple[str, str]]:
    """(path, verb) for what appeared (`create`) or vanished (`delete`)."""
    return ([(p, "create") for p in sorted(new - old)]
            + [(p, "delete") for p in sorted(old - new)])


class ChangeTracker:
    """Turns (path, inotify mask) into verbs, remembering files created but
    not yet closed. Bounded: at most `limit` fresh files are remembered."""

    def __init__(self, limit: int = 4096):
        self.fresh: set[str] = set()
        self.limit = limit

    def feed(self, path: str, mask: int) -> str | None:
        if mask & IN_CREATE:
            if mask & IN_ISDIR:
                return "create"
            if len(self.fresh) < self.limit:
                self.fresh.add(path)
                return None
            return "create"
        if mask & IN_CLOSE_WRITE:
            if path in self.fresh:
                self.fresh.discard(path)
                return "create"
            return "modify"
        if mask & IN_MOVED_TO:
            self.fresh.discard(path)
            return "create"
        if mask & (IN_DELETE | IN_MOVED_FROM):
            was_fresh = path in self.fresh
            self.fresh.discard(path)
            return None if was_fresh else "delete"
        return None
