"""The job-file parser: stanzas in, a `JobClass` out.

`parse_job(text, name, path=None, base=None)` reads a `.conf` file (or, with
`base`, an `.override` on top of a copy of the `.conf`'s class) stanza by
stanza, the way `init/parse_job.c` does: one handler per keyword, each reading
its arguments through the `Scanner` and storing them in the class. Scalars
are replaced by later stanzas, lists grow, `manual` drops an earlier `start on`.

Errors are `ParseError`s with upstream's exact message and the line upstream
reports, which is not always the scanner's current line: a bad *value* is
reported on the line where the value started (the handler's "error position"),
a bad *token* where scanning stopped. `Illegal signal status` is reported the
way init logs it, without a line (`ParseError.line is None`).

The parser owns the stanza table and value validation. It must never read
files, look at directories, or mutate the `base` class it is given.
"""

from __future__ import annotations

import copy
import re
from typing import Callable

from upstart.jobfile.conditions import EXPECTED_EVENT, parse_condition
from upstart.jobfile.lexer import CNLWS, Scanner
from upstart.jobfile.model import (
    LIMIT_RESOURCES,
    CGroup,
    JobClass,
    ParseError,
    Process,
    StateDecl,
)
from upstart.jobfile.numbers import (
    INT_MAX,
    ULONG_MAX,
    c_div,
    signal_from_name,
    strtol,
    strtoul,
    to_c_int,
)
from upstart.records import replace

UNKNOWN_STANZA = "Unknown stanza"
# the security process of `apparmor load PATH`: 1.13's program and options
APPARMOR_PARSER = "/sbin/apparmor_parser -r -W"
EXPECTED_TOKEN = "Expected token"
ILLEGAL_INTERVAL = "Illegal interval, expected number of seconds"
ILLEGAL_EXIT = "Illegal exit status, expected integer"
ILLEGAL_SIGNAL = "Illegal signal status, expected integer"
ILLEGAL_UMASK = "Illegal file creation mask, expected octal integer"
ILLEGAL_NICE = "Illegal nice value, expected -20 to 19"
ILLEGAL_OOM = "Illegal oom adjustment, expected -16 to 15 or 'never'"
ILLEGAL_OOM_SCORE = "Illegal oom score adjustment, expected -999 to 1000 or 'never'"
ILLEGAL_LIMIT = "Illegal limit, expected 'unlimited' or integer"
# Roadmap (`respawn delay`), in upstream's style.
ILLEGAL_DELAY = "Illegal delay, expected number of seconds"
ILLEGAL_DELAY_MAX = "Illegal delay, expected maximum not less than minimum"
ILLEGAL_FACTOR = "Illegal factor, expected number not less than 1"
ILLEGAL_KILL_MODE = "Illegal kill mode, expected group or job"

# init/conf.c logs this one without a line number (see 01 §2.7).
LOAD_ERROR_PREFIX = "Error while loading configuration file: "

EXPECT_MODES = ("stop", "daemon", "fork", "none")
CONSOLE_MODES = ("none", "log", "output", "owner")
PROCESS_KEYWORDS = ("pre-start", "post-start", "pre-stop", "post-stop")

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")

Handler = Callable[[Scanner, JobClass, int], None]


def parse_job(text: str, name: str, path: str | None = None,
              base: JobClass | None = None, *, roadmap: bool = True) -> JobClass:
    """Parse a job file (or an override on top of a copy of `base`).

    With `roadmap=False` only the 35 stanzas of 1.13 are known (`while`,
    `ready` and `respawn delay` are then `Unknown stanza`, as upstream says).
    Raises `ParseError` with `.path` set to `path`.
    """
    if base is None:
        cls = JobClass(name=name, path=path)
    else:
        cls = copy.deepcopy(base)
        cls.override_path = path
    try:
        parse_stanzas(Scanner(text), cls, STANZAS if roadmap else STANZAS_1_13)
    except ParseError as err:
        err.path = path
        raise
    return cls


def parse_stanzas(sc: Scanner, cls: JobClass, table: dict[str, Handler] | None = None) -> None:
    """`nih_config_parse_file` with a stanza table (default: all stanzas)."""
    if table is None:
        table = STANZAS
    while sc.pos < sc.n:
        sc.skip_ws()
        if not sc.has_token():
            sc.next_line()
            continue
        keyword = sc.next_token(CNLWS, False)
        handler = table.get(keyword)
        if handler is None:
            raise sc.error(UNKNOWN_STANZA)
        handler(sc, cls, sc.lineno)


