"""The static job/event graph of `initctl2dot`, in graphviz's dot language.

`parse_show_config()` reads `initctl show-config -e` output (a job name at
the start of a line, then `  emits EVENT`, `  start on EVENT (job:[ JOB],
env:[ ARG...])`, `  stop on ...` lines) into `JobConfig`s; `graph()` turns
them into dot text (spec 04 §8): jobs are `record` nodes with `job`, `start`
and `stop` ports, events are diamonds (dotted when the name is a pattern);
`emits` edges go job→event, `start on` edges event→job:start, `stop on`
edges event→job:stop. A job lifecycle event (`starting J`, `started J`,
...) links the jobs themselves: for `starting J` the arrow goes from the
waiting job's start port to J (it must start first), for the others from J
to the port. `restrict` keeps only the named jobs and what they touch.

Pure: text in, text out. Raises `DotError` with upstream's messages.
"""

from __future__ import annotations

import re

from upstart.records import dataclass, field

# events whose first variable names the job they come from (`died`: RM-12)
JOB_EVENTS = ("starting", "started", "stopping", "stopped", "died")

DEFAULT_COLOURS = {
    "emits": "green", "start-on": "blue", "stop-on": "red", "event": "thistle",
    "job": "#DCDCDC", "text": "black", "event-text": "black", "job-text": "black",
    "bg": "white",
}

_LINE = re.compile(r"^  (start on|stop on) (\S+) \(job:( \S+)?, env:(.*)\)$")


class DotError(Exception):
    """Bad input or an unknown job: the message upstream prints after `ERROR: `."""


@dataclass
class Condition:
    event: str
    job: str | None
    env: list[str]


@dataclass
class JobConfig:
    name: str
    emits: list[str] = field(default_factory=list)
    start_on: list[Condition] = field(default_factory=list)
    stop_on: list[Condition] = field(default_factory=list)


def parse_show_config(text: str) -> dict[str, JobConfig]:
    jobs: dict[str, JobConfig] = {}
    current: JobConfig | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = jobs.setdefault(line.strip(), JobConfig(line.strip()))
            continue
        if current is None:
            raise DotError(f"invalid line: {line}")
        if line.startswith("  emits "):
            current.emits.append(line[len("  emits "):].strip())
            continue
        m = _LINE.match(line)
        if not m:
            raise DotError(f"invalid line: {line}")
        cond = Condition(m.group(2), (m.group(3) or "").strip() or None, m.group(4).split())
        (current.start_on if m.group(1) == "start on" else current.stop_on).append(cond)
    return jobs


_REPLACE = (("-", "_"), ("$", "dollar_"), ("[", "lbracket"), ("]", "rbracket"),
            ("*", "star"), ("?", "question"), ("!", "bang"), (".", "_dot_"),
            ("/", "_slash_"), (":", "_colon_"), ("=", "_eq_"), ("+", "_plus_"),
            ("@", "_at_"))


def sanitise(name: str) -> str:
    """A dot identifier for a job or event name."""
    for old, new in _REPLACE:
        name = name.replace(old, new)
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _record_label(text: str) -> str:
    return re.sub(r"([{}|<>\s\"])", r"\\\1", text)


def restrict(jobs: dict[str, JobConfig], names: list[str]) -> dict[str, JobConfig]:
    for name in names:
        if name not in jobs:
            raise DotError(f"unknown job {name}")
    return {n: jobs[n] for n in names}


def graph(jobs: dict[str, JobConfig], *, colours: dict[str, str] | None = None,
          footer: str = "") -> str:
    col = dict(DEFAULT_COLOURS, **(colours or {}))
    job_nodes: dict[str, str] = {}       # name -> node id
    event_nodes: dict[str, str] = {}
    edges: list[str] = []

    def job_node(name: str) -> str:
        label = f"job:{name}" if name.startswith("$") else name
        return job_nodes.setdefault(name, "job_" + sanitise(label))

    def event_node(name: str) -> str:
        return event_nodes.setdefault(name, "event_" + sanitise(name))

    for job in jobs.values():
        me = job_node(job.name)
        for ev in job.emits:
            edges.append(f"{me}:job -> {event_node(ev)} [color={_quote(col['emits'])}];")
        for port, conds, key in (("start", job.start_on, "start-on"),
                                 ("stop", job.stop_on, "stop-on")):
            for cond in conds:
                attrs = f"color={_quote(col[key])}"
                if cond.event in JOB_EVENTS and cond.job:
                    other = job_node(cond.job)
                    attrs += f", label={_quote(cond.event)}"
                    if cond.event == "starting":
                        edges.append(f"{me}:{port} -> {other}:job [{attrs}];")
                    else:
                        edges.append(f"{other}:job -> {me}:{port} [{attrs}];")
                else:
                    edges.append(f"{event_node(cond.event)} -> {me}:{port} [{attrs}];")
    out = [
        "digraph upstart {",
        "  rankdir=LR;",
        "  overlap=false;",
        f"  bgcolor={_quote(col['bg'])};",
        f"  fontcolor={_quote(col['text'])};",
        f"  node [shape=diamond, style=filled, fillcolor={_quote(col['event'])}, "
        f"fontcolor={_quote(col['event-text'])}];",
        "",
    ]
    for name, node in sorted(job_nodes.items()):
        shown = f"job:{name}" if name.startswith("$") else name
        label = f"<job> {_record_label(shown)} | {{ <start> start on | <stop> stop on }}"
        out.append(f"  {node} [shape=record, label={_quote(label)}, "
                   f"fillcolor={_quote(col['job'])}, fontcolor={_quote(col['job-text'])}];")
    for name, node in sorted(event_nodes.items()):
        style = ', style="dotted,filled"' if "*" in name else ""
        out.append(f"  {node} [label={_quote(name)}{style}];")
    out.append("")
    out.extend("  " + e for e in edges)
    if footer:
        out.append("")
        out.append(f"  label={_quote(footer)};")
    out.append("}")
    return "\n".join(out) + "\n"


def legend(source: str, when: str, colours: dict[str, str] | None = None) -> str:
    col = dict(DEFAULT_COLOURS, **(colours or {}))
    return (f"Generated at {when} from {source}\n"
            f"Key: emits = {col['emits']}, start on = {col['start-on']}, "
            f"stop on = {col['stop-on']}, events = {col['event']} diamonds, "
            f"jobs = {col['job']} boxes")
