"""What initctl prints, as pure functions of what the daemon answered.

The status line grammar (spec 04 §3), the show-config text rebuilt from the
RPN `start_on`/`stop_on` properties (plain and `--enumerate`), and the
check-config analysis (which conditions no job or built-in event can
satisfy, reported in upstream's order). No I/O, no D-Bus: initctl fetches
the data and prints these strings; the tests call them directly.
"""

# no `from __future__ import annotations`: on initctl's start path it is an import
# (of __future__) like any other (issue #23); annotations here are Python 3.11 syntax

JOB_EVENTS = ("starting", "started", "stopping", "stopped")
# `died` (RM-12, died(7)): emitted by init, its first variable names the job
DIED_EVENT = "died"
INIT_EVENTS = ("startup", "debug", "control-alt-delete", "keyboard-request",
               "power-status-changed") + JOB_EVENTS + (DIED_EVENT,)
UNPREFIXED = ("main", "pre-start", "post-stop")


def status_line(job: str, props: dict | None) -> str:
    """`job [(inst)] goal/state[, [(slot) ]process PID][\\n\\tslot process PID]...`;
    `job stop/waiting` when there is no instance (props None)."""
    if props is None:
        return job + " stop/waiting"
    name = props.get("name", "")
    out = ["%s (%s)" % (job, name) if name else job]
    out.append(" %s/%s" % (props.get("goal", ""), props.get("state", "")))
    procs = props.get("processes") or []
    if procs:
        slot, pid = procs[0]
        if slot in UNPREFIXED:
            out.append(", process %d" % pid)
        else:
            out.append(", (%s) process %d" % (slot, pid))
        for slot, pid in procs[1:]:
            out.append("\n\t%s process %d" % (slot, pid))
    # readiness (our addition): only for jobs with a `ready on` stanza, on a line
    # of its own so the first line stays the one tools parse
    respawn = props.get("respawn") or ""
    if respawn:
        out.append("\n\t" + respawn)
    ready = props.get("ready") or ""
    if ready == "ready":
        out.append("\n\tready")
    elif ready == "waiting" and props.get("goal") == "start":
        out.append("\n\twaiting for ready")
    return "".join(out)


def _is_operator(token: str) -> bool:
    return token in ("/AND", "/OR")


def job_name_index(event: str, args: list[str]) -> int | None:
    """For a job event, the index of the argument naming the job: the first
    argument if positional, else the first `JOB=` argument."""
    if event not in JOB_EVENTS and event != DIED_EVENT:
        return None
    for i, arg in enumerate(args):
        if i == 0 and "=" not in arg:
            return 0
        if arg.startswith("JOB="):
            return i
    return None


def _job_name(arg: str) -> str:
    return arg[4:] if arg.startswith("JOB=") else arg


def condition_text(rpn: list[list[str]]) -> str | None:
    """Rebuild `(a and (b or c X=1))` from RPN; None for an empty condition."""
    stack: list[str] = []
    for item in rpn:
        if not item:
            continue
        token = item[0]
        if _is_operator(token):
            if len(stack) < 2:
                raise ValueError("malformed condition")
            right = stack.pop()
            left = stack.pop()
            stack.append("(%s %s %s)" % (left, "and" if token == "/AND" else "or", right))
        else:
            stack.append(" ".join([token] + [a for a in item[1:] if a]))
    return stack[-1] if stack else None


def enumerate_lines(stanza: str, rpn: list[list[str]]) -> list[str]:
    """`  start on EVENT (job:[ NAME], env:[ ARG]...)` for every match."""
    out = []
    for item in rpn:
        if not item or _is_operator(item[0]):
            continue
        event, args = item[0], [a for a in item[1:] if a]
        idx = job_name_index(event, args)
        name = _job_name(args[idx]) if idx is not None else None
        env = "".join(" " + a for i, a in enumerate(args) if i != idx)
        out.append("  %s %s (job:%s, env:%s)" % (stanza, event, " " + name if name else "",
                                                   env))
    return out


