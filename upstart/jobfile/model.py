"""The typed model of a job class, as the parser builds it.

A `JobClass` is what one `.conf` file (plus its `.override`) says, and nothing
more: no runtime state lives here. The parser fills it in stanza by stanza
(an override is parsed on top of the same object, so scalars are replaced and
lists grow); everything downstream (the core, the process adapter, the D-Bus
properties, `show-config`) only reads it.

Event expressions (`start on`, `stop on`, and the roadmap's `while` and
`ready on`) are immutable trees of `Match` leaves and `Op` nodes, exactly as
written: no precedence, left-associative (see docs/design/grammar.md). The
core builds its own latching operator state from them.
"""

from __future__ import annotations

import signal as _signal
from typing import Literal, Union

from upstart.records import dataclass, field

# Process slots in upstream's fixed order: status lines and the D-Bus
# `processes` property list live processes in this order.
PROCESS_SLOTS: tuple[str, ...] = (
    "main", "pre-start", "post-start", "pre-stop", "post-stop", "security",
)

EXPECT_MODES = ("none", "stop", "fork", "daemon")
CONSOLE_MODES = ("none", "log", "output", "owner")
LIMIT_RESOURCES = (
    "as", "core", "cpu", "data", "fsize", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "sigpending", "stack",
)


@dataclass(frozen=True)
class Process:
    """One process slot: an `exec` command line or a `script` block.

    `command` is the raw command text for exec (no dequoting) or the
    de-indented script text (every line ending in LF) for script.
    """

    script: bool
    command: str


@dataclass(frozen=True)
class Match:
    """A leaf of an event expression: an event name and its arguments.

    Arguments are kept exactly as written after dequoting: positional
    (`[2345]`), named (`KEY=VALUE`) or negated (`KEY!=VALUE`).
    """

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Op:
    """An `and`/`or` node of an event expression."""

    kind: Literal["and", "or"]
    left: "Expr"
    right: "Expr"


Expr = Union[Match, Op]


def expr_to_text(expr: Expr, top: bool = True) -> str:
    """The fully bracketed form that `initctl show-config` prints."""
    if isinstance(expr, Match):
        return " ".join((expr.name,) + expr.args)
    inner = f"{expr_to_text(expr.left, False)} {expr.kind} {expr_to_text(expr.right, False)}"
    return f"({inner})"


def expr_to_rpn(expr: Expr | None) -> list[list[str]]:
    """The `aas` reverse Polish form of the D-Bus `start_on`/`stop_on` properties."""
    out: list[list[str]] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Match):
            out.append([e.name, *e.args])
        else:
            walk(e.left)
            walk(e.right)
            out.append(["/AND" if e.kind == "and" else "/OR"])

    if expr is not None:
        walk(expr)
    return out


def expr_matches(expr: Expr | None) -> list[Match]:
    """Every leaf, left to right."""
    if expr is None:
        return []
    if isinstance(expr, Match):
        return [expr]
    return expr_matches(expr.left) + expr_matches(expr.right)


@dataclass(frozen=True)
class CGroup:
    """One `cgroup CONTROLLER [NAME] [KEY VALUE]` entry.

    `name` is None when the stanza gave none (meaning `$UPSTART_CGROUP`);
    `key`/`value` are None when the stanza set nothing.
    """

    controller: str
    name: str | None = None
    key: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class StateDecl:
    """A state that events open and close (`state NAME [KEY...] on CONDITION`,
    `state NAME until CONDITION`; docs/design/states.md)."""

    name: str
    keys: tuple[str, ...] = ()          # the variables that name one state of many
    on: Expr | None = None
    until: Expr | None = None
    line: int = 0


@dataclass
class JobClass:
    """Everything one job file says. Defaults are upstream's (job_class_new)."""

    name: str
    path: str | None = None
    override_path: str | None = None

    # informational
    description: str | None = None
    author: str | None = None
    version: str | None = None
    usage: str | None = None
    emits: list[str] = field(default_factory=list)

    # instances and environment
    instance: str = ""
    env: list[str] = field(default_factory=list)        # "KEY=VALUE" or bare "KEY"
    export: list[str] = field(default_factory=list)

    # conditions
    start_on: Expr | None = None
    stop_on: Expr | None = None

    # processes, keyed by slot name (see PROCESS_SLOTS)
    process: dict[str, Process] = field(default_factory=dict)

    # lifecycle
    expect: str = "none"
    task: bool = False
    respawn: bool = False
    respawn_limit: int = 10            # 0 = unlimited
    respawn_interval: int = 5          # seconds; 0 = unlimited
    normal_exit: list[int] = field(default_factory=list)   # status, or signum << 8
    kill_timeout: int = 5
    kill_signal: int = int(_signal.SIGTERM)
    reload_signal: int = int(_signal.SIGHUP)

    # process environment
    console: str | None = None         # None: the daemon's default (log)
    umask: int | None = None           # None: 022 (system) / inherited (session)
    nice: int | None = None
    oom_score: int | None = None       # -1000 for `never`; None = not written
    limits: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    chroot: str | None = None
    chdir: str | None = None
    setuid: str | None = None
    setgid: str | None = None
    apparmor_load: str | None = None
    apparmor_switch: str | None = None
    cgroups: list[CGroup] = field(default_factory=list)
    debug: bool = False

    # roadmap stanzas (their behaviour comes with their own issues)
    while_: Expr | None = None         # `while CONDITION`
    ready_on: Expr | None = None       # `ready on [CONDITION]`
    ready: bool = False                # a `ready on` stanza was given (with or without condition)
    ready_timeout: int | None = None   # `ready timeout SECONDS`
    expect_timeout: int | None = None  # `expect timeout SECONDS` (issue #26, tracking.md)
    kill_mode: str | None = None       # `kill mode group|job` (issue #26, tracking.md)
    respawn_delay: tuple[float, float, float] | None = None   # `respawn delay MIN [MAX [FACTOR]]`
    states: list[StateDecl] = field(default_factory=list)     # `state NAME ... on/until`

    def job_name_for_display(self, instance: str) -> str:
        return f"{self.name} ({instance})" if instance else self.name


class ParseError(Exception):
    """A job file could not be parsed: `path:line: message`."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path

    def __str__(self) -> str:
        if self.path is None:
            return f"{self.line}: {self.message}" if self.line else self.message
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"
