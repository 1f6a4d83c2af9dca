"""Queuing against transitions and the `A and (B or C)` rule (issue #7 items 3, 4)."""

from core_harness import Harness, job

from upstart.core import effects as fx


def ok_tokens(h, effects):
    return [r.token for r in h.replies(effects) if r.error is None]


def starts(h, name):
    return sum(1 for e in h.log if isinstance(e, fx.StateChanged)
               and e.job == name and e.state == "starting")


def test_and_or_every_emitter_returns_and_job_starts_once():
    h = Harness(job("j", start_on="A and ( B or C )"))
    for name in ("A", "B", "C"):
        out = h.emit(name)
        assert ok_tokens(h, out) == [h.tokens], name       # each emit answered in its turn
    assert h.status("j") == "start/running"
    assert starts(h, "j") == 1
    assert h.engine.statistics()["events_queued"] == 0


def test_and_or_late_alternative_is_only_remembered():
    """After the job started from A+B, C latches alone; a second A then starts nothing
    new (the job runs) and nobody waits."""
    h = Harness(job("j", start_on="A and ( B or C )"))
    h.emit("A")
    h.emit("B")
    h.emit("C")
    out = h.emit("A")
    assert ok_tokens(h, out) == [h.tokens]
    assert starts(h, "j") == 1


def test_and_or_in_other_orders():
    for order in (("C", "A"), ("B", "C", "A"), ("A", "C")):
        h = Harness(job("j", start_on="A and ( B or C )"))
        for name in order:
            assert ok_tokens(h, h.emit(name)) == [h.tokens]
        assert h.status("j") == "start/running", order


def test_start_during_pre_start_waits_then_succeeds():
    h = Harness(job("slow", pre_start="sleep 2"))
    first = h.start("slow")
    assert h.replies(first) == []
    assert h.status("slow") == "start/pre-start"
    second = h.start("slow")
    assert h.replies(second) == []                        # blocks, no AlreadyStarted
    out = h.exit(h.pid("slow", slot="pre-start"))
    assert sorted(ok_tokens(h, out)) == [1, 2]
    assert h.status("slow") == "start/running"


def test_stop_during_pre_start_lands_stop_waiting_without_main():
    h = Harness(job("slow", pre_start="sleep 2"))
    h.start("slow")
    stop = h.stop("slow")
    assert h.status("slow") == "stop/pre-start"           # 1.13 (golden 050): goal at once
    assert ok_tokens(h, stop) == [1]                      # the start is let go (1.13)
    out = h.exit(h.pid("slow", slot="pre-start"))
    assert h.status("slow") == "stop/waiting"
    assert ok_tokens(h, out) == [2]                       # the stop answers at rest
    assert not any(r.slot == "main" for r in h.spawner.requests)


def test_event_meeting_starting_job_is_held_until_running():
    h = Harness(job("slow", start_on="go", pre_start="sleep 2"))
    h.start("slow", wait=False)
    out = h.emit("go")
    assert ok_tokens(h, out) == []                         # held by the transition
    out = h.exit(h.pid("slow", slot="pre-start"))
    assert h.tokens in ok_tokens(h, out)
    assert starts(h, "slow") == 1
