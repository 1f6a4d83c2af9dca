"""The daemon's timer table (upstart/daemon/timers.py) on init's event loop:
a key set again replaces its timer, a cancelled one never fires, a fired one
fires once."""

from __future__ import annotations

from upstart.core.effects import CONFIRM_TIMER, TIMER_KINDS, TimerKey
from upstart.daemon.timers import Timers, reaps_first
from upstart.reactor.futures import sleep
from upstart.reactor.loop import Reactor


def _table():
    loop = Reactor()
    fired: list = []
    return loop, fired, Timers(loop, lambda fn, *a: fn(*a), fired.append)


def _due(loop, timers, key) -> float:
    return timers.handles[key].when() - loop.time()


def test_a_key_set_again_replaces_its_timer():
    loop, fired, timers = _table()
    try:
        timers.set(CONFIRM_TIMER, 0)
        timers.set(("svc", "", "kill"), 5.0)
        timers.set(CONFIRM_TIMER, 5.0)           # replaces the first one
        assert 4.0 < _due(loop, timers, CONFIRM_TIMER) <= 5.0
        assert len(timers.handles) == 2
        loop.run_until_complete(sleep(loop, 0.01))
    finally:
        timers.close()
        loop.close()
    assert timers.handles == {} and fired == []


def test_a_timer_fires_once_and_a_cancelled_one_never():
    loop, fired, timers = _table()
    try:
        timers.set(("a", "", "respawn"), 0)
        timers.set(("b", "", "respawn"), 0)
        timers.cancel(("b", "", "respawn"))
        timers.cancel(("never", "", "set"))          # unknown key: nothing happens
        loop.run_until_complete(sleep(loop, 0.01))
        assert fired == [("a", "", "respawn")] and timers.handles == {}
    finally:
        timers.close()
        loop.close()


def test_only_the_confirmation_and_expect_timers_reap_children_first():
    """The shell reads the kind from the core's table, not from the key's text.
    `expect` (issue #26): a Ready the tracer has queued wins over the timeout."""
    assert reaps_first(CONFIRM_TIMER)
    assert [k for k in TIMER_KINDS if reaps_first(TimerKey("j", "", k))] == \
        ["expect", "confirm"]
    assert not reaps_first(("j", "", "no-such-kind")) and not reaps_first("confirm")
