"""Upstart 1.13's serialised state to and from our engine snapshot (issue #22 items 1-2),
checked against every state recorded from the real Upstart 1.13.2."""

from __future__ import annotations

import json

import pytest
from golden_state import EXTRA, NAMES, confdir, differences, load, strip, tolerated

from upstart.compat import state113
from upstart.core.engine import Engine
from upstart.jobfile.conf import load_sources
from upstart.process.joblog import log_path


class Clock:
    def monotonic(self) -> float:
        return 100.0


def classes_of(name):
    return load_sources([str(confdir(name))]).classes


def restored(doc, classes):
    snap = state113.from_113(doc, classes)
    return Engine.restore(snap, Clock(), None, classes=classes, session_init=True, job_env=[],
                          init_env={})


def export(engine, conf):
    return state113.to_113(engine.snapshot(), sources=[(conf, "dir")], control_bus_address=None,
                           log_path=lambda job, inst: log_path("@DIR@/log", job, inst))


@pytest.mark.parametrize("name", NAMES)
def test_export_has_113s_shape_and_values(name):
    conf = str(confdir(name))
    doc = load(name, "@DIR@")
    engine = restored(doc, classes_of(name))
    ours = export(engine, conf)
    assert list(ours)[:6] == list(state113.TOP_KEYS) and EXTRA == state113.EXTRA
    gold = json.loads(json.dumps(doc).replace("@DIR@/conf", conf))
    ours = strip(ours)
    for d in (gold, ours):
        d["job_classes"].sort(key=lambda c: c["name"])
        for c in d["job_classes"]:
            c["jobs"].sort(key=lambda j: j["name"])
    # the sources are checked below: 1.13's hash order of conf files, and its
    # system init.conf (ours reads only the directory given)
    diffs = [p for p in differences(gold, ours) if not tolerated(p, also=("/conf_sources",))]
    assert diffs == []
    # every source and conf file is there, whatever the order
    files = sorted(f["path"] for s in ours["conf_sources"] for f in s["conf_files"])
    assert files == sorted(f["path"].replace("@DIR@/conf", conf)
                           for s in gold["conf_sources"] for f in s["conf_files"])


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_through_our_export_is_exact(name):
    classes = classes_of(name)
    engine = restored(load(name, "/t"), classes)
    again = restored(json.loads(json.dumps(export(engine, "/t/conf"))), classes)
    assert again.snapshot() == engine.snapshot()


def instances(engine):
    return {(n, i.name): i for n in engine.job_names()
            for i in engine.registry.entries[n].sorted_instances()}


def test_instances_env_and_latched_half_of_an_and():
    engine = restored(load("02-instances-env-latched", "/t"), classes_of("02-instances-env-latched"))
    got = instances(engine)
    assert sorted(got) == [("w", "1"), ("w", "2")]
    w1 = got[("w", "1")]
    assert (w1.goal, w1.state, w1.pids) == ("start", "running", {"main": 5014})
    assert w1.env[-3:] == ["X=1", "FOO=bar", "N=1"]
    assert engine.job_env[-1] == "X=1"
    leaves = engine.registry.entries["both"].start_on.leaves()
    assert [(leaf.value, leaf.event and leaf.event.env) for leaf in leaves] == [
        (True, ["A=1"]), (False, None)]
    # the emitter of `foo` is not held by the partial match (decision 07 §6)
    assert [(e.name, e.blockers) for e in engine.queue.events] == [("foo", 0)]


def test_a_latch_whose_event_has_finished_keeps_its_env_through_our_export():
    """Ours lets `foo` finish while `start on foo and bar` is half matched; our
    GetState then has no event to point the leaf at, and must still carry
    foo's environment, which the job gets when `bar` comes."""
    classes = classes_of("02-instances-env-latched")
    engine = restored(load("02-instances-env-latched", "/t"), classes)
    engine.emit("other", [], wait=False, token=None)       # the queue runs: foo finishes
    assert [e.name for e in engine.queue.events] == []
    doc = json.loads(json.dumps(export(engine, "/t/conf")))
    again = restored(doc, classes)
    leaves = again.registry.entries["both"].start_on.leaves()
    assert [(leaf.value, leaf.event and (leaf.event.name, leaf.event.env)) for leaf in leaves] \
        == [(True, ("foo", ["A=1"])), (False, None)]


def test_blocked_and_blocking_events():
    engine = restored(load("03-blocked-in-transition", "/t"),
                      classes_of("03-blocked-in-transition"))
    got = instances(engine)
    slow, after = got[("slow", "")], got[("after", "")]
    assert (slow.goal, slow.state, slow.pids) == ("start", "starting", {})
    assert slow.blocker.name == "starting" and [e.name for e in slow.blocking] == ["go"]
    assert [e.name for e in after.blocking] == ["starting"]
    assert [(e.name, e.progress, e.blockers) for e in engine.queue.events] == [
        ("go", "handling", 1), ("starting", "handling", 1)]
    assert engine.queue.events[1].blocking == [("job", slow)]


def test_class_gone_from_disk_and_changed_condition():
    doc = load("02-instances-env-latched", "/t")
    classes = classes_of("02-instances-env-latched")
    del classes["w"]
    from upstart.jobfile.model import Match
    classes["both"].start_on = Match("other")
    notes: list[str] = []
    snap = state113.from_113(doc, classes, notes=notes)
    assert "w" not in snap["classes"]
    assert notes == ["w: no longer configured, its instances are not supervised"]
    assert snap["classes"]["both"]["start_on"] is None      # latches of another tree dropped


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("job_classes"),
    lambda d: d.pop("job_environment"),
    lambda d: d.update(events="x"),
    lambda d: d["job_classes"][0]["jobs"][0].update(goal="JOB_SOMETIMES"),
    lambda d: d["job_classes"][0]["jobs"][0].update(state="JOB_DANCING"),
    lambda d: d["job_classes"][0]["jobs"][0].update(pid=["x"]),
    lambda d: d["job_classes"].append({"jobs": []}),
], ids=["no-classes", "no-env", "events", "goal", "state", "pid", "nameless"])
def test_damaged_documents_are_refused(damage):
    doc = load("01-one-running", "/t")
    damage(doc)
    with pytest.raises(state113.StateFormatError):
        state113.from_113(doc, classes_of("01-one-running"))
