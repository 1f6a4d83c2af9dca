"""upstart-file-bridge: inotify changes → `file` events (spec 06 §2).

The I/O shell around `filewatch`: follows the jobs that wait for `file`
(`jobs.JobWatcher`), keeps one inotify watch per needed directory (moving it
to a more specific directory as ancestors get created, back up as they go),
emits `file FILE=… EVENT=… [MATCH=…]` with wait=false through the bounded
emitter, sends the initial `create` for targets that already exist, and
rescans (snapshot diff) after an inotify queue overflow or when a watch
moves. Exits when init disconnects. Never emits for paths no job waits for.
"""

from __future__ import annotations

import os
import pwd

import inotify_simple

from upstart.bridges import common, filewatch
from upstart.bridges.jobs import JobWatcher
from upstart.reactor.loop import get_running_loop

PROG = "upstart-file-bridge"
EVENT = "file"


def _exists(path: str) -> bool:
    return os.path.lexists(path)


class FileBridge:
    def __init__(self, link, log, home: str | None, inotify=None):
        self.link = link
        self.log = log
        self.home = home
        self.ino = inotify or inotify_simple.INotify(nonblocking=True)
        self.by_job: dict[str, list[filewatch.Watch]] = {}
        self.dir_wd: dict[str, int] = {}
        self.wd_dir: dict[int, str] = {}
        self.known: set[str] = set()
        self.tracker = filewatch.ChangeTracker()

    # ----------------------------------------------------------- watches

    def watches(self) -> set[filewatch.Watch]:
        return {w for ws in self.by_job.values() for w in ws}

    def on_job_change(self, path: str, name: str, leaves) -> None:
        before = self.watches()
        parsed = []
        for args in leaves:
            watch = filewatch.parse_watch(args, self.home)
            if isinstance(watch, str):
                self.log.warn("%s in %s" % (watch, name))
            else:
                parsed.append(watch)
        if parsed:
            self.by_job[path] = parsed
        else:
            self.by_job.pop(path, None)
        self.rearm()
        for watch in sorted(self.watches() - before, key=lambda w: (w.text, w.verb or "")):
            found = filewatch.targets(watch, _exists, os.listdir)
            self.known |= found
            for env in filewatch.initial_events(watch, _exists, os.listdir):
                self.link.emit(EVENT, list(env))

    def rearm(self) -> bool:
        """Watch exactly the directories needed; True if one was added."""
        wanted = {filewatch.watched_directory(w, os.path.isdir) for w in self.watches()}
        added = False
        for d in sorted(wanted - set(self.dir_wd)):
            try:
                wd = self.ino.add_watch(d, filewatch.DIR_MASK)
            except OSError as exc:
                self.log.warn("Could not create watch for path %s: %s" % (d, exc.strerror))
                continue
            self.dir_wd[d] = wd
            self.wd_dir[wd] = d
            added = True
        for d in set(self.dir_wd) - wanted:
            wd = self.dir_wd.pop(d)
            self.wd_dir.pop(wd, None)
            try:
                self.ino.rm_watch(wd)
            except OSError:
                pass
        return added

    def resync(self) -> None:
        """Emit what changed since we last knew (after overflow or a move)."""
        now = filewatch.snapshot(self.watches(), _exists, os.listdir)
        for path, verb in filewatch.diff(self.known, now):
            self.change(path, verb)
        self.known = now

    # ----------------------------------------------------------- changes

    def change(self, path: str, verb: str) -> None:
        if verb == "delete":
            self.known.discard(path)
        else:
            self.known.add(path)
        seen = set()
        for watch in sorted(self.watches(), key=lambda w: (w.text, w.verb or "")):
            for env in filewatch.events_for(watch, path, verb):
                if env not in seen:
                    seen.add(env)
                    self.link.emit(EVENT, list(env))

    def on_readable(self) -> None:
        try:
            events = self.ino.read(timeout=0)
        except BlockingIOError:
            return
        overflow = structural = False
        for ev in events:
            if ev.mask & filewatch.IN_Q_OVERFLOW:
                overflow = True
                continue
            d = self.wd_dir.get(ev.wd)
            if d is None:
                continue
            if ev.mask & filewatch.IN_IGNORED:
                self.dir_wd.pop(d, None)
                self.wd_dir.pop(ev.wd, None)
                structural = True
                continue
            if ev.mask & (filewatch.IN_DELETE_SELF | filewatch.IN_MOVE_SELF):
                structural = True
                continue
            path = os.path.join(d, ev.name) if ev.name else d
            if ev.mask & filewatch.IN_ISDIR:
                structural = True
            verb = self.tracker.feed(path, ev.mask)
            if verb:
                self.change(path, verb)
        if structural and self.rearm():
            overflow = True
        if overflow:
            self.resync()


def _home() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return os.environ.get("HOME", "/")


async def serve(opts, log) -> int:
    link = common.connect_init(PROG, opts.user, log)
    bridge = FileBridge(link, log, _home() if opts.user else None)
    watcher = JobWatcher(link, EVENT, bridge.on_job_change, log)
    await watcher.start()
    get_running_loop().add_reader(bridge.ino.fileno(), bridge.on_readable)
    if opts.daemon:
        common.daemonise(common.session_pidfile(PROG, os.environ) if opts.user else None)
    if opts.user:
        os.chdir(bridge.home or "/")
    await link.closed
    log.warn("Disconnected from Upstart")
    return 1


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Bridge inotify events into upstart", serve, argv)


if __name__ == "__main__":
    raise SystemExit(main())
