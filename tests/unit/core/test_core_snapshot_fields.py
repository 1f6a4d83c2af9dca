"""Snapshot/restore is generated from the record fields (core/snapshot.py):
every field of `Instance` and `ClassEntry`, set to a value unlike its default,
comes back equal after a JSON round trip, so a field added later is never
silently lost on re-exec (this test fails for a field the codec cannot carry)."""

from __future__ import annotations

import json

from core_harness import FakeClock, FakeSpawner, Harness, job

from upstart.core.engine import Engine
from upstart.core.job import Instance
from upstart.core.registry import ClassEntry
from upstart.records import Field, fields

# written by hand in snapshot.py (operator trees, events, the record keys)
HAND_WRITTEN = {"entry", "name", "stop_on", "ready_on", "blocker", "blocking",
                "job_class", "instances", "pending", "start_on"}


def _unlike(field: Field, now):
    """A JSON-able value of the field's type that is not its current value."""
    kind = str(field.type)
    if isinstance(now, bool) or kind == "bool":
        return not now
    if field.name == "pids":
        return {"main": 4242, "post-start": 4343}
    if isinstance(now, set) or kind.startswith("set"):
        return {"a", "b"}
    if isinstance(now, dict) or kind.startswith("dict"):
        return {"k1": 3, "k2": 5}
    if isinstance(now, list) or kind.startswith("list"):
        return ["X=1", "Y=2"]
    if "float" in kind:
        return 12.5
    if "int" in kind:
        return 31
    if "str" in kind:
        return "value-" + field.name
    raise AssertionError(f"snapshot test does not know how to fill {field.name}: {kind}")


def _fill(obj) -> dict[str, object]:
    want = {}
    for f in fields(obj):
        if f.name in HAND_WRITTEN:
            continue
        value = _unlike(f, getattr(obj, f.name))
        setattr(obj, f.name, value)
        want[f.name] = value
    return want


def test_every_field_of_an_instance_and_its_class_survives_a_round_trip():
    h = Harness(job("svc"))
    h.start("svc")
    inst = h.engine.registry.get("svc").instances[""]
    entry = inst.entry
    pid = inst.pid("main")
    want_inst = _fill(inst)
    want_entry = _fill(entry)
    snap = json.loads(json.dumps(h.engine.snapshot()))
    eng = Engine.restore(snap, FakeClock(), FakeSpawner(), session_init=True,
                         job_env=[], init_env={}, confirm_delay=0)
    got_entry = eng.registry.get("svc")
    got = got_entry.instances[""]
    for name, value in want_inst.items():
        assert getattr(got, name) == value, f"Instance.{name} lost on restore"
    for name, value in want_entry.items():
        assert getattr(got_entry, name) == value, f"ClassEntry.{name} lost on restore"
    assert pid not in eng._pids and eng._pids[4242] == (got, "main")
    # the field lists are the records' own: nothing is named twice
    assert set(want_inst) | HAND_WRITTEN >= {f.name for f in fields(Instance)}
    assert set(want_entry) | HAND_WRITTEN >= {f.name for f in fields(ClassEntry)}


def test_a_snapshot_of_an_older_version_without_new_fields_still_restores():
    h = Harness(job("svc"))
    h.start("svc")
    snap = json.loads(json.dumps(h.engine.snapshot()))
    record = snap["classes"]["svc"]["instances"][""]
    for key in ("backoff_due", "notify_status", "ready_timer", "run_since"):
        del record[key]                      # an init from before these existed
    eng = Engine.restore(snap, FakeClock(), FakeSpawner(), session_init=True,
                         job_env=[], init_env={}, confirm_delay=0)
    got = eng.registry.get("svc").instances[""]
    assert got.state == "running" and got.goal == "start" and got.backoff_due is None
