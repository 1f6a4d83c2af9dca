"""The pure state vocabulary: StateTable, leaf matching, witnesses."""


from upstart.jobfile.conditions import parse_condition
from upstart.jobfile.lexer import Scanner
from upstart.states.condition import holds, leaf_matches, witnesses
from upstart.states.model import State, StateTable
from upstart.jobfile.model import Match


def cond(text: str):
    """A condition as the job file parser reads it."""
    return parse_condition(Scanner(text + "\n"))


def test_state_table_set_replace_clear():
    t = StateTable()
    assert t.set("net", ["IFACE=eth0"]) is True
    assert t.set("net", ["IFACE=eth0"]) is False          # unchanged
    assert t.set("net", ["IFACE=eth1"]) is True           # replaced
    assert t.states() == [State("net", ("IFACE=eth1",))]
    assert "net" in t
    assert t.clear("net") is True
    assert t.clear("net") is False
    assert t.states() == []


def test_state_table_json_round_trip():
    t = StateTable()
    t.set("b", ["X=1"])
    t.set("a", [])
    again = StateTable.from_json(t.to_json())
    assert again.states() == [State("a", ()), State("b", ("X=1",))]


def test_leaf_matches_like_events():
    s = State("net", ("IFACE=eth0", "ADDR=10.0.0.1"))
    assert leaf_matches(Match("net", ()), s)
    assert leaf_matches(Match("net", ("IFACE=eth*",)), s)
    assert leaf_matches(Match("net", ("eth0",)), s)                 # positional
    assert not leaf_matches(Match("net", ("IFACE=wlan*",)), s)
    assert not leaf_matches(Match("net", ("MISSING=x",)), s)
    assert not leaf_matches(Match("other", ()), s)


def test_bare_job_name_is_running_of_that_job():
    r = State("running", ("JOB=bar", "INSTANCE=i1"))
    assert leaf_matches(Match("bar", ()), r)
    assert leaf_matches(Match("bar", ("INSTANCE=i1",)), r)
    assert not leaf_matches(Match("bar", ("INSTANCE=i2",)), r)
    assert not leaf_matches(Match("baz", ()), r)
    assert leaf_matches(Match("running", ("bar",)), r)
    # `ready X` is never shorthand for `running ready X`
    assert not leaf_matches(Match("ready", ("bar",)), r)
    assert leaf_matches(Match("ready", ("bar",)), State("ready", ("JOB=bar", "INSTANCE=")))


def test_witnesses_and_is_product_or_is_union():
    states = [State("running", ("JOB=a", "INSTANCE=1")), State("running", ("JOB=a", "INSTANCE=2")),
              State("b", ())]
    w = witnesses(cond("a and b"), states)
    assert [[s.env[1] if s.env else s.name for s in ws] for ws in w] == \
        [["INSTANCE=1", "b"], ["INSTANCE=2", "b"]]
    assert len(witnesses(cond("a or b"), states)) == 3
    assert witnesses(cond("a and c"), states) == []
    assert holds(cond("c or (a and b)"), states)
    assert not holds(cond("c or (b and d)"), states)
