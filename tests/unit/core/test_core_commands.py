"""Control commands, their errors, instances, environment and reload rules."""

import pytest
from core_harness import Harness, job

from upstart.core import effects as fx
from upstart.core.effects import ControlFailure


def err(kind, text):
    return fx.upstart_error(kind, text)


def inv(text):
    return fx.ControlError(fx.INVALID_ARGS, text)


def only_reply(out):
    replies = [e for e in out if isinstance(e, fx.Reply)]
    assert len(replies) == 1
    return replies[0]


def test_job_errors_099():
    h = Harness(job("svc"), job("idle"))
    assert only_reply(h.start("nosuch")).error == err("UnknownJob", "Unknown job: nosuch")
    assert only_reply(h.stop("nosuch")).error == err("UnknownJob", "Unknown job: nosuch")
    h.start("svc")
    assert only_reply(h.start("svc")).error == err("AlreadyStarted", "Job is already running: svc")
    assert only_reply(h.stop("idle")).error == err("UnknownInstance", "Unknown instance: ")
    assert only_reply(h.start("idle", ["NOTKV"])).error == inv("Env must be KEY=VALUE pairs")
    assert only_reply(h.stop("svc", ["NOTKV"])).error == inv("Env must be KEY=VALUE pairs")
    assert only_reply(h.start("")).error == inv("Name may not be empty string")
    with pytest.raises(ControlFailure) as e:
        h.engine.get_instance("svc", ["NOTKV"])
    assert e.value.error == inv("Env must be KEY=VALUE pairs")
    assert h.engine.get_instance("svc", ["X=1"]) == ""
    with pytest.raises(ControlFailure) as e:
        h.engine.get_class("nosuch")
    assert e.value.error == err("UnknownJob", "Unknown job: nosuch")


def test_already_stopped_while_stopping():
    h = Harness(job("svc"))
    h.start("svc")
    h.stop("svc", wait=False)
    assert only_reply(h.stop("svc")).error == err("AlreadyStopped",
                                                  "Job has already been stopped: svc")


def test_restart_errors_076():
    h = Harness(job("svc"), job("i", instance="$N"))
    assert only_reply(h.restart("svc")).error == err("UnknownInstance", "Unknown instance: ")
    assert only_reply(h.restart("nosuch")).error == err("UnknownJob", "Unknown job: nosuch")
    h.start("i", ["N=a"])
    h.stop("i", ["N=a"], wait=False)
    out = h.restart("i", ["N=a"])
    # quirk: the message names the instance only
    assert only_reply(out).error == err("AlreadyStopped", "Job has already been stopped: a")


def test_restart_service_074():
    h = Harness(job("svc", pre_start="p", post_stop="q"))
    h.start("svc")
    h.exit(h.pid("svc", slot="pre-start"), 0)
    first = h.pid("svc")
    out = h.restart("svc")
    assert h.replies(out) == []
    h.kill_ack("svc")
    h.exit(h.pid("svc", slot="post-stop"), 0)
    out = h.exit(h.pid("svc", slot="pre-start"), 0)
    assert h.replies(out) == [fx.Reply(2, "")]
    assert h.pid("svc") != first
    assert [e[0] for e in h.events()] == ["starting", "started", "stopping", "starting",
                                          "started"]


def test_restart_with_pre_stop_quirk_075():
    h = Harness(job("svc", pre_stop="p"))
    h.start("svc")
    first = h.pid("svc")
    h.restart("svc")
    assert h.status("svc") == "start/pre-stop"
    out = h.exit(h.pid("svc", slot="pre-stop"), 0)
    assert h.replies(out) == [fx.Reply(2, "")]
    assert h.pid("svc") == first
    assert [e[0] for e in h.events()] == ["starting", "started"]


