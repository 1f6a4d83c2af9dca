"""Engine size and count limits: each refusal is a clear LimitsExceeded (issue #14)."""

import pytest
from core_harness import Harness, job

from upstart.core import effects as fx
from upstart.core.effects import ControlFailure
from upstart.core.limits import LIMITS_EXCEEDED


def errors(out):
    return [e.error for e in out if isinstance(e, fx.Reply) and e.error is not None]


def test_event_env_entry_count_refused():
    h = Harness(job("a", start_on="go"))
    h.engine.limits.env_entries = 3
    out = h.emit("go", "A=1", "B=2", "C=3", "D=4")
    (err,) = errors(out)
    assert err.name == LIMITS_EXCEEDED
    assert err.message == "Event environment has 4 entries, limit is 3"
    assert h.status("a") == "stop/waiting" and not h.engine.queue.events


def test_event_env_entry_and_total_size_refused():
    h = Harness()
    h.engine.limits.env_entry = 10
    h.engine.limits.env_total = 15
    assert "entry of 11 characters, limit is 10" in errors(h.emit("go", "A=123456789"))[0].message
    (err,) = errors(h.emit("go", "A=1234567", "B=1234567"))
    assert err.message == "Event environment of 18 characters, limit is 15"


def test_event_name_length_refused():
    h = Harness()
    h.engine.limits.event_name = 8
    (err,) = errors(h.emit("x" * 9))
    assert err.message == "Event name of 9 characters, limit is 8"


def test_queue_full_refused_then_accepts_again():
    h = Harness(job("slow", start_on="go", task=True))
    h.engine.limits.queued_events = 3
    for _ in range(3):                      # each `go` is held while the task runs
        assert errors(h.emit("go", wait=False)) == []
    assert len(h.engine.queue.events) == 3
    (err,) = errors(h.emit("over"))
    assert err.name == LIMITS_EXCEEDED
    assert err.message == "Event queue is full (3 events), limit is 3"
    h.exit(h.pid("slow"), 0)               # the queue drains
    assert errors(h.emit("after")) == []


def test_instance_count_refused_by_command_and_by_event():
    h = Harness(job("i", instance="$N", start_on="go"))
    h.engine.limits.instances = 2
    h.start("i", ["N=1"])
    h.start("i", ["N=2"])
    (err,) = errors(h.start("i", ["N=3"]))
    assert err.message == "Job i has 2 instances, limit is 2"
    h.emit("go", "N=4")
    assert sorted(h.engine.instances("i")) == ["1", "2"]
    assert "i not started: Job i has 2 instances, limit is 2" in h.logs("warn")


def test_instance_name_length_refused():
    h = Harness(job("i", instance="$N"))
    h.engine.limits.instance_name = 4
    (err,) = errors(h.start("i", ["N=12345"]))
    assert err.message == "Instance name of 5 characters, limit is 4"
    assert h.engine.instances("i") == []


def test_command_env_refused():
    h = Harness(job("a"))
    h.engine.limits.env_entries = 1
    (err,) = errors(h.start("a", ["A=1", "B=2"]))
    assert err.message == "Environment has 2 entries, limit is 1"


def test_job_env_table_bounded_and_unchanged_on_refusal():
    h = Harness()
    h.engine.limits.env_entries = 2
    h.engine.env_set([], ["A=1"], True)
    before = list(h.engine.job_env)
    with pytest.raises(ControlFailure) as info:
        h.engine.env_set([], ["B=1", "C=1"], True)
    assert "Job environment has" in str(info.value)
    assert h.engine.job_env == before


def test_named_states_bounded():
    h = Harness()
    h.engine.limits.states = 2
    h.feed(h.engine.set_state("s1", []))
    h.feed(h.engine.set_state("s2", []))
    h.feed(h.engine.set_state("s2", ["X=1"]))         # replacing is fine
    with pytest.raises(ControlFailure) as info:
        h.engine.set_state("s3", [])
    assert info.value.error.name == LIMITS_EXCEEDED


def test_long_job_name_ignored_with_warning():
    h = Harness()
    h.engine.limits.job_name = 5
    h.feed(h.engine.load({"short": job("short"), "toolong": job("toolong")}))
    assert h.engine.job_names() == ["short"]
    assert "Ignored job with a name of 7 characters (limit 5)" in h.logs("warn")
