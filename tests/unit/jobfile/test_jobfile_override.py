"""Override files: parsed on top of a copy of the .conf's class, all or nothing."""

import pytest

from upstart.jobfile.model import CGroup, Match, ParseError, Process
from upstart.jobfile.parser import parse_job

CONF = """\
description "conf"
start on ev
env A=conf
env B=conf
emits one
normal exit 2
cgroup cpu grp shares 1
limit nofile 1 2
task
script
  echo conf-main
end script
"""


def base():
    return parse_job(CONF, "o", path="/c/o.conf")


def test_scalars_replace_lists_append():
    b = base()
    o = parse_job('description "over"\nenv B=override\nenv C=override\nemits two\n'
                  "normal exit 3\ncgroup cpu grp shares 5\nlimit core 0 0\n"
                  "exec /bin/override\n", "o", path="/c/o.override", base=b)
    assert o.description == "over"
    assert o.env == ["A=conf", "B=conf", "B=override", "C=override"]
    assert o.emits == ["one", "two"]
    assert o.normal_exit == [2, 3]
    assert o.cgroups == [CGroup("cpu", "grp", "shares", "5")]
    assert o.limits == {"nofile": (1, 2), "core": (0, 0)}
    assert o.process["main"] == Process(False, "/bin/override")
    assert o.task and o.start_on == Match("ev")
    assert (o.path, o.override_path) == ("/c/o.conf", "/c/o.override")


def test_base_is_never_mutated():
    b = base()
    snapshot = repr(b)
    parse_job("env X=1\nmanual\nemits z\n", "o", path="/c/o.override", base=b)
    assert repr(b) == snapshot


def test_manual_in_override_drops_conf_start_on():
    o = parse_job("manual\n", "o", path="/c/o.override", base=base())
    assert o.start_on is None
    o = parse_job("manual\nstart on other\n", "o", path="/c/o.override", base=base())
    assert o.start_on == Match("other")


def test_broken_override_raises_with_its_path_and_leaves_base_alone():
    b = base()
    snapshot = repr(b)
    with pytest.raises(ParseError) as ei:
        parse_job("env A=override\nbogus stanza\n", "o", path="/c/o.override", base=b)
    assert str(ei.value) == "/c/o.override:2: Unknown stanza"
    assert repr(b) == snapshot


def test_signal_error_in_override_names_the_override():
    with pytest.raises(ParseError) as ei:
        parse_job("kill signal NOPE\n", "o", path="/c/o.override", base=base())
    assert str(ei.value) == ("/c/o.override: Error while loading configuration file: "
                             "Illegal signal status, expected integer")
