"""The `time` event grammar: what a job's `time KEY=VALUE...` leaf asks for.

A leaf such as `start on time CRON="0 3 * * *"` or `stop on time AFTER="started
foo" DELAY=30s COUNT=1` is parsed into a `Schedule`. Keys (all named, each at
most once, no positional arguments, no `!=`, no `$VAR`):

| key | meaning |
|---|---|
| `CRON=` | cron expression, 5 fields or 6 with seconds first, or `@daily`... |
| `TZ=` | zone of a CRON (default: the bridge's local zone) |
| `EVERY=` | fixed interval of elapsed time (`30s`, `5m`, `1h30m`) |
| `AFTER=` | a reference event leaf (`startup`, `"started foo"`, `"stopped x RESULT=ok"`) |
| `DELAY=` | with AFTER: how long after each occurrence (default 0) |
| `COUNT=` | at most this many firings per life of init |
| `SPREAD=` | a fixed, per-host offset in [0, SPREAD) added to every firing |
| `CATCHUP=` | `yes` (default) or `no`: fire once for runs missed while down |

Exactly one of CRON, EVERY, AFTER. The event the bridge emits carries the
leaf's pairs (so the job's own condition matches it) in a canonical key order,
plus `TIME_DUE`, `TIME_FIRED` and `TIME_MISSED`. Values are globs to init, so
the bridge emits each value with glob escapes removed (`[*]` and `\\*` become
`*`): writing `CRON="0 3 [*] [*] [*]"` makes the job match that text only.

Also finds `time` leaves in the D-Bus RPN of `start_on`/`stop_on` and works
out which leaves another schedule's event would match too (cross-firing).
Pure; never touches a clock, a file or init.
"""

from __future__ import annotations

import shlex

from upstart.jobfile.match import glob_match, match_args
from upstart.records import dataclass
from upstart.timebridge.durations import DurationError, parse_duration

EVENT = "time"
KEYS = ("CRON", "TZ", "EVERY", "AFTER", "DELAY", "COUNT", "SPREAD", "CATCHUP")
KINDS = ("CRON", "EVERY", "AFTER")


class ScheduleError(ValueError):
    """The leaf is not a valid time condition; the text says why."""


@dataclass(frozen=True)
class Schedule:
    env: tuple[str, ...]                 # emitted KEY=VALUE pairs; also the identity
    kind: str                            # "cron", "every" or "after"
    cron: str | None = None
    zone: str | None = None
    every: float | None = None
    after: tuple[str, tuple[str, ...]] | None = None
    delay: float = 0.0
    count: int | None = None
    spread: float = 0.0
    catchup: bool = True

    @property
    def key(self) -> str:
        return " ".join(self.env)

    def matches_reference(self, name: str, env: list[str] | tuple[str, ...]) -> bool:
        """Is an observed event an occurrence of this schedule's AFTER reference?"""
        if self.after is None:
            return False
        ref_name, ref_args = self.after
        return match_args(ref_name, ref_args, name, env)


