"""The daemon shell carries the readiness effects and input to the right places:
WatchReady/UnwatchReady to the world's readiness adapter (made at the first
watch; an unwatch without one is nothing), and `Daemon.notified` into
`engine.process_notify`."""

from upstart.core import effects as fx
from upstart.daemon.daemon import Daemon
from upstart.daemon.options import Options
from upstart.jobfile.model import Match


class FakeReadiness:
    def __init__(self):
        self.calls = []

    def watch(self, job, instance, matches, pids):
        self.calls.append(("watch", job, instance, matches, pids))

    def unwatch(self, job, instance):
        self.calls.append(("unwatch", job, instance))

    def close(self):
        pass


class FakeEngine:
    def __init__(self):
        self.notes = []

    def process_notify(self, pid, fields):
        self.notes.append((pid, fields))
        return [fx.UnwatchReady("j", "")]


def make_daemon():
    d = Daemon(Options(user=True, no_log=True, no_cgroups=True, no_dbus=True),
               environ={"HOME": "/nonexistent"}, argv=["init"])
    d._build()
    return d


def close(d):
    d.world.close()
    d.supervisor.close()
    d.loop.close()


def test_watch_and_unwatch_go_to_the_readiness_adapter():
    d = make_daemon()
    try:
        d.world.readiness = FakeReadiness()
        match = Match("file", ("FPATH=/x",))
        d.apply([fx.WatchReady("j", "i", (match,), (12,)), fx.UnwatchReady("j", "i")])
        assert d.world.readiness.calls == [("watch", "j", "i", (match,), (12,)),
                                           ("unwatch", "j", "i")]
    finally:
        close(d)


def test_the_adapter_is_made_at_the_first_watch_and_notify_reaches_engine():
    from upstart.readiness.adapter import Readiness

    d = make_daemon()
    try:
        logged = []
        d.logger.log = lambda priority, message: logged.append((priority, message))
        d.apply([fx.UnwatchReady("j", "")])
        assert d.world.readiness is None and logged == []   # nothing to unwatch: nothing
        d.apply([fx.WatchReady("j", "", (), ())])
        assert isinstance(d.world.readiness, Readiness)
        d.world.readiness.close()
        d.world.engine = FakeEngine()
        d.world.readiness = FakeReadiness()
        d.notified(42, ("READY=1",))
        assert d.world.engine.notes == [(42, ["READY=1"])]
        assert d.world.readiness.calls == [("unwatch", "j", "")]
    finally:
        close(d)
