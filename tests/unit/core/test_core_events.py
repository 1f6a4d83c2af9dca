"""Event queue, blocking hooks, failed events and the 07 §6 decisions."""

from core_harness import Harness, job

from upstart.core import effects as fx

EVFAILED = fx.upstart_error("EventFailed", "Event failed")


def names(h, effects=None):
    return [" ".join(e[:2]) for e in h.events(effects)]


def test_event_nobody_wants_finishes_at_once():
    h = Harness(job("svc"))
    out = h.emit("nothing", "A=1")
    assert h.events(out) == [["nothing", "A=1"]]
    assert h.replies(out) == [fx.Reply(1)]


def test_emit_validation_errors():
    h = Harness()
    out = h.emit("")
    assert out == [fx.Reply(1, error=fx.ControlError(fx.INVALID_ARGS, "Name may not be empty string"))]
    out = h.emit("ev", "NOTKV")
    assert out == [fx.Reply(2, error=fx.ControlError(fx.INVALID_ARGS, "Env must be KEY=VALUE pairs"))]


def test_emit_waits_for_task_055():
    h = Harness(job("t", task=True, start_on="ev"))
    out = h.emit("ev", "K=1")
    assert h.replies(out) == []
    out = h.exit(h.pid("t"), 0)
    assert h.replies(out) == [fx.Reply(1)]
    assert names(h) == ["starting JOB=t", "started JOB=t", "stopping JOB=t", "stopped JOB=t",
                        "ev K=1"]


def test_emit_no_wait_replies_first():
    h = Harness(job("t", task=True, start_on="ev"))
    out = [e for e in h.emit("ev", wait=False) if not isinstance(e, (fx.Log, fx.Trace))]
    assert out[0] == fx.Reply(1)


def test_emit_waits_for_service_056():
    h = Harness(job("svc", start_on="ev"))
    out = h.emit("ev")
    assert h.replies(out) == [fx.Reply(1)]
    assert names(h) == ["starting JOB=svc", "ev", "started JOB=svc"]


def test_emit_fails_045():
    h = Harness(job("t", task=True, start_on="ev"))
    h.emit("ev", "K=1")
    out = h.exit(h.pid("t"), 1)
    assert fx.Reply(1, error=EVFAILED) in out
    assert names(h)[2:] == ["ev K=1", "died JOB=t", "stopping JOB=t", "ev/failed K=1",
                            "stopped JOB=t"]
    assert h.events()[-2] == ["ev/failed", "K=1"]


def test_failed_event_of_failed_event_is_not_derived():
    h = Harness(job("t", task=True, start_on="ev/failed"), job("u", task=True, start_on="ev"))
    h.emit("ev")
    h.exit(h.pid("u"), 1)          # ev fails -> ev/failed starts t
    h.exit(h.pid("t"), 1)          # ev/failed fails -> no ev/failed/failed
    assert "ev/failed/failed" not in [e[0] for e in h.events()]
    assert [e[0] for e in h.events()].count("ev/failed") == 1


def test_starting_blocks_job_046_with_decision_b():
    h = Harness(job("svc"), job("pre", task=True, start_on="starting svc"))
    h.start("svc", wait=False)
    assert h.status("svc") == "start/starting" and h.status("pre") == "start/running"
    out = h.start("svc")                  # 1.13: Job is already running; decided: waits
    assert h.replies(out) == []
    out = h.exit(h.pid("pre"), 0)
    assert h.replies(out) == [fx.Reply(2, "")]
    assert h.status("svc") == "start/running"
    assert names(h) == ["starting JOB=pre", "started JOB=pre", "stopping JOB=pre",
                        "stopped JOB=pre", "starting JOB=svc", "started JOB=svc"]
    out = h.start("svc")
    assert h.replies(out) == [fx.Reply(3, error=fx.upstart_error(
        "AlreadyStarted", "Job is already running: svc"))]


def test_start_waiting_on_transition_gets_failure():
    h = Harness(job("svc", pre_start="p"))
    h.start("svc", wait=False)
    h.start("svc")
    out = h.exit(h.pid("svc", slot="pre-start"), 1)
    assert fx.Reply(2, error=fx.upstart_error("JobFailed", "Job failed to start")) in out


