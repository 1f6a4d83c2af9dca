"""The end rule (upstart/process/endrule.py, tracking.md "At `waiting`"):
each branch of `next_step`, with the clock passed in."""

from __future__ import annotations

import pytest

from upstart.process import endrule
from upstart.process.endrule import (CLEANUP, KILL, RECHECK, RELEASE, SIGNAL_AND_WAIT, WAIT,
                                     Step, next_step)


def step(left=True, main_seen=True, signalled_at=None, now=100.0, kill_timeout=5.0):
    return next_step(left=left, main_seen=main_seen, signalled_at=signalled_at, now=now,
                     kill_timeout=kill_timeout)


@pytest.mark.parametrize("main_seen", [True, False])
@pytest.mark.parametrize("signalled_at", [None, 90.0, 99.0])
def test_nothing_left_is_cleaned_up_whatever_else(main_seen, signalled_at):
    assert step(left=False, main_seen=main_seen, signalled_at=signalled_at) == Step(CLEANUP)


def test_a_natural_end_releases_the_leftovers():
    assert step(main_seen=True, signalled_at=None) == Step(RELEASE)


def test_an_end_without_main_process_signals_and_waits():
    """A failed pre-start, a job without main process: not a natural end."""
    assert step(main_seen=False, signalled_at=None) == Step(SIGNAL_AND_WAIT)


@pytest.mark.parametrize("main_seen", [True, False])
def test_signalled_within_the_kill_timeout_waits_and_rechecks(main_seen):
    assert step(main_seen=main_seen, signalled_at=96.0, now=100.0) == Step(WAIT, RECHECK)
    assert step(main_seen=main_seen, signalled_at=100.0, now=100.0) == Step(WAIT, RECHECK)


@pytest.mark.parametrize("now", [105.0, 105.01, 1000.0])
def test_signalled_the_kill_timeout_ago_or_more_kills(now):
    assert step(signalled_at=100.0, now=now, kill_timeout=5.0) == Step(KILL)


def test_a_zero_kill_timeout_kills_at_once():
    assert step(main_seen=False, signalled_at=100.0, now=100.0, kill_timeout=0.0) == Step(KILL)


def test_the_recheck_interval_is_the_trackers_poll():
    """50 ms, as tracking.md says; both trackers poll with it."""
    assert endrule.RECHECK == 0.05


def test_the_rule_reads_no_clock():
    """Same facts, same answer, whatever the time of the call."""
    assert [step(signalled_at=0.0, now=t, kill_timeout=1.0).action
            for t in (0.0, 0.99, 1.0, 0.5)] == [WAIT, WAIT, KILL, WAIT]


def test_the_rule_is_pure():
    """No I/O and no clock: it imports nothing but the record classes."""
    import ast
    from pathlib import Path
    tree = ast.parse(Path(endrule.__file__).read_text())
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    found |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert found == {"__future__", "upstart.records"}
