"""Watching the configuration directories with inotify (`upstart.daemon.inotify`).

`ConfWatcher` owns one inotify descriptor, registered with init's loop. Every
directory under every source is watched (new sub-directories are picked up);
a change to anything that could be a job file calls `on_change()` once per
burst of events. It decides nothing about what changed: the daemon rescans.
If inotify is unavailable the watcher does nothing (the tree was read once).

`DirWaiter` waits for one directory to exist (init's log directory, at boot
before /var/log is mounted): an inotify event on its parent, never a poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import os
from typing import Callable

from upstart.daemon import inotify as flags
from upstart.daemon.inotify import INotify

if TYPE_CHECKING:
    from upstart.reactor.loop import Reactor, Handle


class ConfWatcher:
    def __init__(self, loop: Reactor, dirs: list[str],
                 on_change: Callable[[], None], delay: float = 0.02):
        self.loop = loop
        self.dirs = list(dirs)
        self.on_change = on_change
        self.delay = delay
        self._pending: Handle | None = None
        self._inotify = None
        try:
            self._inotify = INotify()
        except OSError:
            self._inotify = None
            return
        self._mask = (flags.CREATE | flags.DELETE | flags.CLOSE_WRITE | flags.MOVED_TO
                      | flags.MOVED_FROM | flags.DELETE_SELF | flags.MOVE_SELF | flags.ATTRIB)
        self.rewatch()
        loop.add_reader(self._inotify.fileno(), self._readable)

    def rewatch(self) -> None:
        """(Re)add a watch on every directory of every source."""
        if self._inotify is None:
            return
        for top in self.dirs:
            for root, subdirs, _files in os.walk(top):
                try:
                    self._inotify.add_watch(root, self._mask)
                except OSError:
                    pass
                subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            # a source that does not exist yet: watch its parent for its creation
            if not os.path.isdir(top):
                parent = os.path.dirname(top.rstrip("/")) or "/"
                try:
                    self._inotify.add_watch(parent, self._mask)
                except OSError:
                    pass

    def _readable(self) -> None:
        try:
            events = self._inotify.read()
        except OSError:
            return
        if not events:
            return
        if self._pending is None:
            self._pending = self.loop.call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self.rewatch()
        self.on_change()

    def close(self) -> None:
        if self._inotify is not None:
            try:
                self.loop.remove_reader(self._inotify.fileno())
            except (ValueError, RuntimeError):
                pass
            self._inotify.close()
            self._inotify = None


class DirWaiter:
    """Calls `on_exists()` once, when `path` exists as a directory: one
    inotify watch on its nearest existing ancestor, moved down as the missing
    components are made (no polling). Without inotify it does nothing."""

    def __init__(self, loop: Reactor, path: str,
                 on_exists: Callable[[], None]):
        self.loop = loop
        self.path = os.path.abspath(path)
        self.on_exists = on_exists
        self._inotify = None
        self._wd = None
        try:
            self._inotify = INotify()
        except OSError:
            self._inotify = None
            return
        self._mask = (flags.CREATE | flags.MOVED_TO | flags.DELETE_SELF | flags.MOVE_SELF
                      | flags.ONLYDIR)
        loop.add_reader(self._inotify.fileno(), self._readable)
        self._arm()

    def _arm(self) -> None:
        if self._inotify is None:
            return
        if os.path.isdir(self.path):
            self.close()
            self.on_exists()
            return
        ancestor = os.path.dirname(self.path)
        while not os.path.isdir(ancestor) and ancestor != "/":
            ancestor = os.path.dirname(ancestor)
        if self._wd is not None:
            try:
                self._inotify.rm_watch(self._wd)
            except OSError:
                pass
        try:
            self._wd = self._inotify.add_watch(ancestor, self._mask)
        except OSError:
            self._wd = None

    def _readable(self) -> None:
        try:
            self._inotify.read()
        except OSError:
            return
        self._arm()

    def close(self) -> None:
        if self._inotify is not None:
            try:
                self.loop.remove_reader(self._inotify.fileno())
            except (ValueError, RuntimeError):
                pass
            self._inotify.close()
            self._inotify = None
