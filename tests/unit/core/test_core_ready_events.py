"""`ready on` with event sources, the `ready` event, `ready timeout` (issue #8)."""

from core_harness import Harness, cond, job

from upstart.core import effects as fx
from upstart.jobfile.model import Match


def ready_job(name="r", ready_on=None, **kw):
    return job(name, ready=True, ready_on=cond(ready_on) if ready_on else None, **kw)


def test_no_ready_stanza_emits_no_ready_event():
    h = Harness(job("plain"))
    h.start("plain")
    assert [e[0] for e in h.events()] == ["starting", "started"]
    assert h.engine.instance_ready("plain", "") is None


def test_bare_ready_on_emits_ready_right_after_started_with_exports():
    h = Harness(ready_job("r", export=["K"]))
    h.start("r", ["K=v"])
    assert h.events() == [["starting", "JOB=r", "INSTANCE=", "K=v"],
                          ["started", "JOB=r", "INSTANCE=", "K=v"],
                          ["ready", "JOB=r", "INSTANCE=", "K=v"]]
    assert h.engine.instance_ready("r", "") is True


def test_ready_on_event_waits_for_event_after_started():
    h = Harness(job("dep"), ready_job("r", "started dep"),
                job("after", start_on="ready r"))
    h.start("r")
    assert h.engine.instance_ready("r", "") is False
    assert "ready" not in [e[0] for e in h.events()]
    assert h.status("after") == "stop/waiting"
    h.start("dep")
    assert h.engine.instance_ready("r", "") is True
    assert h.status("after") == "start/running"
    assert ("ready", ["JOB=r", "INSTANCE="]) in h.engine.list_states()


def test_ready_on_condition_with_instance_variables():
    h = Harness(ready_job("r", "up NAME=$N", instance="$N"))
    h.start("r", ["N=a"])
    h.emit("up", "NAME=b")
    assert h.engine.instance_ready("r", "a") is False
    h.emit("up", "NAME=a")
    assert h.engine.instance_ready("r", "a") is True


def test_ready_on_does_not_hold_events():
    h = Harness(ready_job("r", "ping and pong"))
    h.start("r")
    out = h.emit("ping")
    assert [r.token for r in h.replies(out)] == [h.tokens]


def test_while_ready_follows_ready_state_and_closes_at_stopping():
    h = Harness(job("dep"), ready_job("r", "started dep"), job("w", while_=cond("ready r")))
    h.start("r")
    assert h.status("w") == "stop/waiting"
    h.start("dep")
    assert h.status("w") == "start/running"
    h.stop("r")
    assert h.engine.instance_ready("r", "") is False
    assert h.status("w") == "stop/killed"


def test_restart_must_become_ready_again():
    h = Harness(job("dep"), ready_job("r", "started dep"))
    h.start("dep")
    h.start("r")
    h.emit("started", "JOB=dep")        # by hand, as if dep started again
    assert h.engine.instance_ready("r", "") is True
    h.restart("r")
    h.kill_ack("r")
    assert h.status("r") == "start/running"
    assert h.engine.instance_ready("r", "") is False


def test_watch_effects_for_file_socket_dbus_leaves():
    h = Harness(ready_job("r", "file FPATH=$D/x and socket PROTO=inet PORT=80 and started y"))
    out = h.start("r", ["D=/tmp"])
    watches = [e for e in out if isinstance(e, fx.WatchReady)]
    assert watches == [fx.WatchReady("r", "", (Match("file", ("FPATH=/tmp/x",)),
                                               Match("socket", ("PROTO=inet", "PORT=80"))),
                                     (h.pid("r"),))]
    h.emit("file", "FPATH=/tmp/x")
    h.emit("socket", "PROTO=inet", "PORT=80")
    out = h.emit("started", "JOB=y")
    assert fx.UnwatchReady("r", "") in out
    assert h.engine.instance_ready("r", "") is True


def test_unwatch_when_stopped_before_ready():
    h = Harness(ready_job("r", "dbus NAME=org.x"))
    h.start("r")
    out = h.stop("r")
    assert fx.UnwatchReady("r", "") in out
    h.kill_ack("r")
    assert not any(e[0] == "ready" for e in h.events())


def test_ready_timeout_fails_with_process_ready():
    h = Harness(ready_job("r", "never", ready_timeout=5))
    out = h.start("r")
    assert fx.SetTimer(("r", "", "ready"), 5) in out
    out = h.feed(h.engine.timer_fired(("r", "", "ready")))
    assert any(isinstance(e, fx.JobFailed) for e in out)
    h.kill_ack("r")
    assert ["stopped", "JOB=r", "INSTANCE=", "RESULT=failed", "PROCESS=ready"] in h.events()
    assert h.status("r") == "stop/waiting"


def test_ready_in_time_cancels_the_timer_and_late_timer_is_ignored():
    h = Harness(ready_job("r", "go", ready_timeout=5))
    h.start("r")
    out = h.emit("go")
    assert fx.CancelTimer(("r", "", "ready")) in out
    out = h.feed(h.engine.timer_fired(("r", "", "ready")))
    assert not any(isinstance(e, fx.JobFailed) for e in out)
    assert h.status("r") == "start/running"


def test_snapshot_keeps_a_waiting_ready_and_rearms_timer():
    from upstart.core.engine import Engine
    h = Harness(ready_job("r", "go and file FPATH=/x", ready_timeout=5))
    h.start("r")
    h.emit("go")
    again = Engine.restore(h.engine.snapshot(), h.clock, h.spawner, session_init=True,
                           job_env=["PATH=/bin"], init_env={}, confirm_delay=0)
    resume = again.resume_effects()
    assert fx.SetTimer(("r", "", "ready"), 5) in resume
    assert any(isinstance(e, fx.WatchReady) for e in resume)
    out = again.emit("file", ["FPATH=/x"], wait=False, token=None)
    assert again.instance_ready("r", "") is True
    assert any(isinstance(e, fx.EventEmitted) and e.name == "ready" for e in out)
