"""Expansion grammar and ordered environment lists (upstream environ.c)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upstart.jobfile.environ import ExpandError, env_lookup, env_merge, env_set, env_unset, expand

ENV = {"A": "a", "E": "", "NAME": "A", "P": "/x"}


@pytest.mark.parametrize("text,want", [
    ("plain", "plain"),
    ("$A", "a"),
    ("${A}", "a"),
    ("x${A}y$A", "xaya"),
    ("${U:-dflt}", "dflt"),
    ("${E:-dflt}", "dflt"),
    ("${E-dflt}", ""),
    ("${U-dflt}", "dflt"),
    ("${A:+alt}", "alt"),
    ("${E:+alt}", ""),
    ("${E+alt}", "alt"),
    ("${U+alt}", ""),
    ("${$NAME}", "a"),
    ("${U:-${A}b}", "ab"),
    ("${}", "$"),
    ("a$", "a$"),
    ("$1", "$1"),
    ("$-", "$-"),
    ("${P}/y", "/x/y"),
])
def test_expand(text, want):
    assert expand(text, ENV) == want


@pytest.mark.parametrize("text,error", [
    ("$U", "Unknown parameter: U"),
    ("${U}", "Unknown parameter: U"),
    ("${A=x}", "Expected operator"),
    ("${A x}", "Expected operator"),
    ("${A", "Mismatched braces"),
    ("${A:-x", "Mismatched braces"),
])
def test_expand_errors(text, error):
    with pytest.raises(ExpandError) as err:
        expand(text, ENV)
    assert str(err.value) == error


def test_expand_accepts_lists_first_entry_wins():
    assert expand("$A", ["A=1", "A=2"]) == "1"
    assert expand("${A-none}", None) == "none"


def test_env_set_replaces_in_place_and_appends():
    env = ["A=1", "B=2"]
    env_set(env, "A=3")
    env_set(env, "C=4")
    assert env == ["A=3", "B=2", "C=4"]
    env_set(env, "B=9", replace=False)
    assert env_lookup(env, "B") == "2"
    env_unset(env, "A")
    assert env == ["B=2", "C=4"]
    assert env_merge(["X=1"], ["Y=2", "X=3"]) == ["X=3", "Y=2"]
    assert env_lookup(env, "Z") is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["A=1", "A=2", "B", "B=", "C=x=y", "D=", "E=1", "=z", "AB=3"])
                | st.text(max_size=4), max_size=40),
       st.lists(st.sampled_from(["A=9", "B", "B=7", "C=c", "F=f", "=q", "AB=", "G"]), max_size=12),
       st.booleans())
def test_env_merge_of_a_long_env_is_env_set_in_turn(env, entries, replace):
    # a long env is merged through an index of its keys; the result must be
    # exactly what setting each entry in turn gives (duplicates, bare keys)
    env = env * 3                        # past the length from which it indexes
    want = list(env)
    for entry in entries:
        env_set(want, entry, replace)
    assert env_merge(list(env), iter(entries), replace) == want
