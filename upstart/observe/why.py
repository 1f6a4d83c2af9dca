"""`initctl why`: the causal chain that brought a job to its present goal.

`explain()` walks the recorder's links back from an instance's goal: the
goal was set by an event (which events matched which part of the job's
`start on`/`stop on` condition, from the instance's `UPSTART_EVENTS`), a
command (`initctl start` by uid/pid), a failure or a process exit; an event
was emitted by a caller (`initctl emit` by uid/pid), by a job's lifecycle
(whose own goal cause is walked in turn), by another event's failure, or by
init itself (startup, signals). The answer is a tree of nodes
`{"text": str, "children": [...]}`, small enough to send over D-Bus as JSON;
`render()` draws it as indented text.

Pure: reads a `Recorder`, never the system.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from upstart.jobfile.model import Expr, Match, Op
from upstart.observe.recorder import Recorder, env_dict
from upstart.states.condition import holds, leaf_matches, leaves
from upstart.states.model import State

Node = dict[str, Any]
MAX_DEPTH = 32


def _node(text: str, children: list[Node] | None = None) -> Node:
    return {"text": text, "children": children or []}


def _display(job: str, instance: str) -> str:
    return f"{job} ({instance})" if instance else job


def _leaves(rpn: list[list[str]] | None) -> list[list[str]]:
    return [list(t) for t in rpn or () if t and t[0] not in ("/AND", "/OR")]


def _matching_leaf(rpn, name: str, env: list[str]) -> str | None:
    """The part of a condition an event of `name` with `env` satisfied."""
    values = env_dict(env)
    found = []
    for leaf in _leaves(rpn):
        if leaf[0] != name and not (leaf[0].endswith("*") and name.startswith(leaf[0][:-1])):
            continue
        found.append(leaf)
    for leaf in found:
        # prefer a leaf whose KEY=VALUE arguments agree with the event
        keyed = [a.partition("=") for a in leaf[1:] if "=" in a]
        if all(values.get(k) == v or "*" in v or "$" in v for k, _, v in keyed):
            return " ".join(leaf)
    return " ".join(found[0]) if found else None


def _caller(by: dict) -> str:
    who = f"uid {by.get('uid', '?')}, pid {by.get('pid', '?')}"
    cmd = by.get("cmd")
    return f"{who}: {cmd}" if cmd else who


def _event_title(ev: dict) -> str:
    env = " ".join(ev["env"])
    return f"{ev['name']}{' ' + env if env else ''} (event #{ev['id']})"


class _Walker:
    def __init__(self, rec: Recorder, conditions):
        self.rec = rec
        self.conditions = conditions     # job -> (start_on rpn, stop_on rpn)
        self.seen: set[int] = set()

    def goal(self, job: str, instance: str, goal: str, cause: dict | None,
             env: list[str] | None, depth: int, note: str = "") -> Node:
        head = _node(f"{_display(job, instance)}: goal {goal}{note}")
        if cause is None:
            head["children"].append(_node("cause not recorded (set before the record began)"))
            return head
        head["children"].extend(self.cause(job, goal, cause, env, depth))
        return head

    def cause(self, job: str, goal: str, cause: dict, env: list[str] | None,
              depth: int) -> list[Node]:
        kind = cause.get("type")
        if kind == "event":
            trigger = self.rec.event(cause.get("event"))
            if trigger is None:
                return [_node(f"event {cause.get('name')} (no longer in the record)")]
            return self.matched(job, goal, trigger, env, depth)
        if kind == "command":
            verb = cause.get("command", "start")
            return [_node(f"asked for by `initctl {verb}` ({_caller(cause)})")]
        if kind == "failed":
            return [_node(f"the job failed (status {cause.get('status')})")]
        if kind == "while":
            return self.while_moved(job, cause, depth)
        if kind == "exit":
            return [_node("its process ended")]
        if kind == "timer":
            return [_node("a timer fired (kill timeout)")]
        return [_node("init itself")]

    def while_moved(self, job: str, cause: dict, depth: int, inst: str = "") -> list[Node]:
        """A `while` evaluation set the goal: which states moved the condition
        (a job leaving or coming back, a state opened or closed), and by whom."""
        start = cause.get("goal") == "start"
        stop_before = None
        if start:
            for (j, _i), last in self.rec.while_last.items():
                if j == job and "stop" in last and last["stop"]["seq"] < cause.get("seq", 1 << 62):
                    stop_before = last["stop"]
        came_back = set(stop_before["closed"]) if stop_before else set()
        head = _node("its `while` condition holds" + (" again" if came_back else "")
                     if start else "its `while` condition no longer holds")
        for text in cause.get("opened", []):
            head["children"].append(self.state_moved(text, True, text in came_back,
                                                      cause, depth))
        for text in cause.get("closed", []):
            head["children"].append(self.state_moved(text, False, False, cause, depth))
        if not head["children"]:
            head["children"].append(_node("it held when the job was loaded"
                                          if start else "(no state change recorded)"))
        return [head]

    def state_moved(self, text: str, opened: bool, again: bool, cause: dict,
                    depth: int) -> Node:
        words = text.split()
        values = env_dict(words[1:])
        job = values.get("JOB") if words and words[0] in ("running", "ready") else None
        if job is not None:
            who = _display(job, values.get("INSTANCE", ""))
            what = ("came back" if again else "is " + words[0]) if opened else "left"
            node = _node(f"{who} {what} ({text} {'opened' if opened else 'closed'})")
            started = self.rec.start_causes.get((job, values.get("INSTANCE", "")))
            if opened and started is not None and depth < MAX_DEPTH:
                node["children"].append(self.goal(job, values.get("INSTANCE", ""), "start",
                                                  started, None, depth + 1))
                return node
        else:
            node = _node(f"state {text} {'opened' if opened else 'closed'}")
            moved = self.rec.state_causes.get(text)
            trigger = self.rec.event(moved.get("event")) if moved else None
            if trigger is not None and depth < MAX_DEPTH:
                node["children"].append(_node(
                    f"by event {_event_title(trigger)}, as its `state` stanza says",
                    [self.emitter(trigger, depth + 1)]))
                return node
        via = cause.get("via")
        if via is not None and depth < MAX_DEPTH:
            node["children"].extend(self.cause("", "", via, None, depth + 1))
        return node

    def matched(self, job: str, goal: str, trigger: dict, env: list[str] | None,
                depth: int) -> list[Node]:
        start_on, stop_on = self.conditions.get(job, (None, None))
        rpn = start_on if goal in ("start", "respawn") else stop_on
        stanza = "start on" if goal in ("start", "respawn") else "stop on"
        values = env_dict(env)
        key = "UPSTART_EVENTS" if stanza == "start on" else "UPSTART_STOP_EVENTS"
        names = values.get(key, "").split() if env is not None else []
        if trigger["name"] not in names:
            names.append(trigger["name"])
        out = []
        for name in names:
            if name == trigger["name"]:
                ev = trigger
            else:
                ev = self.rec.latest_event(name, before=trigger.get("handled") or
                                           trigger["queued"], env=values)
            if ev is None:
                out.append(_node(f"event {name} (no longer in the record)"))
                continue
            leaf = _matching_leaf(rpn, ev["name"], ev["env"])
            text = f"event {_event_title(ev)}"
            text += f" matched {stanza} \"{leaf}\"" if leaf else f" satisfied {stanza}"
            if ev is trigger and len(names) > 1:
                text += " (completing the condition)"
            out.append(_node(text, [self.emitter(ev, depth + 1)]))
        return out

    def emitter(self, ev: dict, depth: int) -> Node:
        by = ev.get("by") or {}
        kind = by.get("type")
        if ev["id"] in self.seen or depth > MAX_DEPTH:
            return _node(f"(event #{ev['id']} already explained above)")
        self.seen.add(ev["id"])
        if kind == "emit":
            return _node(f"emitted by `initctl emit` ({_caller(by)})")
        if kind == "job":
            node = _node(f"emitted by job {_display(by['job'], by['instance'])} "
                         f"as it became {_lifecycle_state(ev['name'])}")
            cause = by.get("goal_cause")
            goal = (cause or {}).get("goal", "start")
            node["children"].append(self.goal(by["job"], by["instance"], goal, cause,
                                              None, depth + 1))
            started = by.get("start_cause")
            if started:
                node["children"].append(self.goal(by["job"], by["instance"], "start",
                                                  started, None, depth + 1,
                                                  " (when it was started)"))
            return node
        if kind == "died":
            node = _node(f"emitted by init as the main process of job "
                         f"{_display(by['job'], by['instance'])} died")
            cause = by.get("goal_cause")
            if cause:
                node["children"].append(self.goal(by["job"], by["instance"],
                                                  cause.get("goal", "start"), cause,
                                                  None, depth + 1))
            return node
        if kind == "failure":
            failed = self.rec.event(by.get("event"))
            node = _node(f"queued because event {by.get('name')} failed")
            if failed is not None:
                node["children"].append(self.emitter(failed, depth + 1))
            return node
        if ev["name"] == "startup":
            return _node("emitted by init at boot")
        return _node("emitted by init itself (startup, a signal or session end)")


def _lifecycle_state(name: str) -> str:
    return {"starting": "starting", "started": "running", "stopping": "stopping",
            "stopped": "stopped"}.get(name, name)


def explain(rec: Recorder, job: str, instance: str, goal: str, env: list[str] | None,
            conditions: dict[str, tuple[Any, Any]],
            while_now: tuple[Expr, list[State]] | None = None) -> Node:
    """The causal tree of `job`'s instance `instance`, now at `goal`.

    `env` is the instance's environment (for `UPSTART_EVENTS`), `conditions`
    maps job names to their (start_on, stop_on) RPN lists; `while_now` is the
    job's `while` condition and the states true now (a `while` job)."""
    walker = _Walker(rec, conditions)
    head = walker.goal(job, instance, goal, rec.goal_causes.get((job, instance)), env, 0)
    if while_now is not None:
        head["children"].extend(while_story(rec, walker, job, instance, goal, *while_now))
    return head