def test_starting_handler_fails_047_order():
    h = Harness(job("svc"), job("pre", task=True, start_on="starting svc"))
    h.start("svc")
    out = h.exit(h.pid("pre"), 1)
    assert h.replies(out) == [fx.Reply(1, "")]
    assert names(h) == ["starting JOB=pre", "started JOB=pre", "starting JOB=svc",
                        "died JOB=pre", "stopping JOB=pre", "starting/failed JOB=svc", "stopped JOB=pre",
                        "started JOB=svc"]


def test_stopping_blocks_job_048():
    h = Harness(job("svc"), job("post", task=True, start_on="stopping svc"))
    h.start("svc")
    h.stop("svc")
    assert h.status("svc") == "stop/stopping"
    assert not any(isinstance(e, fx.Kill) for e in h.log)
    out = h.exit(h.pid("post"), 0)
    assert any(isinstance(e, fx.Kill) for e in out)


def test_stop_on_stopping_chain_049():
    h = Harness(job("base"),
                job("mid", start_on="started base", stop_on="stopping base"),
                job("top", start_on="started mid", stop_on="stopping mid"))
    out = h.start("base")
    assert h.replies(out) == [fx.Reply(1, "")]
    assert [h.status(j) for j in ("base", "mid", "top")] == ["start/running"] * 3
    h.stop("base")
    h.kill_ack("top")
    h.kill_ack("mid")
    out = h.kill_ack("base")
    assert h.replies(out) == [fx.Reply(2, None)]
    assert names(h) == [
        "starting JOB=base", "starting JOB=mid", "started JOB=base", "starting JOB=top",
        "started JOB=mid", "started JOB=top", "stopping JOB=top", "stopping JOB=mid",
        "stopped JOB=top", "stopping JOB=base", "stopped JOB=mid", "stopped JOB=base"]


def test_start_on_two_started_jobs():
    h = Harness(job("a"), job("b"), job("c", start_on="started a and started b"))
    h.start("a")
    assert h.status("c") == "stop/waiting"
    h.start("b")
    assert h.status("c") == "start/running"
    env = h.spawner.requests[-1].env
    assert "UPSTART_EVENTS=started started" in env and "JOB=b" in env


def test_stop_while_starting_050():
    h = Harness(job("svc"), job("pre", task=True, start_on="starting svc"))
    h.start("svc")
    out = h.stop("svc")
    assert h.replies(out) == [fx.Reply(1, "")]      # the start is answered
    assert h.status("svc") == "stop/starting"
    out = h.exit(h.pid("pre"), 0)
    assert h.replies(out) == [fx.Reply(2, None)]
    assert names(h)[-3:] == ["starting JOB=svc", "stopping JOB=svc", "stopped JOB=svc"]


def test_stop_from_pre_start_051():
    h = Harness(job("j", pre_start="p"))
    h.start("j")
    out = h.feed(h.engine.instance_stop("j", "", wait=False, token="in"))
    assert fx.Reply(1, "") in out and fx.Reply("in") in out
    assert h.status("j") == "stop/pre-start"
    h.exit(h.pid("j", slot="pre-start"), 0)
    assert [e[0] for e in h.events()] == ["starting", "stopping", "stopped"]
    assert not [r for r in h.spawner.requests if r.slot == "main"]


def test_start_from_pre_stop_052():
    h = Harness(job("j", pre_stop="p"))
    h.start("j")
    h.stop("j")
    out = h.feed(h.engine.instance_start("j", "", wait=False, token="in"))
    assert fx.Reply(2, None) in out
    assert h.status("j") == "start/pre-stop"
    h.exit(h.pid("j", slot="pre-stop"), 0)
    assert h.status("j") == "start/running"
    assert [e[0] for e in h.events()] == ["starting", "started"]


def test_start_during_post_stop_053():
    h = Harness(job("svc", post_stop="p"))
    h.start("svc")
    h.stop("svc")
    h.kill_ack("svc")
    assert h.status("svc") == "stop/post-stop"
    out = h.start("svc")
    assert fx.Reply(2, None) in out and h.status("svc") == "start/post-stop"
    out = h.exit(h.pid("svc", slot="post-stop"), 0)
    assert h.replies(out) == [fx.Reply(3, "")]
    assert [e[0] for e in h.events()] == ["starting", "started", "stopping", "starting",
                                          "started"]