# -- helpers ------------------------------------------------------------------

def _unknown(line: int) -> ParseError:
    return ParseError(UNKNOWN_STANZA, line)


def _signal_error(line: int) -> ParseError:
    err = ParseError(LOAD_ERROR_PREFIX + ILLEGAL_SIGNAL, None)
    err.source_line = line            # where the value was, for tools that want it
    return err


def _signal_value(arg: str, line: int) -> int:
    sig = signal_from_name(arg)
    if sig is not None:
        return sig
    try:
        value = strtoul(arg)
    except ValueError:
        raise _signal_error(line) from None
    if value > INT_MAX:
        raise _signal_error(line)
    return value


def _single(attr: str) -> Handler:
    def handler(sc: Scanner, cls: JobClass, line: int) -> None:
        setattr(cls, attr, sc.next_arg())
        sc.skip_comment()
    handler.__name__ = f"stanza_{attr}"
    return handler


def _list_of_args(attr: str) -> Handler:
    def handler(sc: Scanner, cls: JobClass, line: int) -> None:
        if not sc.has_token():
            raise sc.error(EXPECTED_TOKEN)
        getattr(cls, attr).extend(sc.parse_args())
    handler.__name__ = f"stanza_{attr}"
    return handler


# -- processes ----------------------------------------------------------------

def _parse_exec(sc: Scanner) -> Process:
    if not sc.has_token():
        raise sc.error(EXPECTED_TOKEN)
    return Process(False, sc.parse_command())


def _parse_script(sc: Scanner) -> Process:
    sc.skip_comment()
    return Process(True, sc.parse_block("script"))


def stanza_exec(sc: Scanner, cls: JobClass, line: int) -> None:
    cls.process["main"] = _parse_exec(sc)


def stanza_script(sc: Scanner, cls: JobClass, line: int) -> None:
    cls.process["main"] = _parse_script(sc)


def _process_stanza(slot: str) -> Handler:
    def handler(sc: Scanner, cls: JobClass, line: int) -> None:
        kind = sc.next_token(CNLWS, False)
        if kind == "exec":
            cls.process[slot] = _parse_exec(sc)
        elif kind == "script":
            cls.process[slot] = _parse_script(sc)
        else:
            raise _unknown(line)
    handler.__name__ = f"stanza_{slot}"
    return handler


# -- conditions ---------------------------------------------------------------

def stanza_start(sc: Scanner, cls: JobClass, line: int) -> None:
    if sc.next_token(CNLWS, False) != "on":
        raise _unknown(line)
    cls.start_on = parse_condition(sc)


def stanza_stop(sc: Scanner, cls: JobClass, line: int) -> None:
    if sc.next_token(CNLWS, False) != "on":
        raise _unknown(line)
    cls.stop_on = parse_condition(sc)


def stanza_manual(sc: Scanner, cls: JobClass, line: int) -> None:
    # D-4: no end-of-line check, what follows is read as another stanza.
    cls.start_on = None


def stanza_debug(sc: Scanner, cls: JobClass, line: int) -> None:
    # D-4 as for manual.
    cls.debug = True


def stanza_while(sc: Scanner, cls: JobClass, line: int) -> None:
    cls.while_ = parse_condition(sc)


STATE_RESERVED = ("running", "ready")      # kept by jobs (upstart/states/model.py)


def stanza_state(sc: Scanner, cls: JobClass, line: int) -> None:
    """`state NAME [KEY...] on CONDITION` declares a state an event opens;
    `state NAME until CONDITION` (after it) the condition that closes it."""
    name = sc.next_arg()
    if name in STATE_RESERVED or "=" in name:
        raise ParseError(f"Illegal state name: {name}", line)
    keys: list[str] = []
    verb = ""
    while sc.has_token():
        word = sc.next_token(CNLWS, False)
        if word in ("on", "until"):
            verb = word
            break
        if "=" in word or "$" in word:
            raise ParseError(f"Illegal state key: {word}", line)
        keys.append(word)
    if not verb:
        raise ParseError("Expected on or until", line)
    if not sc.has_token():
        raise ParseError(EXPECTED_EVENT, line)
    condition = parse_condition(sc)
    index = next((i for i, d in enumerate(cls.states) if d.name == name), None)
    if verb == "on":
        decl = StateDecl(name, tuple(keys), condition, None, line)
        if index is None:
            cls.states.append(decl)
        else:                                   # a later `on` replaces, as for `start on`
            cls.states[index] = replace(decl, until=cls.states[index].until)
        return
    if keys:
        raise ParseError(f"Illegal state key: {keys[0]}", line)
    if index is None:
        raise ParseError(f"state {name} until comes before state {name} on", line)
    cls.states[index] = replace(cls.states[index], until=condition)


