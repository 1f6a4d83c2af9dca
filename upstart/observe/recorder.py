"""The recorder: what init did, as structured records with causal links.

The daemon shell hands the recorder everything it sees, in order: the
context of an input (`expect_emit` for an `EmitEvent` call with its caller,
`command` for a job command), every effect list the engine returns
(`effects`), every spawn (`spawned`) and every supervisor note (`note`:
exits, log lines). The recorder turns that stream into records, one dict
each with a sequence number, a monotonic and a wall timestamp and a `kind`:

    event-queued    id, name, env, by        (who emitted it)
    event-handled   id, name
    event-finished  id, name, env, failed
    goal            job, instance, goal, cause
    state           job, instance, state     (not the `-ing` states passed through)
    spawn           job, instance, slot, pid
    exit            job, instance, slot, pid, code, signal
    job-failed      job, instance, status
    state-opened / state-closed   name, env   (seen by a `while` evaluation)
    debug-pause     job, pid
    job-added / job-removed / instance-added / instance-removed

How causality is seen: the engine's effects arrive in the order they
happened, and among them its `Trace` effects, returned whatever the log
priority (`Engine._trace`); log text is never parsed. `Trace(queued, NAME)`
says an event was queued; the effect just before it says by whom (a
`StateChanged` to starting/running/stopping/waiting: that job's lifecycle
event; a `Trace(finished, NAME)`: the `NAME/failed` event; the first
effect of an `EmitEvent` call: its caller; a `died` trace carries its
environment (JOB, INSTANCE, ...) in `data`; otherwise init itself: startup,
signals, session end). `Trace(handling, NAME)` says which event is being
handled, so a `GoalChanged` meanwhile was caused by that event (unless the
instance just failed); `Trace(spawned, pid=PID)` places a spawn record.
The queued, handling and finished traces carry the engine's id of the event
(and queued its environment), so two events of one name are told apart
however their ends interleave. A job event carries a copy of its job's goal cause,
so a chain can be walked back long after the job changed again.

Owns: the record sequence, the bounded table of recent events, each
instance's goal cause, recent failures (bounded), debug pauses. Memory is
bounded (issue #23): the records live in a `History` bounded in bytes, the
event table keeps the newest `KEEP_EVENTS` states and the failure table the
newest `KEEP_FAILURES`; what left them is rebuilt from the records, read
back from the log file when memory no longer holds them. Never: performs I/O,
reads the clock except through the injected functions, or changes what the
daemon does (a bug here must never affect init: the service guards it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from upstart.observe.compact import FINISHED, HANDLED, QUEUED, as_dict
from upstart.observe.history import MAX_BYTES, History

Record = dict[str, Any]
KEEP_EVENTS = 256       # event states kept whole in memory (older: from the records)
KEEP_FAILURES = 256     # failed instances kept in memory (more: rebuilt from the records)
KEEP_DEATHS = 256       # instances whose last `died` is kept (RM-12; the oldest dropped)

# the event of an abnormal main-process exit (RM-12); its Trace(queued) carries
# the event's environment as data
DIED_EVENT = "died"
# lifecycle event name -> the state change that queues it
JOB_EVENT_STATE = {"starting": "starting", "started": "running",
                   "stopping": "stopping", "stopped": "waiting"}
# states an instance only passes through: their entry action starts a process
# (or not) and the engine moves on to the next state in the same input, so
# they add nothing to the record (docs/design/observability.md)
PASSING_STATES = frozenset({"security-spawning", "pre-starting", "spawning",
                            "post-starting", "pre-stopping", "post-stopping"})



STATE_CAUSES = 256        # causes of declared states' moves kept for `why`


def env_dict(env) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or ():
        key, _, value = item.partition("=")
        out[key] = value
    return out


class Recorder:
    """Turns the daemon's view into records (see the module docstring)."""

    def __init__(self, *, monotonic: Callable[[], float], wall: Callable[[], float],
                 sink: Callable[[Record], None] | None = None,
                 keep_events: int = KEEP_EVENTS, keep_bytes: int = MAX_BYTES,
                 history: History | None = None, keep_failures: int = KEEP_FAILURES,
                 made: Callable[[], None] | None = None):
        """`sink`: given every record (a dict) as it is made; `made`: told that a
        record was made (cheaper: the observer only schedules its write)."""
        self.monotonic = monotonic
        self.wall = wall
        self.sink = sink
        self.made = made
        self.seq = 0
        # recent records, oldest first, bounded in bytes; older ones in the log
        # file, read back by the queries (history.py, issue #23)
        self.records: History = history if history is not None else History(keep_bytes)
        # id -> event state, the newest `keep_events`; an older event is rebuilt
        # from its records (`event`, `latest_event`)
        self.events: OrderedDict[int, Record] = OrderedDict()
        self.keep_events = keep_events
        self.keep_failures = keep_failures
        self.failures_complete = True   # False once a failure left the table
        self._next_event = 1
        self._open: dict[str, list[Record]] = {}   # unfinished events by name, in order
        self._by_engine_id: dict[int, Record] = {}  # the same, by the engine's event id
        self.goal_causes: dict[tuple[str, str], dict] = {}
        self.start_causes: dict[tuple[str, str], dict] = {}   # the last goal start
        self.failures: dict[tuple[str, str], Record] = {}
        # RM-12: each instance's last abnormal main exit and how many it had
        self.deaths: OrderedDict[tuple[str, str], Record] = OrderedDict()
        self.pauses: dict[int, Record] = {}
        self.pids: dict[int, tuple[str, str, str]] = {}
        self._spawns: dict[int, tuple[str, str, str]] = {}   # spawned, not yet logged
        # per-batch state
        self._expect: dict | None = None         # an EmitEvent call awaiting its event
        self._command: dict | None = None        # a job command awaiting its effects
        self._input: str = "init"
        self._prev: Any = None
        self._handling: Record | None = None
        self._finished_name: str | None = None
        self._finishing: int = 0                 # engine id of the event finishing
        self._failed_link: Record | None = None
        self._just_failed: dict[tuple[str, str], Record] = {}
        # `while` (issue #26): when each open state opened (text -> record),
        # the cause of the next goal change of a `while` instance, and the last
        # start and stop by `while` per instance (kept when it goes: `why`)
        self.state_since: dict[str, Record] = {}
        # what last opened or closed each state opened by events (bounded)
        self.state_causes: OrderedDict[str, dict] = OrderedDict()
        self._while_pending: dict[tuple[str, str], dict] = {}
        self.while_last: dict[tuple[str, str], dict[str, dict]] = {}
        # effect type name -> what it records (the effects nothing reads are absent)
        self._handlers: dict[str, Callable[[Any, bool], None]] = {
            "Trace": self._on_trace, "StateChanged": self._on_state, "GoalChanged": self._on_goal,
            "EventEmitted": self._on_event_emitted, "JobFailed": self._on_job_failed,
            "InstanceAdded": self._on_instance_added,
            "InstanceRemoved": self._on_instance_removed,
            "JobAdded": self._on_job_added, "JobRemoved": self._on_job_removed,
        }

    # ------------------------------------------------------------ output

    def _emit(self, kind: str, **fields: Any) -> Record:
        self.seq = seq = self.seq + 1
        # both clocks to the microsecond; perf: round(x * 1e6) / 1e6, not
        # round(x, 6), which converts through decimal (0.5 us, twice a record).
        # The two agree, but for the last digit of an epoch time now and then
        rec: Record = {"seq": seq, "mono": round(self.monotonic() * 1e6) / 1e6,
                       "wall": round(self.wall() * 1e6) / 1e6, "kind": kind, **fields}
        self.records.append(rec)
        if self.made is not None:
            self.made()
        if self.sink is not None:
            self.sink(rec)
        return rec

    def _compact(self, kind: str, *fields: Any) -> tuple:
        """`_emit` of an event's record, kept as a tuple (compact.py; perf,
        issue #23 item 5); returns it: (kind, seq, mono, wall, *fields).
        Only in a batch of effects, whose end tells `made`."""
        self.seq = seq = self.seq + 1
        rec = (kind, seq, round(self.monotonic() * 1e6) / 1e6,
               round(self.wall() * 1e6) / 1e6) + fields
        self.records.fresh.append(rec)          # History.append, without the call
        if self.sink is not None:
            self.sink(as_dict(rec))
        return rec

    # ------------------------------------------------------------ inputs

    def expect_emit(self, name: str, by: dict) -> None:
        """The next batch comes from an EmitEvent call of `name` by `by` (kept,
        not copied: perf, one dict per caller; never changed afterwards)."""
        self._expect = {"name": name, "by": by}

    def command(self, by: dict) -> None:
        """The next batch comes from a job command (start, stop, ...) by `by`."""
        self._command = dict(by)

    def input(self, kind: str) -> None:
        """The next batch comes from a timer, an exit, a signal, ... (default init)."""
        self._input = kind

    def spawned(self, job: str, instance: str, slot: str, pid: int) -> None:
        self.pids[pid] = (job, instance, slot)
        self._spawns[pid] = (job, instance, slot)

    def spawn_failed(self, job: str, instance: str, slot: str, reason: str) -> None:
        self._emit("spawn-failed", job=job, instance=instance, slot=slot, reason=reason)

    def note(self, note: Any) -> None:
        """A supervisor note (Exited, Ready, LogLine), before the engine sees it."""
        name = type(note).__name__
        if name == "Exited":
            job, inst, slot = self.pids.pop(note.pid, ("", "", ""))
            self.pauses.pop(note.pid, None)
            self._emit("exit", job=job, instance=inst, slot=slot, pid=note.pid,
                       code=note.code, signal=note.signal)
            self._input = "exit"
        elif name == "LogLine" and note.paused:
            pid = note.paused
            job, inst, slot = self.pids.get(pid, (note.job, "", ""))
            self.pauses[pid] = self._emit("debug-pause", job=job, instance=inst,
                                          slot=slot, pid=pid)

    # ------------------------------------------------------------ effects

    def effects(self, effects) -> None:
        """One batch: the effects of one engine input, in order."""
        seq0 = self.seq
        first = True
        handlers = self._handlers
        for effect in effects or ():
            # perf: one lookup by type name; effects nothing reads (Reply,
            # SetTimer, Kill, ...) cost only that
            handler = handlers.get(type(effect).__name__)
            if handler is not None:
                handler(effect, first)
            self._prev = effect
            first = False
        if self._spawns:
            self._flush_spawns()
        self._expect = self._command = None
        self._input = "init"
        self._handling = None
        self._prev = None
        self._finished_name = None
        self._finishing = 0
        if self._just_failed:
            self._just_failed.clear()
        if self._while_pending:
            self._while_pending.clear()
        if self.seq != seq0 and self.made is not None:
            self.made()                         # once a batch (`_compact` does not)
        self.records.settle()

    def _flush_spawns(self, pid: int | None = None) -> None:
        pids = [pid] if pid is not None else list(self._spawns)
        for p in pids:
            job, inst, slot = self._spawns.pop(p)
            self._emit("spawn", job=job, instance=inst, slot=slot, pid=p)

    def _effect(self, effect: Any, first: bool) -> None:
        handler = self._handlers.get(type(effect).__name__)
        if handler is not None:
            handler(effect, first)

    def _on_trace(self, effect: Any, first: bool) -> None:
        kind = effect.kind
        # perf (issue #23 item 5): an event's three traces first, handled here
        if kind == "queued":
            self._queued(effect.name, first, effect.data, effect.event)
        elif kind == "handling":
            self._handled(effect.name, effect.event)
        elif kind == "finished":
            self._handling = None
            self._finished_name = effect.name
            self._finishing = effect.event
        elif kind == "opened" or kind == "closed":
            self._state_seen(kind, effect.name, list(effect.data))
        elif kind == "while":
            self._while(effect.name, effect.data)
        elif kind == "moved":
            text = " ".join((effect.name,) + effect.data[1:])
            self.state_causes[text] = self._goal_cause("", "")
            if len(self.state_causes) > STATE_CAUSES:
                self.state_causes.popitem(last=False)
        elif kind == "spawned" and effect.pid in self._spawns:
            self._flush_spawns(effect.pid)

    def _state_seen(self, kind: str, name: str, env: list[str]) -> None:
        text = " ".join([name] + env)
        rec = self._emit("state-" + kind, name=name, env=env)
        if kind == "opened":
            self.state_since[text] = {"wall": rec["wall"], "mono": rec["mono"]}
        else:
            self.state_since.pop(text, None)

    def _while(self, job: str, data: tuple[str, ...]) -> None:
        """A `while` evaluation moves an instance: the cause of its next goal."""
        inst, goal, changes = data[0], data[1], data[2:]
        cause = {"type": "while", "goal": goal,
                 "opened": [c[1:] for c in changes if c.startswith("+")],
                 "closed": [c[1:] for c in changes if c.startswith("-")],
                 "via": self._goal_cause(job, inst)}
        self._while_pending[(job, inst)] = cause
        self.while_last.setdefault((job, inst), {})[goal] = dict(
            cause, seq=self.seq, wall=round(self.wall() * 1e6) / 1e6)

    def _on_state(self, effect: Any, _first: bool) -> None:
        if effect.state in PASSING_STATES:
            return
        self._emit("state", job=effect.job, instance=effect.instance, state=effect.state)
        if effect.state == "starting":
            self.failures.pop((effect.job, effect.instance), None)

    def _on_goal(self, effect: Any, _first: bool) -> None:
        cause = self._goal_cause(effect.job, effect.instance)
        self.goal_causes[(effect.job, effect.instance)] = dict(cause, goal=effect.goal)
        if effect.goal == "start":
            self.start_causes[(effect.job, effect.instance)] = dict(cause, goal="start")
        self._emit("goal", job=effect.job, instance=effect.instance, goal=effect.goal,
                   cause=cause)

    def _on_event_emitted(self, effect: Any, _first: bool) -> None:
        self._finished(effect.name, list(effect.env))

    def _on_job_failed(self, effect: Any, _first: bool) -> None:
        rec = self._emit("job-failed", job=effect.job, instance=effect.instance,
                         status=effect.status)
        self._just_failed[(effect.job, effect.instance)] = rec

    def _on_instance_added(self, effect: Any, _first: bool) -> None:
        self._emit("instance-added", job=effect.job, instance=effect.instance)

    def _on_instance_removed(self, effect: Any, _first: bool) -> None:
        self._emit("instance-removed", job=effect.job, instance=effect.instance)
        self.goal_causes.pop((effect.job, effect.instance), None)
        self.start_causes.pop((effect.job, effect.instance), None)

    def _on_job_added(self, effect: Any, _first: bool) -> None:
        self._emit("job-added", job=effect.job)

    def _on_job_removed(self, effect: Any, _first: bool) -> None:
        self._emit("job-removed", job=effect.job)
        for key in [k for k in self.while_last if k[0] == effect.job]:
            del self.while_last[key]

    def _handled(self, name: str, engine_id: int = 0) -> None:
        rec = self._by_engine_id.get(engine_id) if engine_id else None
        if rec is None:
            for state in self._open.get(name, ()):     # the oldest not yet handled
                if state["handled"] is None:
                    rec = state
                    break
        if rec is not None:
            rec["handled"] = self.seq + 1
            self._compact(HANDLED, rec["id"], rec["name"])
        self._handling = rec

    def _queued(self, name: str, first: bool, data: tuple[str, ...] = (),
                engine_id: int = 0) -> None:
        prev = self._prev
        by: dict
        env: list[str] = []
        if (self._finished_name is not None and name.endswith("/failed")
                and name[:-len("/failed")] == self._finished_name):
            by = {"type": "failure", "event": None, "name": self._finished_name}
        elif (name in JOB_EVENT_STATE and type(prev).__name__ == "StateChanged"
              and prev.state == JOB_EVENT_STATE[name]):
            key = (prev.job, prev.instance)
            cause = self.goal_causes.get(key)
            started = self.start_causes.get(key)
            by = {"type": "job", "job": prev.job, "instance": prev.instance,
                  "goal_cause": dict(cause) if cause else None,
                  "start_cause": dict(started) if started and started != cause else None}
            env = [f"JOB={prev.job}", f"INSTANCE={prev.instance}"]
        elif name == DIED_EVENT and data:        # RM-12: whose main process died
            vals = env_dict(data)
            key = (vals.get("JOB", ""), vals.get("INSTANCE", ""))
            cause = self.goal_causes.get(key)
            by = {"type": "died", "job": key[0], "instance": key[1],
                  "goal_cause": dict(cause) if cause else None}
            env = list(data)
        elif first and self._expect is not None and self._expect["name"] == name:
            by = self._expect["by"]
            self._expect = None
        else:
            by = {"type": "init"}
        if data:                                 # the event's own environment
            env = list(data)
        event_id = self._next_event
        self._next_event += 1
        _kind, seq, mono, wall = self._compact(QUEUED, event_id, name, env, by)[:4]
        # perf: the event table holds its env as a tuple: with only atomic values
        # (and `by`, a dict of atomic values) the entry leaves the cyclic GC's
        # tracking, so 20,000 kept events are not walked by every full collection
        state = {"id": event_id, "name": name, "env": tuple(env), "by": by,
                 "queued": seq, "mono": mono, "wall": wall, "handled": None,
                 "finished": None, "failed": False}
        self.events[event_id] = state
        self._open.setdefault(name, []).append(state)
        if engine_id:
            self._by_engine_id[engine_id] = state
        if len(self.events) > self.keep_events:
            self.events.popitem(last=False)
        if by["type"] == "failure":
            self._failed_link = state
        elif by["type"] == "died":
            self._died((by["job"], by["instance"]), wall, mono, env)

    def _died(self, key: tuple[str, str], wall: float, mono: float, env: list[str]) -> None:
        last = self.deaths.pop(key, None)
        vals = env_dict(env)
        self.deaths[key] = {"job": key[0], "instance": key[1], "wall": wall,
                            "mono": mono, "reason": failure_reason(vals),
                            "respawn": vals.get("RESPAWN") == "yes",
                            "count": (last["count"] if last else 0) + 1}
        if len(self.deaths) > KEEP_DEATHS:
            self.deaths.popitem(last=False)

    def _oldest(self, name: str, test) -> Record | None:
        for rec in self._open.get(name, ()):
            if test(rec):
                return rec
        return None

    def _finished(self, name: str, env: list[str]) -> None:
        # the oldest open event `name` whose variables are all in `env`; perf:
        # the oldest one's, when it has none (an emitted event's are known
        # when it finishes) or the same, without sets
        env_t = tuple(env)
        opened = self._open.get(name)
        rec = self._by_engine_id.pop(self._finishing, None) if self._finishing else None
        self._finishing = 0
        if rec is not None and rec["name"] == name:
            pass                                 # the engine said which one
        elif opened and (not opened[0]["env"] or opened[0]["env"] == env_t):
            rec = opened[0]
        else:
            have = set(env)
            rec = self._oldest(name, lambda e: set(e["env"]) <= have)
        failed = False
        link = self._failed_link
        if link is not None and link["by"].get("name") == name:
            failed = True
            self._failed_link = None
        if rec is None:
            return
        rec["env"] = env_t
        rec["finished"] = self.seq + 1
        still_open = self._open[name]
        still_open.remove(rec)
        if not still_open:
            del self._open[name]
        rec["failed"] = failed
        if link is not None and failed:
            link["by"]["event"] = rec["id"]
        self._compact(FINISHED, rec["id"], name, env, failed)
        if name == "stopped":
            vals = env_dict(env)
            if vals.get("RESULT") == "failed":
                key = (vals.get("JOB", ""), vals.get("INSTANCE", ""))
                self.failures.pop(key, None)
                self.failures[key] = failure_entry(key, rec["wall"], rec["mono"], vals, env)
                if len(self.failures) > self.keep_failures:
                    del self.failures[next(iter(self.failures))]    # the oldest
                    self.failures_complete = False

    def _goal_cause(self, job: str, inst: str) -> dict:
        moved = self._while_pending.pop((job, inst), None)
        if moved is not None:
            return moved
        failed = self._just_failed.pop((job, inst), None)
        if failed is not None:
            return {"type": "failed", "status": failed["status"]}
        if self._handling is not None:
            return {"type": "event", "event": self._handling["id"],
                    "name": self._handling["name"]}
        if self._command is not None:
            return dict(self._command)
        return {"type": self._input}

    # ------------------------------------------------------------ queries

    def event(self, event_id: int | None) -> Record | None:
        if event_id is None:
            return None
        state = self.events.get(event_id)
        if state is None and event_id < self._next_event:
            state = self._rebuilt_event(event_id)
        return state

    def _rebuilt_event(self, event_id: int) -> Record | None:
        """The state of an event that left the table, from its records (memory,
        then the log file): queued, handled, finished."""
        key = b'"id":%d,' % event_id
        queued = self.records.find_newest(
            (b'"event-queued"', key), lambda r: r.get("kind") == "event-queued"
            and r.get("id") == event_id)
        if queued is None:
            return None
        state = {"id": event_id, "name": queued.get("name", ""),
                 "env": tuple(queued.get("env") or ()), "by": queued.get("by") or {},
                 "queued": queued["seq"], "mono": queued.get("mono"),
                 "wall": queued.get("wall"), "handled": None, "finished": None,
                 "failed": False}
        for kind in ("event-handled", "event-finished"):
            rec = self.records.find_newest(
                (kind.encode(), key), lambda r, k=kind: r.get("kind") == k
                and r.get("id") == event_id)
            if rec is None:
                continue
            if kind == "event-handled":
                state["handled"] = rec["seq"]
            else:
                state["finished"] = rec["seq"]
                state["env"] = tuple(rec.get("env") or state["env"])
                state["failed"] = bool(rec.get("failed"))
        return state

    def latest_event(self, name: str, before: int | None = None,
                     env: dict[str, str] | None = None) -> Record | None:
        """The newest recorded event `name` queued before record `before`,
        preferring one whose variables all agree with `env` (the table first,
        then the records of older events)."""
        fallback = None
        for rec in reversed(self.events.values()):
            if rec["name"] != name or (before is not None and rec["queued"] > before):
                continue
            if env is None or all(env.get(k) == v for k, v in env_dict(rec["env"]).items()):
                return rec
            if fallback is None:
                fallback = rec
        if fallback is not None or not self.events:
            return fallback
        oldest = next(iter(self.events.values()))["queued"]
        if before is not None and before < oldest:
            oldest = before
        name_key = b'"name":%s,' % _json_str(name)

        def older(r: Record) -> bool:
            return (r.get("kind") == "event-queued" and r.get("name") == name
                    and r["seq"] <= oldest)
        # (an older event's variables compared are those it had when queued)
        agreeing = None
        if env is not None:
            agreeing = self.records.find_newest(
                (b'"event-queued"', name_key),
                lambda r: older(r) and all(env.get(k) == v for k, v in
                                           env_dict(r.get("env")).items()))
        found = agreeing or self.records.find_newest((b'"event-queued"', name_key), older)
        return self._rebuilt_event(found["id"]) if found is not None else None

    def all_failures(self) -> dict[tuple[str, str], Record]:
        """Every failed instance that has not started again: the table, or,
        once it overflowed, rebuilt from every record (file and memory)."""
        if self.failures_complete:
            return self.failures
        out: dict[tuple[str, str], Record] = {}
        for r in self.records.scan():
            kind = r.get("kind")
            if kind == "state" and r.get("state") == "starting":
                out.pop((r.get("job", ""), r.get("instance", "")), None)
            elif kind == "event-finished" and r.get("name") == "stopped":
                env = r.get("env") or []
                vals = env_dict(env)
                if vals.get("RESULT") == "failed":
                    key = (vals.get("JOB", ""), vals.get("INSTANCE", ""))
                    out.pop(key, None)
                    out[key] = failure_entry(key, r.get("wall"), r.get("mono"), vals, env)
        out.update(self.failures)
        return out


def _json_str(text: str) -> bytes:
    import json
    return json.dumps(text).encode()


def failure_entry(key: tuple[str, str], wall, mono, vals: dict[str, str], env) -> Record:
    return {"job": key[0], "instance": key[1], "wall": wall, "mono": mono,
            "reason": failure_reason(vals), "env": env}


def failure_reason(vals: dict[str, str]) -> str:
    """Why an instance failed, from its `stopped` event variables."""
    process = vals.get("PROCESS", "")
    if process == "respawn":
        return "respawning too fast (respawn limit reached)"
    if "EXIT_STATUS" in vals:
        return f"{process} process ended with status {vals['EXIT_STATUS']}"
    if "EXIT_SIGNAL" in vals:
        return f"{process} process killed by {vals['EXIT_SIGNAL']} signal"
    if process:
        return f"{process} process failed to start"
    return "failed"
