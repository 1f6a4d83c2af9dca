"""The `while` planner and the job-derived states (upstart/states/plan.py,
derive.py), on plain data: no engine."""

from __future__ import annotations

from upstart.jobfile.conditions import parse_condition
from upstart.jobfile.lexer import Scanner
from upstart.states.derive import JobView, job_states
from upstart.states.model import State
from upstart.states.plan import Start, Stop, WhileJob, plan_whiles, wanted


def cond(text: str):
    return parse_condition(Scanner(text + "\n"))


def running(job: str, inst: str = "") -> State:
    return State("running", (f"JOB={job}", f"INSTANCE={inst}"))


def test_job_states_running_then_ready_with_exported_vars():
    views = [JobView("a", "", "running", True, ("X=1", "Y=2"), ("X",)),
             JobView("b", "i", "pre-stop", False),
             JobView("c", "", "starting", True)]
    assert job_states(views) == [
        State("running", ("JOB=a", "INSTANCE=", "X=1")), State("running", ("JOB=b", "INSTANCE=i")),
        State("ready", ("JOB=a", "INSTANCE=", "X=1"))]


def test_wanted_names_instances_from_the_witnesses():
    states = [State("net", ("IFACE=eth0",)), running("bar")]
    got = wanted(cond("net and bar"), "$IFACE", ("PATH=/bin",), states)
    assert list(got) == ["eth0"]
    assert got["eth0"][:2] == ["PATH=/bin", "IFACE=eth0"]
    assert got["eth0"][-1] == "UPSTART_STATES=net running"
    assert wanted(cond("net and bar"), "$NOPE", (), states) == {}   # does not expand


def test_plan_level_stop_edge_start_and_gate():
    states = [running("bar")]
    jobs = [
        # condition holds, was not held: start (edge)
        WhileJob("new", cond("bar"), "", (), frozenset(), {}),
        # held before: an operator's stop stands
        WhileJob("old", cond("bar"), "", (), frozenset({""}), {"": "stop"}),
        # condition false: its running instance stops (level)
        WhileJob("gone", cond("baz"), "", (), frozenset({""}), {"": "start"}),
        # with `start on`: never started here
        WhileJob("gated", cond("bar"), "", (), frozenset(), {}, gate=True),
        # already going: not started twice
        WhileJob("going", cond("bar"), "", (), frozenset(), {"": "start"}),
    ]
    plan = plan_whiles(jobs, states)
    assert [s[:2] for s in plan.start] == [("new", "")]
    assert isinstance(plan.start[0], Start) and plan.stop == [Stop("gone", "")]
    assert plan.held == {"new": frozenset({""}), "old": frozenset({""}), "gone": frozenset(),
                         "gated": frozenset({""}), "going": frozenset({""})}
    start, stop, _held = plan                # the plan is a plain tuple
    assert start == plan.start and stop == plan.stop