def show_config(name: str, emits: list[str], start_on, stop_on, enumerate_: bool,
                while_on=(), ready_on=()) -> list[str]:
    lines = [name]
    lines += ["  emits %s" % e for e in emits]
    for stanza, rpn in (("start on", start_on), ("stop on", stop_on),
                        ("while", while_on or []), ("ready on", ready_on or [])):
        if enumerate_:
            lines += enumerate_lines(stanza, rpn)
        else:
            text = condition_text(rpn)
            if text is not None:
                lines.append("  %s %s" % (stanza, text))
    return lines


# -------------------------------------------------------------- check-config

class _Node:
    __slots__ = ("operator", "value", "left", "right", "event_error", "job_error")

    def __init__(self, operator=None):
        self.operator = operator
        self.value = True
        self.left = self.right = None
        self.event_error = None
        self.job_error = None


class ConfigChecker:
    """Upstream's check-config: operands are `event` or `event job`; a tree
    node is false when an operand names an unknown event or job. The tree
    is built as upstream builds it (an operator's right operand is its first
    child), so unknown operands come out right to left."""

    def __init__(self, jobs: set[str], emits: list[str], ignored: set[str], *,
                 warn: bool = False, session: bool = False):
        self.jobs = jobs
        self.emits = emits
        self.ignored = ignored
        self.warn = warn
        self.builtin = set(INIT_EVENTS) | ({"session-end"} if session else set())

    def allow_event(self, event: str) -> bool:
        from fnmatch import fnmatchcase   # only check-config needs `re`
        if any(fnmatchcase(event, pattern) for pattern in self.emits):
            return True
        return event in self.builtin or event in self.ignored

    def allow_job(self, job: str) -> bool:
        return job in self.jobs or job.startswith("$")

    def _tree(self, rpn: list[list[str]]) -> _Node | None:
        stack: list[_Node] = []
        for item in rpn:
            if not item:
                continue
            token = item[0]
            if _is_operator(token):
                if len(stack) < 2:
                    return None
                node = _Node(token)
                node.left = stack.pop()      # the right operand comes first
                node.right = stack.pop()
                if token == "/AND" or self.warn:
                    node.value = node.left.value and node.right.value
                else:
                    node.value = node.left.value or node.right.value
                stack.append(node)
            else:
                node = _Node()
                args = [a for a in item[1:] if a]
                idx = job_name_index(token, args)
                if idx is not None:
                    job = _job_name(args[idx])
                    if not self.allow_job(job):
                        node.job_error = job
                        node.value = False
                if not self.allow_event(token):
                    node.event_error = token
                    node.value = False
                stack.append(node)
        return stack[-1] if stack else None

    def check(self, stanza: str, rpn: list[list[str]]) -> list[str]:
        """The `  start on: unknown ...` lines for one condition (empty if fine)."""
        root = self._tree(rpn)
        if root is None:
            return []
        failing = self._first_failing(root, root)
        if failing is None:
            return []
        lines: list[str] = []
        self._post_order(failing, stanza, lines)
        return lines

    def _first_failing(self, node: _Node, root: _Node) -> _Node | None:
        if node is None:
            return None
        if (node.operator is not None or node is root) and not node.value:
            return node
        if node.operator is None:
            return None
        return self._first_failing(node.left, root) or self._first_failing(node.right, root)

    def _post_order(self, node: _Node, stanza: str, lines: list[str]) -> None:
        if node is None:
            return
        self._post_order(node.left, stanza, lines)
        self._post_order(node.right, stanza, lines)
        if node.event_error:
            lines.append("  %s: unknown event %s" % (stanza, node.event_error))
        if node.job_error:
            lines.append("  %s: unknown job %s" % (stanza, node.job_error))

    def report(self, name: str, start_on, stop_on) -> list[str]:
        lines = self.check("start on", start_on) + self.check("stop on", stop_on)
        return [name] + lines if lines else []
