"""`initctl why` for `while` jobs (issue #26 item 2) on a real engine and
recorder: the states that moved the job, by whom, and the leaves now."""

from __future__ import annotations

from observe_harness import Observed, job

from upstart.jobfile.parser import parse_job
from upstart.observe.why import explain, render, while_story
from upstart.states.model import State


def why(h: Observed, name: str) -> str:
    eng = h.engine
    condition = eng.get_class(name).while_
    states = [State(n, tuple(e)) for n, e in eng.list_states()]
    if not eng.instances(name):
        return render({"text": f"{name}: not running",
                       "children": while_story(h.rec, None, name, "", None, condition, states)})
    goal = eng.instance_info(name, "")[0]
    env = list(eng.env_list([name, ""]))
    return render(explain(h.rec, name, "", goal, env, {}, (condition, states)))


def command(h: Observed, verb: str, name: str) -> None:
    h.rec.command({"type": "command", "command": verb, "uid": 0, "pid": 77,
                   "cmd": f"initctl {verb} {name}"})


def test_a_leaf_that_left_and_came_back_is_named_with_its_cause():
    h = Observed(job("bar"), job("baz"), parse_job("while bar and baz\nexec sleep 1\n", "fw"))
    h.start("bar")
    h.start("baz")
    command(h, "restart", "bar")
    h.restart("bar", wait=False)
    h.kill_ack("bar")                       # bar's main dies of the kill signal
    text = why(h, "fw")
    assert text.splitlines()[:5] == [
        "fw: goal start",
        "  its `while` condition holds again",
        "    bar came back (running JOB=bar INSTANCE= opened)",
        "      bar: goal start",
        "        asked for by `initctl restart` (uid 0, pid 77: initctl restart bar)"]
    assert "    bar left (running JOB=bar INSTANCE= closed)\n" \
           "      asked for by `initctl restart` (uid 0, pid 77: initctl restart bar)" in text
    assert "  the condition now: bar and baz: holds\n    bar: holds since " in text
    assert "its process ended" not in text


def test_a_stopped_while_job_names_the_event_that_closed_its_state():
    decl = "state fs on filesystem\nstate fs until runlevel [06]\n"
    h = Observed(parse_job(decl + "while fs\nexec sleep 1\n", "w"))
    h.emit_by("filesystem")
    h.emit_by("runlevel", "RUNLEVEL=6", cmd="initctl emit runlevel RUNLEVEL=6")
    h.kill_ack("w")
    text = why(h, "w")
    assert "    state fs closed\n      by event runlevel RUNLEVEL=6 (event #" in text, text
    assert "emitted by `initctl emit` (uid 1000, pid 4242: initctl emit runlevel RUNLEVEL=6)" \
        in text
    assert text.endswith("  the condition now: fs: does not hold\n    fs: does not hold")


def test_a_leaf_not_holding_is_said_so():
    h = Observed(job("bar"), parse_job("while bar or baz\nexec sleep 1\n", "fw"))
    h.start("bar")
    text = why(h, "fw")
    assert "    baz: does not hold" in text and "  the condition now: bar or baz: holds" in text
    assert "it held when the job was loaded" not in text