def while_story(rec: Recorder, walker: _Walker | None, job: str, instance: str,
                goal: str | None, condition: Expr, states: list[State]) -> list[Node]:
    """For a `while` job: the last stop by its condition (when the job runs
    again since), and which leaves of the condition hold now, since when."""
    walker = walker or _Walker(rec, {})
    out: list[Node] = []
    last = rec.while_last.get((job, instance), {})
    stop, start = last.get("stop"), last.get("start")
    if stop is not None and (goal != "stop" or rec.goal_causes.get((job, instance)) is None):
        moved = walker.while_moved(job, stop, 1)
        when = _clock(stop.get("wall"))
        title = f"stopped at {when} by its condition" if goal == "stop" or start is None or \
            start["seq"] < stop["seq"] else f"before that, stopped at {when} by its condition"
        out.append(_node(title, moved[0]["children"]))
    now = _node(f"the condition now: {condition_text(condition)}: "
                f"{'holds' if holds(condition, states) else 'does not hold'}")
    for leaf in leaves(condition):
        text = " ".join((leaf.name,) + tuple(leaf.args))
        found = [s for s in states if leaf_matches(leaf, s)]
        if not found:
            now["children"].append(_node(f"{text}: does not hold"))
            continue
        for state in found:
            since = rec.state_since.get(state.text())
            when = f" since {_clock(since['wall'])}" if since else ""
            now["children"].append(_node(f"{text}: holds{when} ({state.text()})"))
    out.append(now)
    return out