def stanza_ready(sc: Scanner, cls: JobClass, line: int) -> None:
    sub = sc.next_token(CNLWS, False)
    if sub == "on":
        if sc.has_token():
            cls.ready_on = parse_condition(sc)
        else:
            cls.ready_on = None
            sc.skip_comment()
        cls.ready = True
    elif sub == "timeout":
        at = sc.lineno
        value = _interval(sc.next_arg(), at)
        cls.ready_timeout = value
        sc.skip_comment()
    else:
        raise _unknown(line)


# -- environment ----------------------------------------------------------------

def stanza_env(sc: Scanner, cls: JobClass, line: int) -> None:
    cls.env.append(sc.next_arg())
    sc.skip_comment()


# -- lifecycle ------------------------------------------------------------------

def stanza_expect(sc: Scanner, cls: JobClass, line: int, timeout: bool = True) -> None:
    arg = sc.next_arg()
    if arg == "timeout" and timeout:   # roadmap (issue #26): readiness timeout of expect
        at = sc.lineno
        cls.expect_timeout = _interval(sc.next_arg(), at)
    elif arg not in EXPECT_MODES:
        raise _unknown(line)
    else:
        cls.expect = arg
    sc.skip_comment()


def stanza_task(sc: Scanner, cls: JobClass, line: int) -> None:
    cls.task = True
    sc.skip_comment()


def _interval(arg: str, line: int) -> int:
    try:
        value = strtol(arg)
    except ValueError:
        raise ParseError(ILLEGAL_INTERVAL, line) from None
    if value < 0:
        raise ParseError(ILLEGAL_INTERVAL, line)
    return value


def stanza_kill(sc: Scanner, cls: JobClass, line: int, mode: bool = True) -> None:
    sub = sc.next_token(CNLWS, False)
    if sub == "timeout":
        at = sc.lineno
        cls.kill_timeout = _interval(sc.next_arg(), at)
    elif sub == "signal":
        at = sc.lineno
        cls.kill_signal = _signal_value(sc.next_arg(), at)
    elif sub == "mode" and mode:    # roadmap (issue #26, tracking.md)
        at = sc.lineno
        value = sc.next_arg()
        if value not in KILL_MODES:
            raise ParseError(ILLEGAL_KILL_MODE, at)
        cls.kill_mode = value
    else:
        raise _unknown(line)
    sc.skip_comment()


KILL_MODES = ("group", "job")


def stanza_reload(sc: Scanner, cls: JobClass, line: int) -> None:
    if sc.next_token(CNLWS, False) != "signal":
        raise _unknown(line)
    at = sc.lineno
    cls.reload_signal = _signal_value(sc.next_arg(), at)
    sc.skip_comment()


def _seconds(arg: str, line: int, message: str) -> float:
    if not _NUMBER.match(arg):
        raise ParseError(message, line)
    return float(arg)


def _respawn_delay(sc: Scanner, cls: JobClass) -> None:
    at = sc.lineno
    low = _seconds(sc.next_arg(), at, ILLEGAL_DELAY)
    high, factor = low, 1.0
    if sc.has_token():
        at = sc.lineno
        high = _seconds(sc.next_arg(), at, ILLEGAL_DELAY)
        if high < low:
            raise ParseError(ILLEGAL_DELAY_MAX, at)
        factor = 2.0
        if sc.has_token():
            at = sc.lineno
            factor = _seconds(sc.next_arg(), at, ILLEGAL_FACTOR)
            if factor < 1.0:
                raise ParseError(ILLEGAL_FACTOR, at)
    cls.respawn_delay = (low, high, factor)


