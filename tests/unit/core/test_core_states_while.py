"""`while CONDITION` and named states in the engine (issue #7)."""

import pytest
from core_harness import Harness, cond, job

from upstart.core import effects as fx
from upstart.core.effects import ControlFailure
from upstart.core.engine import Engine


def seed():
    return Harness(job("bar"), job("baz"), job("foo", while_=cond("bar and baz")))


def errors(h, effects):
    return [r.error.message for r in h.replies(effects) if r.error is not None]


def test_seed_scenario_runs_exactly_while_bar_and_baz():
    h = seed()
    h.start("bar")
    assert h.status("foo") == "stop/waiting"
    h.start("baz")
    assert h.status("foo") == "start/running"
    first = h.pid("foo")
    h.stop("baz")
    assert h.status("foo") == "stop/killed"
    h.kill_ack("baz")
    h.kill_ack("foo")
    assert h.status("foo") == "stop/waiting"
    h.start("baz")
    assert h.status("foo") == "start/running"
    assert h.pid("foo") != first


def test_foo_gets_env_of_the_states_and_upstart_states():
    h = seed()
    h.start("bar")
    h.start("baz")
    req = [r for r in h.spawner.requests if r.job == "foo"][-1]
    assert "UPSTART_STATES=running running" in req.env
    assert "JOB=baz" in req.env


def test_condition_back_while_stopping_restarts():
    h = seed()
    h.start("bar")
    h.start("baz")
    first = h.pid("foo")
    h.stop("baz")
    h.kill_ack("baz")
    assert h.status("foo") == "stop/killed"
    h.start("baz")                   # holds again before foo finished stopping
    assert h.status("foo") == "start/killed"
    h.exit(first, None, 15)
    assert h.status("foo") == "start/running"
    assert h.pid("foo") != first


def test_manual_stop_keeps_job_down_until_condition_toggles():
    h = seed()
    h.start("bar")
    h.start("baz")
    h.stop("foo")
    h.kill_ack("foo")
    h.feed(h.engine.set_state("unrelated", []))       # a re-evaluation happens
    assert h.status("foo") == "stop/waiting"
    h.stop("bar")
    h.kill_ack("bar")
    h.start("bar")
    assert h.status("foo") == "start/running"


def test_start_refused_while_condition_false():
    h = seed()
    out = h.start("foo")
    assert errors(h, out) == ["Job cannot be started while its condition is false: foo"]
    assert h.status("foo") == "stop/waiting"


def test_failed_job_not_restarted_while_condition_holds():
    h = seed()
    h.start("bar")
    h.start("baz")
    h.exit(h.pid("foo"), 1)
    assert h.status("foo") == "stop/waiting"
    assert h.status("bar") == "start/running"


def test_start_on_gated_by_while():
    h = Harness(job("db"), job("app", start_on="go", while_=cond("db")))
    h.emit("go")
    assert h.status("app") == "stop/waiting"
    assert any("while condition does not hold" in m for m in h.logs())
    h.start("db")
    assert h.status("app") == "stop/waiting"       # the condition alone does not start it
    h.emit("go")
    assert h.status("app") == "start/running"
    h.stop("db")
    assert h.status("app") == "stop/killed"


def test_stop_on_combines_and_toggle_restarts():
    h = Harness(job("db"), job("app", stop_on="halt-app", while_=cond("db")))
    h.start("db")
    assert h.status("app") == "start/running"
    h.emit("halt-app")
    h.kill_ack("app")
    assert h.status("app") == "stop/waiting"             # stop on wins while db runs
    h.stop("db")
    h.kill_ack("db")
    h.start("db")                                        # the condition toggled
    assert h.status("app") == "start/running"


def test_external_states_and_list_states():
    h = Harness(job("web", while_=cond("net IFACE=eth*")))
    h.feed(h.engine.set_state("net", ["IFACE=lo"]))
    assert h.status("web") == "stop/waiting"
    h.feed(h.engine.set_state("net", ["IFACE=eth0"]))
    assert h.status("web") == "start/running"
    assert h.engine.list_states() == [
        ("net", ["IFACE=eth0"]), ("running", ["JOB=web", "INSTANCE="]),
        ("ready", ["JOB=web", "INSTANCE="])]
    h.feed(h.engine.clear_state("net"))
    assert h.status("web") == "stop/killed"
    assert any(isinstance(e, fx.Log) and e.message == "State net cleared" for e in h.log)


