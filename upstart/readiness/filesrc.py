"""The `file` source: tell when a path comes to exist, through inotify.

A file watch waits for `FileSpec.path` (or, for a glob in the last
component, any entry matching it). It keeps one inotify watch on the
deepest directory of the path that exists now (the target's parent once
that exists): every create or move-in there re-arms the watch one level
deeper if the next directory appeared, and checks the target. The watch is
added *before* the check, so a path created in between is never missed.
When a watched directory goes away (`IN_IGNORED`) the watch climbs back up.

Owns one inotify instance (opened at the first watch and kept: closing an
inotify fd waits for an SRCU grace period in the kernel, 10-60 ms measured,
which would stall init's loop right when a job becomes ready) and the reader
on its fd. Never polls, never reads file contents, never blocks; a watch
fires its callback at most once.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable

from upstart.readiness.spec import FileSpec

IN_CREATE = 0x00000100
IN_MOVED_TO = 0x00000080
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
MASK = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR


def nearest_dir(directory: str, isdir: Callable[[str], bool] = os.path.isdir) -> str:
    """The deepest existing directory on the way to `directory` (itself if it exists)."""
    d = os.path.normpath(directory)
    while d != "/" and not isdir(d):
        d = os.path.dirname(d)
    return d


def find(spec: FileSpec, lexists: Callable[[str], bool] = os.path.lexists,
         listdir: Callable[[str], list[str]] = os.listdir) -> str | None:
    """The path that proves the spec, or None."""
    if not spec.is_glob:
        return spec.path if lexists(spec.path) else None
    try:
        names = sorted(listdir(spec.directory))
    except OSError:
        return None
    pattern = spec.path.rsplit("/", 1)[-1]
    for name in names:
        if fnmatch.fnmatchcase(name, pattern):
            return os.path.join(spec.directory, name)
    return None


class _Watch:
    __slots__ = ("spec", "fire", "directory", "wd")

    def __init__(self, spec: FileSpec, fire: Callable[[str], None]):
        self.spec = spec
        self.fire = fire
        self.directory: str | None = None
        self.wd: int | None = None


class FileWatcher:
    """Every file watch of the readiness adapter, on one inotify fd."""

    def __init__(self, loop, log: Callable[[str, str], None], inotify_factory=None):
        self.loop = loop
        self.log = log
        self._factory = inotify_factory
        self._ino = None
        self._watches: dict[object, _Watch] = {}
        self._by_wd: dict[int, set[object]] = {}

    def add(self, key: object, spec: FileSpec, fire: Callable[[str], None]) -> None:
        """Watch for `spec`; `fire(found_path)` once it exists (maybe at once)."""
        self.remove(key)
        self._open()
        watch = _Watch(spec, fire)
        self._watches[key] = watch
        self._arm(key, watch)

    def remove(self, key: object) -> None:
        watch = self._watches.pop(key, None)
        if watch is not None:
            self._drop_wd(key, watch)

    def keys(self) -> list[object]:
        return list(self._watches)

    def close(self) -> None:
        self._watches.clear()
        self._close()

    # ------------------------------------------------------------ inotify

    def _open(self) -> None:
        if self._ino is not None:
            return
        if self._factory is not None:
            self._ino = self._factory()
        else:
            import inotify_simple
            if getattr(inotify_simple, "_libc", "absent") is None:   # no ldconfig -p
                import ctypes
                inotify_simple._libc = ctypes.CDLL(None, use_errno=True)
            self._ino = inotify_simple.INotify(nonblocking=True)
        self.loop.add_reader(self._ino.fileno(), self._readable)

    def _close(self) -> None:
        if self._ino is None:
            return
        try:
            self.loop.remove_reader(self._ino.fileno())
        except Exception:   # noqa: BLE001 - the loop may be closed already
            pass
        self._ino.close()
        self._ino = None
        self._by_wd.clear()

    def _drop_wd(self, key: object, watch: _Watch) -> None:
        wd, watch.wd, watch.directory = watch.wd, None, None
        if wd is None:
            return
        keys = self._by_wd.get(wd)
        if keys is None:
            return
        keys.discard(key)
        if not keys:
            del self._by_wd[wd]
            try:
                self._ino.rm_watch(wd)
            except OSError:
                pass        # the directory went away: its watch is gone already

    def _arm(self, key: object, watch: _Watch) -> None:
        """Watch the deepest existing directory, then check the target."""
        for _ in range(64):                   # directories may appear while we look
            target = nearest_dir(watch.spec.directory)
            if target != watch.directory:
                self._drop_wd(key, watch)
                try:
                    wd = self._ino.add_watch(target, MASK)
                except OSError as exc:
                    self.log("warn", f"Unable to watch {target} for {watch.spec.path}: "
                                     f"{exc.strerror or exc}")
                    return
                watch.wd, watch.directory = wd, target
                self._by_wd.setdefault(wd, set()).add(key)
            if nearest_dir(watch.spec.directory) == target:
                break
        found = find(watch.spec)
        if found is not None:
            self._watches.pop(key, None)
            self._drop_wd(key, watch)
            watch.fire(found)

    def _readable(self) -> None:
        if self._ino is None:
            return
        try:
            events = self._ino.read(timeout=0)
        except BlockingIOError:
            return
        except OSError as exc:
            self.log("warn", f"readiness inotify read failed: {exc}")
            return
        touched: set[object] = set()
        overflow = False
        for ev in events:
            if ev.mask & IN_Q_OVERFLOW:
                overflow = True
                continue
            keys = self._by_wd.get(ev.wd, ())
            if ev.mask & IN_IGNORED:
                self._by_wd.pop(ev.wd, None)
                for key in keys:
                    w = self._watches.get(key)
                    if w is not None:
                        w.wd = w.directory = None
            touched.update(keys)
        if overflow:
            touched = set(self._watches)
        for key in touched:
            watch = self._watches.get(key)
            if watch is not None:
                self._arm(key, watch)


__all__ = ["FileWatcher", "nearest_dir", "find"]