def stanza_respawn(sc: Scanner, cls: JobClass, line: int, delay: bool = True) -> None:
    if not sc.has_token():
        cls.respawn = True
        sc.skip_comment()
        return
    sub = sc.next_token(CNLWS, False)
    if sub == "limit":
        at = sc.lineno
        arg = sc.next_arg()
        if arg != "unlimited":
            try:
                limit = to_c_int(strtol(arg))
            except ValueError:
                raise ParseError(ILLEGAL_LIMIT, at) from None
            if limit < 0:
                raise ParseError(ILLEGAL_LIMIT, at)
            at = sc.lineno
            interval = _interval(sc.next_arg(), at)
            cls.respawn_limit, cls.respawn_interval = limit, interval
        else:
            cls.respawn_limit, cls.respawn_interval = 0, 0
        sc.skip_comment()
    elif sub == "delay" and delay:
        _respawn_delay(sc, cls)
        sc.skip_comment()
    else:
        raise _unknown(line)


def stanza_normal(sc: Scanner, cls: JobClass, line: int) -> None:
    if sc.next_token(CNLWS, False) != "exit":
        raise _unknown(line)
    while True:
        at = sc.lineno
        arg = sc.next_arg()
        sig = signal_from_name(arg)
        if sig is not None:
            status = sig << 8
        else:
            try:
                status = strtoul(arg)
            except ValueError:
                raise ParseError(ILLEGAL_EXIT, at) from None
            if status > INT_MAX:
                raise ParseError(ILLEGAL_EXIT, at)
        cls.normal_exit.append(status)
        if not sc.has_token():
            break
    sc.skip_comment()


# -- process environment ----------------------------------------------------------

def stanza_console(sc: Scanner, cls: JobClass, line: int) -> None:
    arg = sc.next_arg()
    if arg not in CONSOLE_MODES:
        raise _unknown(line)
    cls.console = arg
    sc.skip_comment()


def stanza_umask(sc: Scanner, cls: JobClass, line: int) -> None:
    arg = sc.next_arg()
    try:
        value = strtoul(arg, 8) & 0xFFFFFFFF        # (mode_t) cast
    except ValueError:
        raise ParseError(ILLEGAL_UMASK, line) from None
    if value & ~0o777:
        raise ParseError(ILLEGAL_UMASK, line)
    cls.umask = value
    sc.skip_comment()


def stanza_nice(sc: Scanner, cls: JobClass, line: int) -> None:
    arg = sc.next_arg()
    try:
        value = to_c_int(strtol(arg))
    except ValueError:
        raise ParseError(ILLEGAL_NICE, line) from None
    if value < -20 or value > 19:
        raise ParseError(ILLEGAL_NICE, line)
    cls.nice = value
    sc.skip_comment()


def stanza_oom(sc: Scanner, cls: JobClass, line: int) -> None:
    arg = sc.next_arg()
    if arg == "score":
        at = sc.lineno
        score = sc.next_arg()
        if score == "never":
            cls.oom_score = -1000
        else:
            try:
                value = to_c_int(strtol(score))
            except ValueError:
                raise ParseError(ILLEGAL_OOM_SCORE, at) from None
            if value < -1000 or value > 1000:
                raise ParseError(ILLEGAL_OOM_SCORE, at)
            cls.oom_score = value
    elif arg == "never":
        cls.oom_score = -1000
    else:
        try:
            adj = to_c_int(strtol(arg))
        except ValueError:
            raise ParseError(ILLEGAL_OOM, line) from None
        if adj < -17 or adj > 15:
            raise ParseError(ILLEGAL_OOM, line)
        cls.oom_score = c_div(adj * 1000, 17 if adj < 0 else 15)
    sc.skip_comment()


def _rlimit(arg: str, line: int) -> int | None:
    if arg == "unlimited":
        return None
    try:
        value = strtoul(arg)
    except ValueError:
        raise ParseError(ILLEGAL_LIMIT, line) from None
    return None if value == ULONG_MAX else value


def stanza_limit(sc: Scanner, cls: JobClass, line: int) -> None:
    resource = sc.next_arg()
    if resource not in LIMIT_RESOURCES:
        raise _unknown(line)
    at = sc.lineno
    soft = _rlimit(sc.next_arg(), at)
    at = sc.lineno
    hard = _rlimit(sc.next_arg(), at)
    cls.limits[resource] = (soft, hard)
    sc.skip_comment()


