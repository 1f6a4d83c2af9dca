"""Serialising an engine's whole runtime state, for a stateful re-exec.

`take(engine)` returns a JSON-able dict: the job environment table, the
queue (events with progress, blockers, failed flag, fd), every registered
class (its latched `start on` leaves and every other `ClassEntry` field) and
every instance (every `Instance` field: goal, state, envs, pids, failure
record, respawn window, timers, readiness, latched `stop on` leaves, its
blocker and the events it holds). Events are referred to by id. The
instance and class records are generated from the dataclass fields; only the
fields that are not plain data (operator trees, events) are written by hand.

`restore(...)` rebuilds an engine from such a dict and the job classes
(which the new process re-parses; they are not in the snapshot). Control
requests waiting for replies are not carried over: a re-exec drops every
connection. This module never performs I/O; the shell writes the dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upstart.core.event import Event
from upstart.core.job import Instance, Waiter
from upstart.core.operator import Operator
from upstart.states.model import StateTable
from upstart.jobfile.model import CGroup, JobClass, Match, Op, Process, StateDecl
from upstart.records import fields

if TYPE_CHECKING:
    from upstart.core.engine import Engine

VERSION = 1


def _latch(oper: Operator | None) -> list[Any] | None:
    if oper is None:
        return None
    return [leaf.event.id if leaf.value and leaf.event else None for leaf in oper.leaves()] + [
        [leaf.event.name, list(leaf.event.env)] if leaf.value and leaf.event else None
        for leaf in oper.leaves()
    ]


def _expr_out(expr: Any) -> Any:
    if expr is None:
        return None
    if isinstance(expr, Match):
        return {"match": expr.name, "args": list(expr.args)}
    return {"op": expr.kind, "left": _expr_out(expr.left), "right": _expr_out(expr.right)}


def _expr_in(data: Any) -> Any:
    if data is None:
        return None
    if "match" in data:
        return Match(data["match"], tuple(data["args"]))
    return Op(data["op"], _expr_in(data["left"]), _expr_in(data["right"]))


_EXPR_FIELDS = ("start_on", "stop_on", "while_", "ready_on")


def class_to_json(jc: JobClass) -> dict[str, Any]:
    """A JobClass as plain JSON data (exactly invertible by class_from_json)."""
    out: dict[str, Any] = {}
    for f in fields(jc):
        value = getattr(jc, f.name)
        if f.name in _EXPR_FIELDS:
            value = _expr_out(value)
        elif f.name == "process":
            value = {k: [p.script, p.command] for k, p in value.items()}
        elif f.name == "cgroups":
            value = [[c.controller, c.name, c.key, c.value] for c in value]
        elif f.name == "limits":
            value = {k: list(v) for k, v in value.items()}
        elif f.name == "states":
            value = [[d.name, list(d.keys), _expr_out(d.on), _expr_out(d.until), d.line]
                     for d in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, list):
            value = list(value)
        out[f.name] = value
    return out


def class_from_json(data: dict[str, Any]) -> JobClass:
    kwargs: dict[str, Any] = {}
    names = {f.name for f in fields(JobClass)}   # known before any JobClass is made
    for key, value in data.items():
        if key not in names:
            continue
        if key in _EXPR_FIELDS:
            value = _expr_in(value)
        elif key == "process":
            value = {k: Process(bool(v[0]), v[1]) for k, v in value.items()}
        elif key == "cgroups":
            value = [CGroup(*c) for c in value]
        elif key == "limits":
            value = {k: tuple(v) for k, v in value.items()}
        elif key == "states":
            value = [StateDecl(n, tuple(k), _expr_in(on), _expr_in(until), line)
                     for n, k, on, until, line in value]
        elif key == "respawn_delay" and value is not None:
            value = tuple(value)
        kwargs[key] = value
    return JobClass(**kwargs)


# Fields of `Instance` and `ClassEntry` that are not plain JSON data: how each
# is written (`_OUT`) and read back (`_IN`). Every other dataclass field is
# written under its own name and read back with the type of its default, so
# a field added later is carried over a re-exec without a line here
# (tests/unit/core/test_core_snapshot_fields.py checks it).
_INSTANCE_SKIP = ("entry", "name")                 # the keys of the snapshot itself
_ENTRY_SKIP = ("job_class", "instances", "pending")   # written apart / re-parsed


def _instance_out(inst: Instance) -> dict[str, Any]:
    special = {
        "stop_on": _latch(inst.stop_on),
        "ready_on": _latch(inst.ready_on),
        "waiting_ready": inst.ready_on is not None,
        "blocker": inst.blocker.id if inst.blocker else None,
        "blocking": [b.id for b in inst.blocking if isinstance(b, Event)],
    }
    return _fields_out(inst, _INSTANCE_SKIP, special)


def _fields_out(obj: Any, skip: tuple[str, ...], special: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        if f.name in skip:
            continue
        if f.name in special:
            out[f.name] = special[f.name]
            continue
        value = getattr(obj, f.name)
        if isinstance(value, (set, frozenset)):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        elif isinstance(value, list):
            value = list(value)
        out[f.name] = value
    out.update((k, v) for k, v in special.items() if k not in out)
    return out


def _fields_in(obj: Any, data: dict[str, Any], skip: tuple[str, ...]) -> None:
    """Set every plain field of `obj` present in `data`, with the type of the
    value it has now (its default)."""
    for f in fields(obj):
        if f.name in skip or f.name not in data:
            continue
        value, now = data[f.name], getattr(obj, f.name)
        if isinstance(now, (set, frozenset)):
            value = type(now)(value)
        elif isinstance(now, tuple) and value is not None:
            value = tuple(value)
        elif isinstance(now, float) and value is not None:
            value = float(value)
        elif isinstance(now, bool):
            value = bool(value)
        elif isinstance(now, int) and value is not None:
            value = int(value)
        elif isinstance(now, dict) and f.name == "pids":
            value = {k: int(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = list(value)
        setattr(obj, f.name, value)


def take(engine: Engine) -> dict[str, Any]:
    classes: dict[str, Any] = {}
    for name in engine.registry.names():
        entry = engine.registry.entries[name]
        instances = {inst.name: _instance_out(inst) for inst in entry.sorted_instances()}
        classes[name] = _fields_out(entry, _ENTRY_SKIP, {"start_on": _latch(entry.start_on)})
        classes[name]["instances"] = instances
        classes[name]["class"] = class_to_json(entry.job_class)
    events = []
    for ev in engine.queue.events:
        item = ev.to_json()
        item["blocking"] = [[kind, [obj.job, obj.name]] for kind, obj in ev.blocking if kind == "job"]
        events.append(item)
    return {
        "version": VERSION,
        "job_env": list(engine.job_env),
        "next_event_id": engine.queue._next_id,
        "events": events,
        "classes": classes,
        "respawn_disabled": engine.respawn_disabled,
        "cgroup_held": sorted(engine._cgroup_held),
        "states": engine.states.to_json(),
        # states opened by events (`state` declarations) and their latches
        "opened_states": engine.states.opened_json(),
        "state_on": {name: _latch(d.on) for name, d in sorted(engine._state_decls.items())},
        "state_until": [[name, list(ident), _latch(oper)]
                        for (name, ident), oper in sorted(engine._state_until.items())],
        "confirmations": [[i.job, i.name, slot, pid, error]
                          for i, slot, pid, error in engine._confirm],
    }


def _restore_latch(oper: Operator | None, data: list[Any] | None, events: dict[int, Event]) -> None:
    if oper is None or not data:
        return
    leaves = oper.leaves()
    if len(data) != 2 * len(leaves):
        return
    ids, copies = data[:len(leaves)], data[len(leaves):]
    for leaf, ev_id, copy in zip(leaves, ids, copies):
        if copy is None:
            continue
        leaf.value = True
        leaf.event = events.get(ev_id) if ev_id is not None else None
        if leaf.event is None:
            leaf.event = Event(copy[0], list(copy[1]), id=ev_id or 0, progress="finished")
    oper._update_all()


def restore(cls: type[Engine], snap: dict[str, Any], clock: Any, spawner: Any, *,
            classes: dict[str, Any] | None = None, **kwargs: Any) -> Engine:
    kwargs.setdefault("job_env", snap.get("job_env", []))
    engine = cls(clock, spawner, **kwargs)
    engine.job_env = list(snap.get("job_env", engine.job_env))
    if classes is None:
        classes = {name: class_from_json(c["class"])
                   for name, c in snap.get("classes", {}).items() if "class" in c}
    engine.registry.load(classes)
    engine.respawn_disabled = bool(snap.get("respawn_disabled", False))
    events: dict[int, Event] = {}
    for item in snap.get("events", []):
        ev = Event(item["name"], list(item["env"]), item.get("fd"), id=item["id"],
                   progress=item["progress"], failed=item["failed"])
        events[ev.id] = ev
        engine.queue.events.append(ev)
    engine.queue._next_id = snap.get("next_event_id", len(events) + 1)
    for name, cdata in snap.get("classes", {}).items():
        entry = engine.registry.get(name)
        if entry is None:
            continue
        deleted = entry.deleted
        _fields_in(entry, cdata, _ENTRY_SKIP + ("start_on",))
        entry.deleted = entry.deleted or deleted
        _restore_latch(entry.start_on, cdata.get("start_on"), events)
        for iname, d in cdata.get("instances", {}).items():
            inst = Instance(entry, iname)
            _fields_in(inst, d, _INSTANCE_SKIP + ("stop_on", "ready_on", "blocker", "blocking"))
            if entry.job_class.stop_on is not None:
                inst.stop_on = Operator.from_expr(entry.job_class.stop_on)
                _restore_latch(inst.stop_on, d.get("stop_on"), events)
            if d.get("waiting_ready") and entry.job_class.ready_on is not None:
                inst.ready_on = Operator.from_expr(entry.job_class.ready_on)
                _restore_latch(inst.ready_on, d.get("ready_on"), events)
            inst.blocker = events.get(d["blocker"]) if d.get("blocker") is not None else None
            for ev_id in d.get("blocking", []):
                if ev_id in events:
                    inst.blocking.append(events[ev_id])
            entry.instances[iname] = inst
            for slot, pid in inst.pids.items():
                engine._pids[pid] = (inst, slot)
    engine._cgroup_held = set(snap.get("cgroup_held", []))
    engine._load_state_decls()
    engine.states = StateTable.from_json(snap.get("states"), snap.get("opened_states"))
    _restore_state_latches(engine, snap, events)
    for job, iname, slot, pid, error in snap.get("confirmations", []):
        entry = engine.registry.get(job)
        inst = entry.instances.get(iname) if entry else None
        if inst is not None:
            engine._confirm.append((inst, slot, pid, error))
    # blockers and job references of events
    for item in snap.get("events", []):
        ev = events[item["id"]]
        ev.blockers = item["blockers"]
        for _kind, (job, iname) in item.get("blocking", []):
            entry = engine.registry.get(job)
            inst = entry.instances.get(iname) if entry else None
            if inst is not None:
                ev.blocking.append(("job", inst))
    return engine


def _restore_state_latches(engine: Engine, snap: dict[str, Any],
                           events: dict[int, Event]) -> None:
    """The `state` declarations' latches; an opened state whose declaration
    is gone (the classes were re-parsed) is closed."""
    decls = engine._state_decls
    for name, latch in snap.get("state_on", {}).items():
        if name in decls:
            _restore_latch(decls[name].on, latch, events)
    untils = {(n, tuple(i)): latch for n, i, latch in snap.get("state_until", [])}
    for item in engine.states.opened_json():
        name, ident, owner = item[0], tuple(item[1]), item[3]
        declared = decls.get(name)
        if declared is None or declared.owner != owner:
            engine.states.close(name, ident)
            continue
        if declared.decl.until is not None:
            oper = Operator.from_expr(declared.decl.until)
            _restore_latch(oper, untils.get((name, ident)), events)
            engine._state_until[(name, ident)] = oper


def resume_effects(engine: Engine) -> list[Any]:
    """What the shell must re-arm after a restore: the spawn-confirmation
    timer if news of spawns is pending, kill timers of instances waiting
    in `killed` and ready timers (their deadline restarts from now), and the
    readiness watches of instances still waiting to be ready."""
    from upstart.core import effects as fx
    out: list[Any] = []
    if engine._confirm:
        if engine.confirm_delay > 0:
            engine._confirm_armed = True
        out.append(fx.SetTimer(engine.CONFIRM_TIMER, engine.confirm_delay))
    for name in engine.registry.names():
        for inst in engine.registry.entries[name].sorted_instances():
            if inst.kill_timer:
                engine._kills_armed.add(id(inst))
                out.append(fx.SetTimer(engine._timer_key(inst),
                                       inst.entry.job_class.kill_timeout))
            if inst.expect_timer and inst.entry.job_class.expect_timeout:
                out.append(fx.SetTimer(engine._expect_key(inst),
                                       inst.entry.job_class.expect_timeout))
            if inst.ready_timer and inst.entry.job_class.ready_timeout:
                out.append(fx.SetTimer(engine._ready_key(inst),
                                       inst.entry.job_class.ready_timeout))
            if inst.backoff_timer:                  # respawn pause: what is left of it
                left = inst.backoff_delay if inst.backoff_due is None else \
                    max(0.0, inst.backoff_due - engine.clock.monotonic())
                out.append(fx.SetTimer(engine._respawn_key(inst), left))
            if inst.ready_watch and inst.ready_on is not None:
                from upstart.core.readiness import watch_matches
                out.append(fx.WatchReady(inst.job, inst.name, watch_matches(inst),
                                         tuple(pid for _s, pid in inst.processes())))
    return out


__all__ = ["take", "restore", "resume_effects", "class_to_json", "class_from_json", "Waiter"]