def unglob(text: str) -> str:
    """The literal text a glob pattern stands for: `\\c` and `[c]` become `c`."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
        elif c == "[" and i + 2 < n and text[i + 2] == "]" and text[i + 1] not in "!^":
            out.append(text[i + 1])
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_time_match(args) -> Schedule:
    """Parse a `time` leaf's arguments; raises ScheduleError."""
    values: dict[str, str] = {}
    for arg in args:
        eq = arg.find("=")
        if eq > 0 and arg[eq - 1] == "!":
            raise ScheduleError("time condition does not accept negation: %s" % arg)
        if "=" not in arg:
            raise ScheduleError("time condition needs KEY=VALUE arguments: %s" % arg)
        key, value = arg.split("=", 1)
        if key not in KEYS:
            raise ScheduleError("unknown time condition key: %s" % key)
        if key in values:
            raise ScheduleError("time condition key given twice: %s" % key)
        if "$" in value:
            raise ScheduleError("variables are not expanded in time conditions: %s" % arg)
        literal = unglob(value)
        if not glob_match(value, literal):
            raise ScheduleError("time condition value must be literal text: %s" % arg)
        values[key] = literal
    kinds = [k for k in KINDS if k in values]
    if len(kinds) != 1:
        raise ScheduleError("time condition needs exactly one of CRON=, EVERY=, AFTER=")
    kind = kinds[0].lower()
    if "TZ" in values and kind != "cron":
        raise ScheduleError("TZ= only applies to CRON=")
    if "DELAY" in values and kind != "after":
        raise ScheduleError("DELAY= only applies to AFTER=")
    if "CATCHUP" in values and kind == "after":
        raise ScheduleError("CATCHUP= does not apply to AFTER=")
    fields: dict = {}
    try:
        if kind == "cron":
            fields["cron"] = values["CRON"]
            fields["zone"] = values.get("TZ")
            _check_cron(values["CRON"], values.get("TZ"))
        elif kind == "every":
            fields["every"] = parse_duration(values["EVERY"])
            if fields["every"] <= 0:
                raise ScheduleError("EVERY= must be more than zero")
        else:
            fields["after"] = _reference(values["AFTER"])
            fields["delay"] = parse_duration(values.get("DELAY", "0"))
        if "SPREAD" in values:
            fields["spread"] = parse_duration(values["SPREAD"])
    except DurationError as exc:
        raise ScheduleError(str(exc)) from None
    if "COUNT" in values:
        text = values["COUNT"]
        if not text.isdigit() or int(text) < 1:
            raise ScheduleError("COUNT= must be a positive integer: %s" % text)
        fields["count"] = int(text)
    if "CATCHUP" in values:
        if values["CATCHUP"] not in ("yes", "no"):
            raise ScheduleError("CATCHUP= must be yes or no")
        fields["catchup"] = values["CATCHUP"] == "yes"
    env = tuple("%s=%s" % (k, values[k]) for k in KEYS if k in values)
    return Schedule(env=env, kind=kind, **fields)


def _check_cron(expr: str, zone: str | None) -> None:
    from upstart.timebridge.cron import CronError, CronRule
    tz = None
    if zone is not None:
        from zoneinfo import ZoneInfo
        try:
            tz = ZoneInfo(zone)
        except (ValueError, OSError, LookupError) as exc:
            raise ScheduleError("unknown time zone %s: %s" % (zone, exc)) from None
    try:
        CronRule(expr, tz)
    except CronError as exc:
        raise ScheduleError(str(exc)) from None


def _reference(text: str) -> tuple[str, tuple[str, ...]]:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ScheduleError("AFTER= is not an event: %s" % exc) from None
    if not words or "=" in words[0] or "/" == words[0][:1]:
        raise ScheduleError("AFTER= needs an event name: %s" % text)
    return words[0], tuple(words[1:])


def validate_time_match(args) -> str | None:
    """For init-checkconf: None if a `time` leaf's args are valid, else the error."""
    try:
        parse_time_match(tuple(args))
    except ScheduleError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------ jobs' conditions


@dataclass(frozen=True)
class Leaf:
    """One `time` leaf of one job's condition."""

    job: str
    stanza: str                          # "start on" or "stop on"
    args: tuple[str, ...]


def time_leaves(job: str, start_on, stop_on) -> list[Leaf]:
    """Every `time` leaf in a job's RPN `start_on`/`stop_on` (D-Bus `aas`)."""
    out = []
    for stanza, rpn in (("start on", start_on), ("stop on", stop_on)):
        for item in rpn or ():
            if item and item[0] == EVENT:
                out.append(Leaf(job, stanza, tuple(item[1:])))
    return out


def crossfire(schedule: Schedule, leaves: list[Leaf]) -> list[Leaf]:
    """Leaves of *other* schedules that this schedule's event also matches."""
    out = []
    for leaf in leaves:
        try:
            own = parse_time_match(leaf.args)
        except ScheduleError:
            continue
        if own.env != schedule.env and match_args(EVENT, leaf.args, EVENT, schedule.env):
            out.append(leaf)
    return out