@pytest.mark.parametrize("call,args,text", [
    ("set_state", ("", []), "Name may not be empty string"),
    ("set_state", ("a b", []), "Illegal state name: a b"),
    ("set_state", ("running", []), "State is kept by jobs and cannot be changed: running"),
    ("set_state", ("ok", ["NOEQUALS"]), "Env must be KEY=VALUE pairs"),
    ("clear_state", ("nope",), "Unknown state: nope"),
])
def test_state_input_validation(call, args, text):
    h = Harness()
    with pytest.raises(ControlFailure) as err:
        getattr(h.engine, call)(*args)
    assert err.value.error.message == text


def test_while_instances_follow_job_instances():
    h = Harness(job("net", instance="$IFACE"),
                job("dhcp", instance="$INSTANCE", while_=cond("running net")))
    h.start("net", ["IFACE=eth0"])
    h.start("net", ["IFACE=eth1"])
    assert h.engine.instances("dhcp") == ["eth0", "eth1"]
    h.stop("net", ["IFACE=eth0"])
    assert h.status("dhcp", "eth0") == "stop/killed"
    assert h.status("dhcp", "eth1") == "start/running"


def test_load_evaluates_on_current_states_not_history():
    bar, baz = job("bar"), job("baz")
    h = Harness(bar, baz)
    h.start("bar")
    h.start("baz")
    h.feed(h.engine.load({"bar": bar, "baz": baz, "foo": job("foo", while_=cond("bar and baz"))}))
    assert h.status("foo") == "start/running"
    # an unchanged reload does not restart a job stopped by hand
    h.stop("foo")
    h.kill_ack("foo")
    h.feed(h.engine.load({"bar": bar, "baz": baz, "foo": job("foo", while_=cond("bar and baz"))}))
    assert h.status("foo") == "stop/waiting"


def test_history_does_not_count():
    """A state that was true and is false again starts nothing on load."""
    bar = job("bar")
    h = Harness(bar)
    h.start("bar")
    h.stop("bar")
    h.kill_ack("bar")
    h.feed(h.engine.load({"bar": bar, "foo": job("foo", while_=cond("bar"))}))
    assert h.status("foo") == "stop/waiting"


def test_snapshot_keeps_states_and_evaluation():
    h = seed()
    h.start("bar")
    h.start("baz")
    h.feed(h.engine.set_state("x", ["K=v"]))
    h.stop("foo")
    h.kill_ack("foo")
    snap = h.engine.snapshot()
    again = Engine.restore(snap, h.clock, h.spawner, session_init=True, job_env=["PATH=/bin"],
                           init_env={}, confirm_delay=0)
    assert ("x", ["K=v"]) in again.list_states()
    out = again.set_state("y", [])                       # re-evaluates: foo stays down
    assert not any(isinstance(e, fx.GoalChanged) for e in out)


def test_statistics_count_states_and_waiting_ready():
    h = Harness(job("r", ready=True, ready_on=cond("never")))
    h.feed(h.engine.set_state("a", []))
    h.start("r")
    stats = h.engine.statistics()
    assert stats["states"] == 1 and stats["waiting_ready"] == 1


def test_registry_indexes_while_classes_through_reloads():
    # a state change re-evaluates only the `while` classes, which the registry
    # keeps by name (no scan of every class)
    h = seed()
    assert h.engine.registry.while_jobs() == ["foo"]
    h.start("bar")
    h.start("baz")
    assert h.status("foo") == "start/running"
    h.feed(h.engine.load({"bar": job("bar"), "baz": job("baz"),
                          "foo": job("foo", while_=cond("bar and baz")),
                          "zed": job("zed", while_=cond("bar"))}))
    assert h.engine.registry.while_jobs() == ["foo", "zed"]
    assert h.status("zed") == "start/running"
    h.feed(h.engine.load({"bar": job("bar"), "baz": job("baz"), "zed": job("zed")}))
    assert h.engine.registry.while_jobs() == ["foo", "zed"]   # running: old classes kept
    h.stop("bar")
    h.kill_ack("bar")
    h.kill_ack("foo")                                    # their conditions no longer hold
    h.kill_ack("zed")
    assert h.engine.registry.get("foo") is None and h.status("zed") == "stop/waiting"
    assert h.engine.registry.while_jobs() == []          # foo deleted, zed without while