def test_start_and_stop_on_same_event_022():
    h = Harness(job("svc", start_on="go", stop_on="go"))
    h.emit("go", "V=1")
    first = h.pid("svc")
    out = h.emit("go", "V=2")
    assert h.replies(out) == []
    out = h.kill_ack("svc")
    assert h.replies(out) == [fx.Reply(2)]
    assert h.pid("svc") != first
    assert "V=2" in h.spawner.requests[-1].env
    assert names(h) == ["starting JOB=svc", "go V=1", "started JOB=svc", "stopping JOB=svc",
                        "starting JOB=svc", "go V=2", "started JOB=svc"]


def test_start_condition_while_running_021():
    h = Harness(job("svc", start_on="go"))
    h.emit("go", "N=1")
    out = h.emit("go", "N=2")
    assert h.events(out) == [["go", "N=2"]] and h.replies(out) == [fx.Reply(2)]


def test_partial_match_does_not_hold_emitter_decision_a_020():
    h = Harness(job("j", task=True, start_on="a and ( b or c )"))
    assert h.replies(h.emit("a", "X=1")) == [fx.Reply(1)]
    h.emit("b", "Y=2")
    assert "UPSTART_EVENTS=a b" in h.spawner.requests[-1].env
    h.exit(h.pid("j"), 0)
    out = h.emit("c", "K=3")
    assert h.replies(out) == [fx.Reply(3)]           # 1.13 hung here
    h.emit("a", "X=4")
    env = h.spawner.requests[-1].env
    assert "UPSTART_EVENTS=a c" in env and "X=4" in env and "K=3" in env and "Y=2" not in env


def test_event_matching_transitioning_job_is_held_until_rest():
    h = Harness(job("svc", pre_start="p", start_on="go"))
    h.start("svc", wait=False)
    out = h.emit("go")
    assert h.replies(out) == []
    out = h.exit(h.pid("svc", slot="pre-start"), 0)
    assert h.replies(out) == [fx.Reply(2)]


def test_event_held_by_transitioning_job_gets_failed_flag():
    h = Harness(job("svc", pre_start="p", start_on="go"))
    h.start("svc", wait=False)
    h.emit("go")
    out = h.exit(h.pid("svc", slot="pre-start"), 1)
    assert fx.Reply(2, error=EVFAILED) in out


def test_instance_expansion_fails_on_event_107():
    h = Harness(job("i", task=True, instance="$N", start_on="ev"))
    out = h.emit("ev")
    assert h.events(out) == [["ev"]]
    assert h.logs("warn") == ["Failed to obtain i instance: Unknown parameter: N"]
    h.emit("ev", "N=ok")
    assert h.status("i", "ok") == "start/running"
    h.exit(h.pid("i", "ok"), 0)
    assert h.events()[-1] == ["ev", "N=ok"]


def test_expansion_failure_does_not_abort_other_classes_q3():
    h = Harness(job("a", task=True, instance="$N", start_on="ev"), job("b", start_on="ev"))
    h.emit("ev", wait=False)
    assert h.status("b") == "start/running"


def test_instances_from_events_105():
    h = Harness(job("i", instance="$DEV", start_on="add", stop_on="remove DEV=$DEV"))
    h.emit("add", "DEV=a")
    h.emit("add", "DEV=b")
    assert h.engine.instances("i") == ["a", "b"]
    h.emit("remove", "DEV=a", wait=False)
    assert h.status("i", "a") == "stop/stopping" or h.status("i", "a") == "stop/killed"
    assert h.status("i", "b") == "start/running"


def test_variable_in_start_on_never_matches_010():
    h = Harness(job("a", start_on="ev V=$V", env=["V=x"]),
                job("b", start_on="ev V=${V-x}"))
    h.emit("ev", "V=x")
    assert h.status("a") == "stop/waiting"
    assert h.status("b") == "start/running"


def test_variable_in_stop_on_uses_instance_env_011():
    h = Harness(job("s", start_on="up", stop_on="down IF=$IF"))
    h.emit("up", "IF=eth0")
    h.emit("down", "IF=eth1", wait=False)
    assert h.status("s") == "start/running"
    h.emit("down", "IF=eth0", wait=False)
    assert h.status("s") == "stop/killed"


def test_fd_event_closes_and_sets_upstart_fds():
    h = Harness(job("s", start_on="socket"))
    out = h.feed(h.engine.emit("socket", ["PORT=1"], wait=True, token="t", fd=7))
    assert "UPSTART_FDS=7" in h.spawner.requests[-1].env
    assert "UPSTART_FD=7" in h.spawner.requests[-1].env
    assert fx.CloseFd(7) in out and fx.Reply("t") in out