def test_instances_104():
    h = Harness(job("inst", instance="$N"))
    assert only_reply(h.start("inst")).error == inv("Unknown parameter: N")
    assert only_reply(h.start("inst", ["N=a"])) == fx.Reply(2, "a")
    assert only_reply(h.start("inst", ["N=a"])).error == err(
        "AlreadyStarted", "Job is already running: inst (a)")
    h.start("inst", ["N=b"])
    assert h.engine.instances("inst") == ["a", "b"]
    assert h.engine.get_instance("inst", ["N=a"]) == "a"
    with pytest.raises(ControlFailure) as e:
        h.engine.get_instance("inst", ["N=c"])
    assert e.value.error == err("UnknownInstance", "Unknown instance: c")
    with pytest.raises(ControlFailure) as e:
        h.engine.get_instance("inst", [])
    assert e.value.error == inv("Unknown parameter: N")
    assert only_reply(h.stop("inst", ["N=c"])).error == err("UnknownInstance", "Unknown instance: c")
    added = [e for e in h.log if isinstance(e, fx.InstanceAdded)]
    assert added == [fx.InstanceAdded("inst", "a"), fx.InstanceAdded("inst", "b")]
    h.stop("inst", ["N=a"])
    out = h.kill_ack("inst", "a")
    assert fx.InstanceRemoved("inst", "a") in out
    assert h.logs("warn")[-1].startswith("inst (a) main process (")


def test_usage_is_appended_to_start_expansion_errors():
    h = Harness(job("u", instance="$N", usage="u N=x"))
    assert only_reply(h.start("u")).error == inv("Unknown parameter: N\nUsage: u N=x")
    assert only_reply(h.stop("u")).error == inv("Unknown parameter: N")


def test_instance_name_forms_106():
    h = Harness(job("dflt", instance="${N:-dflt}"), job("two", instance="$A-$B"))
    assert only_reply(h.start("dflt")).value == "dflt"
    assert only_reply(h.start("dflt", ["N="])).error == err(
        "AlreadyStarted", "Job is already running: dflt (dflt)")
    assert only_reply(h.start("two", ["A=x", "B=y"])).value == "x-y"


def test_env_precedence_024_and_forced_vars_026():
    h = Harness(job("e", task=True, start_on="ev", env=["A=stanza", "B=stanza", "C=stanza",
                                                         "UPSTART_JOB=fake"]),
                session_address="unix:abstract=/x", job_env=["PATH=/bin", "A=table"])
    h.emit("ev", "TAG=from-event", "B=event", "C=event", wait=False)
    env = h.spawner.requests[-1].env
    assert env == ("PATH=/bin", "A=stanza", "B=event", "C=event", "UPSTART_JOB=e",
                   "TAG=from-event", "UPSTART_EVENTS=ev", "UPSTART_INSTANCE=",
                   "UPSTART_SESSION=unix:abstract=/x")
    h.exit(h.pid("e"), 0)
    h.start("e", ["TAG=from-start", "C=start", "D=start"], wait=False)
    env = dict(x.split("=", 1) for x in h.spawner.requests[-1].env)
    assert env["B"] == "stanza" and env["C"] == "start" and env["D"] == "start"
    assert "UPSTART_EVENTS" not in env


def test_env_key_from_init_env_027():
    h = Harness(job("k", env=["HAVE", "MISSING"]), init_env={"HAVE": "yes"})
    h.start("k")
    env = h.spawner.requests[-1].env
    assert "HAVE=yes" in env and not any(e.startswith("MISSING") for e in env)


def test_export_into_job_events_029():
    h = Harness(job("x", start_on="ev", env=["FOO=bar", "JOB=fake"],
                    export=["FOO", "MISSING", "JOB", "WHO"]))
    h.emit("ev", "WHO=me")
    assert h.events()[0] == ["starting", "JOB=x", "INSTANCE=", "FOO=bar", "WHO=me"]


