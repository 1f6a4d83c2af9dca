"""The daemon shell carries the readiness effects and input to the right places:
WatchReady/UnwatchReady to `daemon.readiness` when there is one (else nothing),
and `Daemon.notified` into `engine.process_notify`."""

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


class FakeEngine:
    def __init__(self):
        self.notes = []

    def process_notify(self, pid, fields):
        self.notes.append((pid, fields))
        return [fx.UnwatchReady("j", "")]


def make_daemon():
    d = Daemon(Options(user=True), environ={"HOME": "/nonexistent"}, argv=["init"])
    return d


def test_watch_and_unwatch_go_to_the_readiness_adapter():
    d = make_daemon()
    try:
        d.readiness = FakeReadiness()
        match = Match("file", ("FPATH=/x",))
        d.apply([fx.WatchReady("j", "i", (match,), (12,)), fx.UnwatchReady("j", "i")])
        assert d.readiness.calls == [("watch", "j", "i", (match,), (12,)),
                                     ("unwatch", "j", "i")]
    finally:
        d.loop.close()


def test_without_adapter_effects_are_ignored_and_notify_reaches_engine():
    d = make_daemon()
    try:
        d.engine = FakeEngine()
        logged = []
        d.logger.log = lambda priority, message: logged.append((priority, message))
        d.apply([fx.WatchReady("j", "", (), ()), fx.UnwatchReady("j", "")])
        assert logged == []                                # no adapter: quietly ignored
        d.readiness = FakeReadiness()
        d.notified(42, ("READY=1",))
        assert d.engine.notes == [(42, ["READY=1"])]
        assert d.readiness.calls == [("unwatch", "j", "")]
    finally:
        d.loop.close()