def stanza_apparmor(sc: Scanner, cls: JobClass, line: int) -> None:
    # `apparmor load PATH` makes the `security` process, as 1.13's parser did
    # (01 §10); whether it runs (AppArmor usable) is decided when the job starts.
    sub = sc.next_token(CNLWS, False)
    if sub == "load":
        cls.apparmor_load = sc.next_arg()
        cls.process["security"] = Process(False, "%s %s" % (APPARMOR_PARSER,
                                                            cls.apparmor_load))
    elif sub == "switch":
        cls.apparmor_switch = sc.next_arg()
    else:
        raise _unknown(line)
    sc.skip_comment()


def stanza_cgroup(sc: Scanner, cls: JobClass, line: int) -> None:
    controller = sc.next_arg()
    rest: list[str] = []
    while len(rest) < 3 and sc.has_token():
        # Spec 01 §11: a value may be given as "" (an empty token is allowed here).
        tok, _ = sc.token(CNLWS, True)
        sc.skip_whitespace()
        rest.append(tok)
    sc.skip_comment()
    if len(rest) == 0:
        entry = CGroup(controller)
    elif len(rest) == 1:
        entry = CGroup(controller, rest[0])
    elif len(rest) == 2:
        entry = CGroup(controller, None, rest[0], rest[1])
    else:
        entry = CGroup(controller, rest[0], rest[1], rest[2])
    _merge_cgroup(cls.cgroups, entry)


def _merge_cgroup(entries: list[CGroup], new: CGroup) -> None:
    """Entries are keyed by (controller, name, key); a bare entry is subsumed."""
    for i, old in enumerate(entries):
        if (old.controller, old.name) != (new.controller, new.name):
            continue
        if old.key == new.key:
            entries[i] = new
            return
        if new.key is None:
            return
        if old.key is None:
            entries[i] = new
            return
    entries.append(new)


STANZAS: dict[str, Handler] = {
    "instance": _single("instance"),
    "description": _single("description"),
    "author": _single("author"),
    "version": _single("version"),
    "env": stanza_env,
    "export": _list_of_args("export"),
    "start": stanza_start,
    "stop": stanza_stop,
    "emits": _list_of_args("emits"),
    "exec": stanza_exec,
    "script": stanza_script,
    "pre-start": _process_stanza("pre-start"),
    "post-start": _process_stanza("post-start"),
    "pre-stop": _process_stanza("pre-stop"),
    "post-stop": _process_stanza("post-stop"),
    "expect": stanza_expect,
    "task": stanza_task,
    "kill": stanza_kill,
    "respawn": stanza_respawn,
    "normal": stanza_normal,
    "console": stanza_console,
    "umask": stanza_umask,
    "nice": stanza_nice,
    "oom": stanza_oom,
    "limit": stanza_limit,
    "chroot": _single("chroot"),
    "chdir": _single("chdir"),
    "setuid": _single("setuid"),
    "setgid": _single("setgid"),
    "debug": stanza_debug,
    "manual": stanza_manual,
    "usage": _single("usage"),
    "reload": stanza_reload,
    "apparmor": stanza_apparmor,
    "cgroup": stanza_cgroup,
}


def _stanza_respawn_1_13(sc: Scanner, cls: JobClass, line: int) -> None:
    stanza_respawn(sc, cls, line, delay=False)


def _stanza_expect_1_13(sc: Scanner, cls: JobClass, line: int) -> None:
    stanza_expect(sc, cls, line, timeout=False)


def _stanza_kill_1_13(sc: Scanner, cls: JobClass, line: int) -> None:
    stanza_kill(sc, cls, line, mode=False)


# The 35 stanzas of 1.13, exactly.
STANZAS_1_13: dict[str, Handler] = dict(STANZAS, respawn=_stanza_respawn_1_13,
                                        expect=_stanza_expect_1_13, kill=_stanza_kill_1_13)

# Roadmap stanzas: not in 1.13 (which says `Unknown stanza` for them).
ROADMAP_STANZAS: dict[str, Handler] = {
    "while": stanza_while,
    "ready": stanza_ready,
    "state": stanza_state,
}
STANZAS.update(ROADMAP_STANZAS)
