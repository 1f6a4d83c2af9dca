"""Matching one event against a condition leaf, and latching a tree (02 §3-4)."""

import pytest
from core_harness import cond

from upstart.core.event import Event
from upstart.core.operator import Operator
from upstart.jobfile.match import glob_match, match_args


def m(args, name, env, expect_name="ev", menv=None):
    return match_args(expect_name, tuple(args), name, env, menv)


@pytest.mark.parametrize("args,env,want", [
    (["[2345]"], ["RUNLEVEL=2", "PREVLEVEL=N"], True),
    (["[!2345]"], ["RUNLEVEL=6", "PREVLEVEL=2"], True),
    (["[!2345]"], ["RUNLEVEL=2"], False),
    (["rc", "RUNLEVEL=[2345]"], ["JOB=rc", "INSTANCE=", "RESULT=ok", "RUNLEVEL=2"], True),
    (["JOB=dbus"], ["JOB=dbus", "INSTANCE="], True),
    (["INTERFACE!=lo"], ["DEVPATH=/x"], False),
    (["INTERFACE!=lo"], ["INTERFACE=eth0"], True),
    (["INTERFACE!=lo"], ["INTERFACE=lo"], False),
    (["DEVPATH=ttyS*"], ["DEVPATH=/devices/x/ttyS0"], False),
    (["DEVPATH=*ttyS*"], ["DEVPATH=/devices/x/ttyS0"], True),
    (["F=*"], ["F=.hidden/a.b"], True),
    (["a", "b"], ["X=a"], False),                    # more positionals than vars
    (["X=1", "b"], ["Y=0", "X=1", "Z=b"], True),     # cursor jumps to the named entry
    (["X=1", "b"], ["Z=b", "X=1"], False),
    (["V=a?c"], ["V=abc"], True),
    (["V=[a-c]x"], ["V=bx"], True),
    (["V=\\*"], ["V=*"], True),
    (["V=\\*"], ["V=a"], False),
    (["FILE=/a b"], ["FILE=/a b"], True),
    (["K=v"], ["K=v", "K=w"], True),
    (["K=w"], ["K=v", "K=w"], False),                 # first occurrence only
])
def test_match(args, env, want):
    assert m(args, "ev", env) is want


def test_name_must_be_exact():
    assert not match_args("ev", (), "ev2", [])
    assert not match_args("ev", (), "EV", [])


def test_variables_expand_from_given_env_only():
    assert m(["DEVPATH=$DEVPATH"], "ev", ["DEVPATH=/d"], menv=["DEVPATH=/d"])
    assert not m(["DEVPATH=$DEVPATH"], "ev", ["DEVPATH=/d"], menv=None)  # start on: empty env
    assert m(["X=${NOPE-dflt}"], "ev", ["X=dflt"], menv=None)
    assert m(["[!$RUNLEVEL]"], "ev", ["RUNLEVEL=3"], menv=["RUNLEVEL=2"])


def test_glob_star_matches_slash_and_dots():
    assert glob_match("*", "/a/.b")
    assert glob_match("/dev/*", "/dev/a/b")
    assert not glob_match("a", "ab")


def ev(name, *env):
    return Event(name, list(env))


def test_and_or_latching_timeline_decision_a():
    root = Operator.from_expr(cond("a and ( b or c )"))
    a1, b, c, a2 = ev("a", "X=1"), ev("b", "Y=2"), ev("c", "K=3"), ev("a", "X=4")
    assert root.handle(a1) and not root.value
    assert a1.blockers == 0                    # remembered, not held
    assert root.handle(b) and root.value
    assert [e.name for e in root.matched()] == ["a", "b"]
    root.reset()
    assert root.handle(c) and not root.value
    assert root.handle(a2) and root.value
    assert root.matched() == [a2, c]


def test_latched_leaf_ignores_second_event():
    root = Operator.from_expr(cond("a and b"))
    first, second = ev("a", "N=1"), ev("a", "N=2")
    root.handle(first)
    assert not root.handle(second)
    root.handle(ev("b"))
    assert root.matched()[0] is first


def test_only_true_branches_are_collected():
    root = Operator.from_expr(cond("( a or b ) and c"))
    root.handle(ev("a"))
    root.handle(ev("c"))
    assert [e.name for e in root.matched()] == ["a", "c"]


def test_no_precedence():
    # a or b and c == (a or b) and c: a alone does not fire
    root = Operator.from_expr(cond("a or b and c"))
    root.handle(ev("a"))
    assert not root.value
    root.handle(ev("c"))
    assert root.value


def test_latch_carried_to_same_shaped_tree():
    old = Operator.from_expr(cond("a and b"))
    old.handle(ev("a"))
    new = Operator.from_expr(cond("a and b"))
    new.copy_latch_from(old)
    new.handle(ev("b"))
    assert new.value
    other = Operator.from_expr(cond("a and z"))
    other.copy_latch_from(old)
    assert other.leaves()[0].value is False
