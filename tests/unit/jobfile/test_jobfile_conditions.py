"""`start on` / `stop on` (and the roadmap's `while` / `ready on`) expressions."""

import pytest

from upstart.jobfile.model import Match, Op, ParseError, expr_to_rpn, expr_to_text
from upstart.jobfile.parser import parse_job


def cond(text: str, stanza: str = "start on"):
    cls = parse_job(f"{stanza} {text}\n", "j")
    return {"start on": cls.start_on, "stop on": cls.stop_on,
            "while": cls.while_, "ready on": cls.ready_on}[stanza]


@pytest.mark.parametrize("text, bracketed", [
    ("a", "a"),
    ("a and b and c", "((a and b) and c)"),
    ("a or b and c", "((a or b) and c)"),          # no precedence, left-assoc
    ("a and b or c", "((a and b) or c)"),
    ("a and (b or c)", "(a and (b or c))"),
    ("(a or b) and (c or d)", "((a or b) and (c or d))"),
    ("x and (y or z) or w", "((x and (y or z)) or w)"),
    ("(((a)))", "a"),
    ("p or (q and r and s)", "(p or ((q and r) and s))"),
    ("a or\\\n  b", "(a or b)"),
    ("(a\n  or b)", "(a or b)"),
    ("(a # first\n   or # second\n   b)", "(a or b)"),
    ("(a-ev X=1 and (b-ev or c-ev Y!=2)) or runlevel [2345]",
     "((a-ev X=1 and (b-ev or c-ev Y!=2)) or runlevel [2345])"),
])
def test_bracketed_interpretation(text, bracketed):
    assert expr_to_text(cond(text)) == bracketed


def test_arguments_are_dequoted_and_kept_in_order():
    assert cond('net-up [2345] IFACE="eth 0" X!=y') == Match("net-up", ("[2345]", "IFACE=eth 0", "X!=y"))


def test_quoted_operators_are_operands():
    assert cond('a "and" b') == Match("a", ("and", "b"))
    assert cond("'or'") == Match("or")


def test_rpn_form():
    assert expr_to_rpn(cond("a X=1 or b and c")) == [
        ["a", "X=1"], ["b"], ["/OR"], ["c"], ["/AND"]]


def test_tree_shape():
    assert cond("a or b and c") == Op("and", Op("or", Match("a"), Match("b")), Match("c"))


def test_expression_ends_at_line_end_outside_parentheses():
    cls = parse_job("start on a or b\ntask\n", "j")
    assert cls.task and expr_to_text(cls.start_on) == "(a or b)"


@pytest.mark.parametrize("text, message, line", [
    ("start on\n", "Expected token", 1),
    ("start on and\n", "Expected event", 1),
    ("start on a and\n", "Expected event", 1),
    ("start on a or or b\n", "Expected event", 1),
    ("start on ()\n", "Expected event", 1),
    ("start on (a) b\n", "Expected operator", 1),
    ("start on a (b)\n", "Expected operator", 1),
    ("start on (a) (b)\n", "Expected operator", 1),
    ("start on (a\n", "Mismatched parentheses", 2),
    ("start on (a or b\n", "Mismatched parentheses", 2),
    ("start on (a or b", "Mismatched parentheses", 1),
    ("start on (a\ntask\nexec x\n", "Mismatched parentheses", 4),
    ("start on a)\n", "Mismatched parentheses", 1),
    ("start on a X=1 y\n", "Expected variable name before value", 1),
    ("start on a X!=1 y\n", "Expected variable name before value", 1),
    ("start on (a and\n b) and\n", "Expected event", 2),
    ("start on (a and\n b) (c)\n", "Expected operator", 2),
    # every line inside parentheses must hold a token: blank or comment-only lines fail
    ("start on (a and\n\n b)\n", "Expected token", 2),
    ("start on (a\n# c\n or b)\n", "Expected token", 2),
    ('start on a "x\n', "Unterminated quoted string", 2),
    ("stop on and\n", "Expected event", 1),
    ("stop\n", "Expected token", 1),
])
def test_condition_errors(text, message, line):
    with pytest.raises(ParseError) as ei:
        parse_job(text, "j")
    assert (ei.value.message, ei.value.line) == (message, line)


def test_stop_on_same_grammar():
    assert expr_to_text(cond("stopping a or b", "stop on")) == "(stopping a or b)"


