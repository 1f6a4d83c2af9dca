"""Reading job conditions: RPN leaves for one event and argument splitting."""

from upstart.bridges import conditions as c

RPN = [["file", "FILE=/a", "EVENT=create"], ["started", "x"], ["/AND"],
       ["file", "FILE=/b"], ["/OR"]]


def test_leaves_pick_only_the_named_event_in_rpn_order():
    assert c.leaves(RPN, "file") == [("FILE=/a", "EVENT=create"), ("FILE=/b",)]
    assert c.leaves(RPN, "started") == [("x",)]
    assert c.leaves(RPN, "socket") == []
    assert c.leaves([], "file") == [] and c.leaves(None, "file") == []


def test_operators_are_never_leaves():
    assert c.leaves([["/AND"], ["/OR"]], "/AND") == []


def test_job_leaves_start_before_stop():
    assert c.job_leaves([["dbus", "A=1"]], [["dbus", "B=2"]], "dbus") == [("A=1",), ("B=2",)]


def test_split_arg_forms():
    assert c.split_arg("KEY=v=w") == c.Arg("KEY", False, "v=w")
    assert c.split_arg("KEY!=v") == c.Arg("KEY", True, "v")
    assert c.split_arg("positional") == c.Arg(None, False, "positional")
    assert c.split_arg("=x") == c.Arg(None, False, "=x")


def test_named_takes_first_positive_occurrence():
    assert c.named(("FILE!=/x", "FILE=/a", "FILE=/b"), "FILE") == "/a"
    assert c.named(("EVENT=create",), "FILE") is None
