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

from typing import Any

from upstart.observe.recorder import Recorder, env_dict

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
        if kind == "exit":
            return [_node("its process ended")]
        if kind == "timer":
            return [_node("a timer fired (kill timeout)")]
        return [_node("init itself")]

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
            conditions: dict[str, tuple[Any, Any]]) -> Node:
    """The causal tree of `job`'s instance `instance`, now at `goal`.

    `env` is the instance's environment (for `UPSTART_EVENTS`), `conditions`
    maps job names to their (start_on, stop_on) RPN lists."""
    walker = _Walker(rec, conditions)
    return walker.goal(job, instance, goal, rec.goal_causes.get((job, instance)), env, 0)


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
