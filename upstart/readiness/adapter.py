"""The readiness adapter: the daemon's `readiness` object (interfaces.md §6).

While an instance waits to be ready, the core sends
`WatchReady(job, instance, matches, pids)` with the `file`/`socket`/`dbus`
leaves of its `ready on`; the daemon calls `watch(...)` here, and
`unwatch(job, instance)` on `UnwatchReady`. For each leaf the adapter
starts one watch on the matching source (`filesrc`, `socketsrc`,
`dbussrc`); when it holds, the ordinary event (`file FPATH=/x`,
`socket PROTO=inet PORT=80`, `dbus NAME=org.x BUS=system`) is emitted
through the `emit(name, env)` callback the daemon gives, on the next loop
turn (never from inside the daemon's `apply`). The core matches it like
any event and emits `ready`.

For a chroot session's jobs (docs/design/sessions.md) the adapter is made with
the session's `root`: file paths (and unix socket paths) are watched under it,
and the events carry the paths as the jobs see them, inside the chroot.

Owns the per-instance watch keys and the three source watchers, each
created at its first use (the socket source's netlink socket and BPF
program, inotify and bus sockets cost nothing until a job asks). Never decides readiness itself (the core does), never
polls a file, never raises into the daemon: a leaf it cannot watch is
logged and left to events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from upstart.control.address import SYSTEM_BUS_DEFAULT


def bus_address(kind: str, environ: dict[str, str]) -> str | None:
    """The address of the `system` or `session` bus, from init's environment."""
    if kind == "session":
        return environ.get("DBUS_SESSION_BUS_ADDRESS") or None
    return environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS_DEFAULT


class Readiness:
    def __init__(self, loop, emit: Callable[[str, list[str]], None], *,
                 log: Callable[[str, str], None] | None = None, session_init: bool = False,
                 environ: dict[str, str] | None = None, root: str = ""):
        self.loop = loop
        self.root = root.rstrip("/")       # a chroot session's root; "" for init's own
        self.emit = emit
        self.log = log or (lambda _prio, _msg: None)
        self.session_init = session_init
        self.environ = dict(environ or {})
        self._keys: dict[tuple[str, str], list[tuple]] = {}
        self._files = None
        self._sockets = None
        self._buses = None
        self.emitted: list[tuple[str, list[str]]] = []   # last few, for tests/debugging

    # ------------------------------------------------------------ sources

    @property
    def files(self):
        if self._files is None:
            from upstart.readiness.filesrc import FileWatcher
            self._files = FileWatcher(self.loop, self.log)
        return self._files

    @property
    def sockets(self):
        if self._sockets is None:
            from upstart.readiness.socketsrc import SocketWatcher
            self._sockets = SocketWatcher(self.loop, self.log, files=self.files,
                                          root=self.root)
        return self._sockets

    @property
    def buses(self):
        if self._buses is None:
            from upstart.readiness.dbussrc import BusWatcher
            self._buses = BusWatcher(self.loop, self.log,
                                     lambda kind: bus_address(kind, self.environ))
        return self._buses

    # ------------------------------------------------------------ the seam

    def watch(self, job: str, instance: str, matches, pids=()) -> None:
        from upstart.readiness.spec import DbusSpec, FileSpec, SocketSpec, parse_leaf

        self.unwatch(job, instance)
        keys: list[tuple] = []
        self._keys[(job, instance)] = keys
        for i, match in enumerate(matches):
            spec = parse_leaf(match.name, tuple(match.args), session_init=self.session_init)
            if isinstance(spec, str):
                self.log("warn", f"{job}: cannot watch `{match.name} {' '.join(match.args)}`"
                                 f" for readiness: {spec}")
                continue
            key = (job, instance, i)
            keys.append(key)
            name = match.name
            try:
                if isinstance(spec, FileSpec):
                    watched = replace(spec, path=self.root + spec.path) if self.root else spec
                    self.files.add(key, watched, lambda found, k=key, s=spec, n=name:
                                   self._fire(k, n, s.event_env(self._inside(found))))
                elif isinstance(spec, SocketSpec):
                    self.sockets.add(key, spec, tuple(pids), lambda k=key, s=spec, n=name:
                                     self._fire(k, n, s.event_env()))
                elif isinstance(spec, DbusSpec):
                    self.buses.add(key, spec, lambda k=key, s=spec, n=name:
                                   self._fire(k, n, s.event_env()))
            except Exception as exc:   # noqa: BLE001 - a source failing must not hurt init
                self.log("warn", f"{job}: unable to watch `{name}` for readiness: {exc}")

    def _inside(self, found: str | None) -> str | None:
        """A path found under the root, as the chroot's jobs name it."""
        if found and self.root and found.startswith(self.root + "/"):
            return found[len(self.root):]
        return found

    def unwatch(self, job: str, instance: str) -> None:
        for key in self._keys.pop((job, instance), ()):
            self._remove(key)

    def _remove(self, key: tuple) -> None:
        for watcher in (self._files, self._sockets, self._buses):
            if watcher is not None:
                watcher.remove(key)

    def active(self) -> list[tuple]:
        """Every live watch key (job, instance, leaf index)."""
        return [k for keys in self._keys.values() for k in keys]

    def _fire(self, key: tuple, name: str, env: list[str]) -> None:
        keys = self._keys.get(key[:2])
        if keys is not None and key in keys:
            keys.remove(key)
        self.loop.call_soon(self._emit, name, env)

    def _emit(self, name: str, env: list[str]) -> None:
        self.emitted = (self.emitted + [(name, env)])[-16:]
        self.emit(name, env)

    def close(self) -> None:
        for job_inst in list(self._keys):
            self.unwatch(*job_inst)
        for watcher in (self._sockets, self._buses, self._files):
            if watcher is not None:
                watcher.close()


__all__ = ["Readiness", "bus_address"]