def test_stop_environment_030():
    h = Harness(job("ev", start_on="begin", stop_on="end", pre_stop="a", post_stop="b"),
                job("cmd", pre_stop="a", post_stop="b"))
    h.emit("begin", "B=1")
    h.emit("end", "E=2", wait=False)
    pre_stop = h.spawner.requests[-1]
    assert pre_stop.slot == "pre-stop"
    assert "E=2" in pre_stop.env and "UPSTART_STOP_EVENTS=end" in pre_stop.env
    assert "UPSTART_EVENTS=begin" in pre_stop.env
    h.start("cmd", ["S=1"])
    h.stop("cmd", ["S=2", "T=3"], wait=False)
    env = h.spawner.requests[-1].env
    assert "S=2" in env and "T=3" in env and not any("STOP_EVENTS" in e for e in env)
    main_env = [r for r in h.spawner.requests if r.job == "cmd" and r.slot == "main"][0].env
    assert "S=1" in main_env and "T=3" not in main_env


def test_env_table_commands():
    h = Harness(job("j", pre_start="p"))
    eng = h.engine
    eng.env_set([], ["X=1", "Y"], True)
    assert eng.env_get([], "Y") == ""
    eng.env_set([], ["X=2"], False)
    assert eng.env_get([], "X") == "1"
    with pytest.raises(ControlFailure) as e:
        eng.env_get([], "NOPE")
    assert e.value.error == inv("No such variable: NOPE")
    with pytest.raises(ControlFailure) as e:
        eng.env_get([], "")
    assert e.value.error == inv("Variable may not be empty string")
    eng.env_unset([], ["X", "UNSET"])
    assert eng.env_list([]) == ["PATH=/bin", "Y="]
    eng.env_reset([])
    assert eng.env_list([]) == ["PATH=/bin"]
    h.start("j", wait=False)
    eng.env_set(["j", ""], ["INNER=1"], True)        # 032: set from inside pre-start
    h.exit(h.pid("j", slot="pre-start"), 0)
    assert "INNER=1" in h.spawner.requests[-1].env
    with pytest.raises(ControlFailure) as e:
        eng.env_list(["nosuch", ""])
    assert e.value.error == err("UnknownJob", "Unknown job: nosuch")
    with pytest.raises(ControlFailure) as e:
        eng.env_list(["j", "zz"])
    assert e.value.error == err("UnknownJobInstance", "Unknown instance: zz of job j")


def test_env_changes_refused_on_pid1():
    h = Harness()
    h.engine.session_init = False
    with pytest.raises(ControlFailure) as e:
        h.engine.env_set([], ["A=1"], True)
    assert e.value.error == err("PermissionDenied", "Not permissible to modify PID 1 job environment")
    assert h.engine.env_list([]) == ["PATH=/bin"]


def test_reload_keeps_running_class_and_latch_087_023():
    h = Harness(job("svc", start_on="a and b"), job("idle", start_on="x"))
    h.emit("a")
    out = h.feed(h.engine.load({"svc": job("svc", start_on="a and b"),
                                "idle": job("idle", start_on="y")}))
    assert fx.JobRemoved("idle") in out and fx.JobAdded("idle") in out
    assert fx.JobAdded("svc") not in out
    h.emit("b")
    assert h.status("svc") == "start/running"
    # edit while running: old class keeps serving until the instance stops
    h.feed(h.engine.load({"svc": job("svc", main="new", start_on="a and b"),
                          "idle": job("idle", start_on="y")}))
    assert h.engine.get_class("svc").process["main"].command == "sleep"
    h.stop("svc")
    out = h.kill_ack("svc")
    assert fx.JobRemoved("svc") in out and fx.JobAdded("svc") in out
    assert h.engine.get_class("svc").process["main"].command == "new"


def test_deleted_while_running_089():
    h = Harness(job("svc"))
    h.start("svc")
    out = h.feed(h.engine.load({}))
    assert fx.JobRemoved("svc") not in out
    assert h.engine.job_names() == ["svc"]
    h.stop("svc")
    out = h.kill_ack("svc")
    assert fx.JobRemoved("svc") in out
    assert h.engine.job_names() == []


