"""`expect timeout SECONDS` (issue #26, docs/design/tracking.md): a main
process that never forks (or stops itself) as its `expect` says fails the job
instead of leaving it in `spawned` for ever."""

from core_harness import Harness, job

from upstart.core import effects as fx
from upstart.core.snapshot import resume_effects

KEY = ("d", "", "expect")


def test_no_timer_without_the_stanza():
    h = Harness(job("d", expect="fork"))
    out = h.start("d")
    assert not any(isinstance(e, fx.SetTimer) and e.key == KEY for e in out)


def test_timeout_fails_the_job_with_process_main_and_kills_it():
    h = Harness(job("d", expect="fork", expect_timeout=3))
    out = h.start("d")
    assert fx.SetTimer(KEY, 3) in out
    pid = h.pid("d")
    out = h.feed(h.engine.timer_fired(KEY))
    logs = [e.message for e in out if isinstance(e, fx.Log)]
    assert f"d main process ({pid}) did not fork within 3 s (expect fork), stopping" in logs
    assert any(isinstance(e, fx.JobFailed) for e in out)
    assert fx.Kill(pid, 15, group=True) in out
    assert h.status("d") == "stop/killed"
    h.exit(pid, None, 15)
    assert ["stopped", "JOB=d", "INSTANCE=", "RESULT=failed", "PROCESS=main"] in h.events()
    assert h.status("d") == "stop/waiting"
    assert any(r.error is not None for r in h.replies())   # `start` answered an error


def test_ready_in_time_cancels_and_a_late_timer_does_nothing():
    h = Harness(job("d", expect="daemon", expect_timeout=3))
    h.start("d")
    out = h.feed(h.engine.process_ready(h.pid("d"), 777))
    assert fx.CancelTimer(KEY) in out
    out = h.feed(h.engine.timer_fired(KEY))
    assert not any(isinstance(e, fx.JobFailed) for e in out)
    assert h.status("d") == "start/running"


def test_main_exit_before_ready_cancels_the_timer():
    h = Harness(job("d", expect="stop", expect_timeout=3))
    h.start("d")
    out = h.exit(h.pid("d"), 1)
    assert fx.CancelTimer(KEY) in out


def test_expect_stop_message():
    h = Harness(job("d", expect="stop", expect_timeout=1))
    h.start("d")
    out = h.feed(h.engine.timer_fired(KEY))
    assert any(isinstance(e, fx.Log) and "did not stop itself with SIGSTOP within 1 s "
               "(expect stop)" in e.message for e in out)


def test_a_reexec_rearms_the_timer():
    h = Harness(job("d", expect="fork", expect_timeout=4))
    h.start("d")
    assert fx.SetTimer(KEY, 4) in resume_effects(h.engine)
