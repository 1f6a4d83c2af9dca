"""Fuzzing the job-file parser and the event-expression parser (issue #14).

Properties: for any text, `parse_job` returns a JobClass or raises
`ParseError` (with a line number), never anything else; a condition that
parses survives the engine (`Operator.from_expr`) and matching any event.
Strategies mix raw text with lines built from the grammar's own words, so the
deep paths (conditions, respawn delay, limits) are reached, not just the lexer.
"""

from __future__ import annotations

from fuzz_common import fuzz
from hypothesis import given
from hypothesis import strategies as st

from upstart.core.operator import Operator
from upstart.jobfile.model import JobClass, ParseError
from upstart.jobfile.parser import parse_job

FUZZ = fuzz()

STANZAS = ["start on", "stop on", "while", "ready on", "ready timeout", "respawn",
           "respawn limit", "respawn delay", "exec", "script", "end script", "pre-start exec",
           "post-stop script", "env", "export", "instance", "expect", "kill timeout",
           "kill signal", "normal exit", "console", "umask", "nice", "oom score", "limit",
           "task", "manual", "usage", "description", "setuid", "chdir", "cgroup", "emits",
           "reload signal", "apparmor load", "#", "emits"]
WORDS = ["and", "or", "(", ")", "foo", "bar", "A=1", "B!=x*", "$X", "${X-y}", "[0-6]",
         "unlimited", "0", "1", "-1", "99999999999999999999", ".5", "1e3", "2", "TERM",
         "SIGKILL", "\"quoted word\"", "'single'", "\\", "\\\n", "=", "!=", "nproc",
         "fork", "daemon", "stop", "log", "none", "\t", "0.000001", "inf", "nan"]


def _line(draw_stanza, draw_words) -> str:
    return draw_stanza + " " + " ".join(draw_words)


job_lines = st.builds(_line, st.sampled_from(STANZAS),
                      st.lists(st.sampled_from(WORDS), max_size=8))
job_text = st.one_of(
    st.text(max_size=400),
    st.lists(job_lines, max_size=12).map("\n".join),
    st.lists(st.one_of(job_lines, st.text(max_size=40)), max_size=8).map("\n".join),
)


def _parse(text: str, roadmap: bool = True) -> JobClass | None:
    try:
        return parse_job(text, "fuzz", "/fuzz.conf", roadmap=roadmap)
    except ParseError as err:
        assert isinstance(err.line, int) and err.line >= 0 or err.line is None
        return None


@FUZZ
@given(job_text, st.booleans())
def test_job_parser_only_raises_parse_error(text, roadmap):
    cls = _parse(text, roadmap)
    if cls is not None and cls.respawn_delay is not None:
        low, high, factor = cls.respawn_delay
        assert 0 <= low <= high and factor >= 1


@FUZZ
@given(job_text, job_text)
def test_override_on_top_of_parsed_job(base_text, override_text):
    base = _parse(base_text)
    if base is None:
        return
    try:
        parse_job(override_text, "fuzz", "/fuzz.override", base=base)
    except ParseError:
        pass


condition = st.lists(st.sampled_from(WORDS[:12] + ["started", "stopping", "net-up",
                                                   "IFACE=eth*", "JOB=$J"]),
                     min_size=1, max_size=16).map(" ".join)


@FUZZ
@given(condition, st.sampled_from(["start on", "stop on", "while", "ready on"]),
       st.lists(st.sampled_from(["foo", "bar", "started", "net-up", "A=1", "IFACE=eth0",
                                 "B=x1", "JOB=a"]), max_size=5))
def test_event_expression_parser_and_matching(cond, stanza, event):
    cls = _parse(f"{stanza} {cond}\n")
    if cls is None:
        return
    expr = {"start on": cls.start_on, "stop on": cls.stop_on, "while": cls.while_,
            "ready on": cls.ready_on}[stanza]
    if expr is None:
        return
    oper = Operator.from_expr(expr)
    if event:
        from upstart.core.event import Event
        ev = Event(event[0], [e for e in event[1:] if "=" in e])
        oper.handle(ev, ["J=a", "X=1"])
        assert oper.value in (True, False)