def test_statistics_and_snapshot_roundtrip():
    from core_harness import FakeClock, FakeSpawner

    from upstart.core.engine import Engine
    classes = {"svc": job("svc", start_on="a and b", stop_on="z"), "t": job("t", pre_start="p")}
    h = Harness(*classes.values())
    h.emit("a")
    h.start("svc")
    h.start("t", wait=False)
    stats = h.engine.statistics()
    assert stats["classes"] == 2 and stats["instances"] == 2
    assert stats["jobs"]["svc"] == {"starts": 1, "failures": 0, "respawns": 0, "died": 0}
    assert stats["events_queued"] == 0 and stats["events_handled"] > 0
    snap = h.engine.snapshot()
    import json
    snap = json.loads(json.dumps(snap))
    eng = Engine.restore(snap, FakeClock(), FakeSpawner(), classes=classes, session_init=True,
                         init_env={}, confirm_delay=0)
    assert eng.instance_info("svc", "") == h.engine.instance_info("svc", "")
    assert eng.snapshot() == snap
    # processes and latches survived the round trip
    out = eng.process_exited(h.pid("t", slot="pre-start"), 0, None)
    assert any(isinstance(e, fx.StateChanged) and e.state == "running" for e in out)
    assert eng.registry.get("svc").start_on.leaves()[0].value is True


def test_restore_without_classes_uses_snapshot_classes_and_rearms_timers():
    import json

    from core_harness import FakeClock, FakeSpawner

    from upstart.core.engine import Engine
    from upstart.core.snapshot import class_from_json, class_to_json
    full = job("svc", start_on="a and (b or c)", stop_on="z X=1", normal_exit=[1, 15 << 8],
               limits={"nofile": (10, None)}, respawn_delay=(1.0, 2.0, 2.0), kill_timeout=3)
    assert class_from_json(json.loads(json.dumps(class_to_json(full)))) == full
    h = Harness(full)
    h.start("svc")
    h.stop("svc", wait=False)
    snap = json.loads(json.dumps(h.engine.snapshot()))
    eng = Engine.restore(snap, FakeClock(), FakeSpawner(), session_init=True,
                         job_env=["PATH=/bin"], init_env={}, confirm_delay=0)
    assert eng.get_class("svc") == full
    assert eng.resume_effects() == [fx.SetTimer(("svc", "", "kill"), 3)]
    assert eng.load({"svc": full}) == []            # same class: nothing changes
    out = eng.process_exited(h.pid("svc"), None, 15)
    assert fx.EventEmitted("stopped", ("JOB=svc", "INSTANCE=", "RESULT=ok")) in out


def test_global_set_env_from_pre_start_reaches_main_032():
    h = Harness(job("j", pre_start="p", task=True, env=["A=stanza"]), job_env=["PATH=/bin", "A=t"])
    h.start("j")
    h.engine.env_set([], ["GLOBAL=g", "A=changed"], True)
    h.engine.env_set(["j", ""], ["INNER=i"], True)
    h.exit(h.pid("j", slot="pre-start"), 0)
    env = h.spawner.requests[-1].env
    assert env[:2] == ("PATH=/bin", "A=stanza")
    assert "GLOBAL=g" in env and "INNER=i" in env


def test_cgroup_gate_holds_jobs_until_manager_ready():
    from upstart.jobfile.model import CGroup
    h = Harness(job("cg", start_on="a and b", cgroups=[CGroup("cpu")]), job("plain", start_on="a"))
    h.engine.cgroup_gate = True
    out = h.start("cg")
    assert only_reply(out).error == err(
        "CGroupManagerNotAvailable", "Job cannot be started as cgroup manager not available: cg")
    h.emit("a", "X=1")
    assert h.status("plain") == "start/running"          # other classes are not held
    h.emit("b")
    assert h.status("cg") == "stop/waiting"
    out = h.feed(h.engine.cgroup_manager_ready())
    assert h.status("cg") == "start/running"
    assert "X=1" in h.spawner.requests[-1].env
    assert only_reply(h.start("cg")).error.name.endswith("AlreadyStarted")