def test_two_fd_events_list_both_and_upstart_fd_is_the_first():
    h = Harness(job("s", start_on="socket PORT=1 and socket PORT=2"))
    h.feed(h.engine.emit("socket", ["PORT=1"], wait=False, token=None, fd=7))
    h.feed(h.engine.emit("socket", ["PORT=2"], wait=False, token=None, fd=8))
    env = h.spawner.requests[-1].env
    assert "UPSTART_FDS=7 8" in env and "UPSTART_FD=7" in env


def test_start_on_job_failure_028():
    h = Harness(job("f", pre_start="false"), job("g", task=True, start_on="stopped f RESULT=failed"))
    h.start("f")
    out = h.exit(h.pid("f", slot="pre-start"), 1)
    assert h.replies(out) == [fx.Reply(1, error=fx.upstart_error("JobFailed",
                                                                  "Job failed to start"))]
    env = h.spawner.requests[-1].env
    assert env[:6] == ("PATH=/bin", "JOB=f", "INSTANCE=", "RESULT=failed", "PROCESS=pre-start",
                       "EXIT_STATUS=1")
    h.exit(h.pid("g"), 0)
    assert names(h) == ["starting JOB=f", "stopping JOB=f", "starting JOB=g", "started JOB=g",
                        "stopping JOB=g", "stopped JOB=g", "stopped JOB=f"]


def test_env_tree_order_019():
    h = Harness(job("j", task=True, start_on="b and a"))
    h.emit("a", "K=from-a", "A=1", wait=False)
    h.emit("b", "K=from-b", "B=2")
    env = h.spawner.requests[-1].env
    assert env == ("PATH=/bin", "K=from-a", "B=2", "A=1", "UPSTART_EVENTS=b a",
                   "UPSTART_JOB=j", "UPSTART_INSTANCE=")


def test_reload_edited_running_job_087():
    h = Harness(job("v", env=["V=old"]))
    h.start("v")
    h.feed(h.engine.load({"v": job("v", env=["V=new"])}))
    h.restart("v")
    h.kill_ack("v")
    assert "V=old" in h.spawner.requests[-1].env
    h.stop("v")
    h.kill_ack("v")
    h.start("v")
    assert "V=new" in h.spawner.requests[-1].env


def test_no_deadlock_on_hook_cycles():
    h = Harness(job("a", start_on="starting b"), job("b", start_on="starting a"),
                job("s", stop_on="stopping s"))
    out = h.start("a")
    assert h.replies(out) == [fx.Reply(1, "")]
    assert h.status("a") == "start/running" and h.status("b") == "start/running"
    h.start("s")
    h.stop("s")
    out = h.kill_ack("s")
    assert h.replies(out) == [fx.Reply(3, None)] and h.status("s") == "stop/waiting"


def test_restart_of_job_stopping_on_its_own_stopping_does_not_deadlock():
    h = Harness(job("ca", stop_on="stopping ca"))
    h.start("ca")
    h.restart("ca", wait=False)
    h.kill_ack("ca")
    assert h.status("ca") == "stop/waiting"
    assert len(h.engine.queue) == 0


def test_jobs_react_to_one_event_in_job_name_then_instance_order_q1():
    """Q-1 decided (docs/design/events.md): whatever order the classes were
    loaded in, classes are visited by job name and instances by instance name."""
    h = Harness(job("zeta", start_on="go"), job("alpha", start_on="go"),
                job("mid", instance="$N", start_on="add", stop_on="go"))
    h.emit("add", "N=b", wait=False)
    h.emit("add", "N=a", wait=False)
    out = h.emit("go", wait=False)
    assert [e for e in names(h, out) if e.startswith(("starting", "stopping"))] == [
        "starting JOB=alpha", "stopping JOB=mid", "stopping JOB=mid", "starting JOB=zeta"]
    starts = [e for e in h.events(out) if e[0] in ("starting", "stopping")]
    assert [e[1:3] for e in starts] == [["JOB=alpha", "INSTANCE="], ["JOB=mid", "INSTANCE=a"],
                                        ["JOB=mid", "INSTANCE=b"], ["JOB=zeta", "INSTANCE="]]