def condition_text(expr: Expr) -> str:
    if isinstance(expr, Match):
        return " ".join((expr.name,) + tuple(expr.args))
    assert isinstance(expr, Op)
    return f"{_paren(expr.left)} {expr.kind} {_paren(expr.right)}"


def _paren(expr: Expr) -> str:
    text = condition_text(expr)
    return f"({text})" if isinstance(expr, Op) else text


def death_text(death: dict) -> str:
    """One line about an instance's last `died` (RM-12), for `why` and `status`."""
    times = "once" if death["count"] == 1 else f"{death['count']} times"
    then = "respawned" if death["respawn"] else "not respawned"
    return (f"its main process died {times}; last at {_clock(death.get('wall'))}: "
            f"{death['reason'].removeprefix('main process ')}, {then}")


def _clock(wall: float | None) -> str:
    if wall is None:
        return "?"
    return datetime.fromtimestamp(wall).strftime("%H:%M:%S")


def render(node: Node, indent: int = 0) -> str:
    lines = [("  " * indent) + node["text"]]
    for child in node.get("children", ()):
        lines.append(render(child, indent + 1))
    return "\n".join(lines)


def events_named(node: Node) -> list[str]:
    """Every event title mentioned in the tree (for tests and summaries)."""
    out = []
    if node["text"].startswith("event "):
        out.append(node["text"].split()[1])
    for child in node.get("children", ()):
        out += events_named(child)
    return out