def test_while_uses_the_condition_grammar():
    assert expr_to_text(cond("started bar and started baz", "while")) == "(started bar and started baz)"
    with pytest.raises(ParseError) as ei:
        parse_job("while\n", "j")
    assert ei.value.message == "Expected token"


def test_ready_on_with_and_without_condition():
    cls = parse_job("ready on stopped myjob and started myjob2\n", "j")
    assert cls.ready and expr_to_text(cls.ready_on) == "(stopped myjob and started myjob2)"
    cls = parse_job("ready on\ntask\n", "j")
    assert cls.ready and cls.ready_on is None and cls.task
    cls = parse_job("ready on # later\n", "j")
    assert cls.ready and cls.ready_on is None
    assert not parse_job("", "j").ready


@pytest.mark.parametrize("text, message", [
    ("ready\n", "Expected token"),
    ("ready foo\n", "Unknown stanza"),
    ("ready on (a\n", "Mismatched parentheses"),
    ("ready timeout x\n", "Illegal interval, expected number of seconds"),
    ("ready timeout -1\n", "Illegal interval, expected number of seconds"),
    ("ready timeout\n", "Expected token"),
    ("ready timeout 5 6\n", "Unexpected token"),
])
def test_ready_errors(text, message):
    with pytest.raises(ParseError) as ei:
        parse_job(text, "j")
    assert ei.value.message == message


def test_ready_timeout():
    assert parse_job("ready timeout 30\n", "j").ready_timeout == 30


@pytest.mark.parametrize("text, value", [
    ("respawn delay 1\n", (1.0, 1.0, 1.0)),
    ("respawn delay 1 60\n", (1.0, 60.0, 2.0)),
    ("respawn delay 0.5 30 1.5\n", (0.5, 30.0, 1.5)),
    ("respawn delay 0 0 1\n", (0.0, 0.0, 1.0)),
])
def test_respawn_delay(text, value):
    cls = parse_job(text, "j")
    assert cls.respawn_delay == value and not cls.respawn


@pytest.mark.parametrize("text, message", [
    ("respawn delay\n", "Expected token"),
    ("respawn delay x\n", "Illegal delay, expected number of seconds"),
    ("respawn delay -1\n", "Illegal delay, expected number of seconds"),
    ("respawn delay 1 x\n", "Illegal delay, expected number of seconds"),
    ("respawn delay 5 1\n", "Illegal delay, expected maximum not less than minimum"),
    ("respawn delay 1 5 0.5\n", "Illegal factor, expected number not less than 1"),
    ("respawn delay 1 5 x\n", "Illegal factor, expected number not less than 1"),
    ("respawn delay 1 5 2 9\n", "Unexpected token"),
])
def test_respawn_delay_errors(text, message):
    with pytest.raises(ParseError) as ei:
        parse_job(text, "j")
    assert (ei.value.message, ei.value.line) == (message, 1)


@pytest.mark.parametrize("text", ["while a\n", "ready on\n", "ready timeout 1\n", "respawn delay 1\n"])
def test_roadmap_stanzas_can_be_switched_off(text):
    parse_job(text, "j")
    with pytest.raises(ParseError) as ei:
        parse_job(text, "j", roadmap=False)
    assert (ei.value.message, ei.value.line) == ("Unknown stanza", 1)


def test_expect_timeout():   # issue #26
    cls = parse_job("expect fork\nexpect timeout 10\n", "j")
    assert (cls.expect, cls.expect_timeout) == ("fork", 10)
    with pytest.raises(ParseError) as ei:
        parse_job("expect timeout x\n", "j")
    assert ei.value.message == "Illegal interval, expected number of seconds"
    with pytest.raises(ParseError) as ei:
        parse_job("expect timeout 1\n", "j", roadmap=False)
    assert ei.value.message == "Unknown stanza"


def test_kill_mode():   # issue #26
    assert parse_job("kill mode group\n", "j").kill_mode == "group"
    assert parse_job("kill mode job\n", "j").kill_mode == "job"
    assert parse_job("exec x\n", "j").kill_mode is None
    with pytest.raises(ParseError) as ei:
        parse_job("kill mode all\n", "j")
    assert (ei.value.message, ei.value.line) == ("Illegal kill mode, expected group or job", 1)
    with pytest.raises(ParseError) as ei:
        parse_job("kill mode group\n", "j", roadmap=False)
    assert ei.value.message == "Unknown stanza"
