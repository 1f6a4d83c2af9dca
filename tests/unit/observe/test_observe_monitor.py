"""upstart-monitor's pure part: which signals, which filters, which lines."""

import json

from upstart.cli import monitor

MGR = "com.ubuntu.Upstart0_6"
INST = "com.ubuntu.Upstart0_6.Instance"


def test_event_signal_line_matches_upstream_layout():
    item = monitor.describe("/com/ubuntu/Upstart", "EventEmitted", MGR,
                            ["hello", ["A=1", "B=x=y"]])
    line = monitor.format_line(item, 0.5, "\t")
    stamp, rest = line.split("\t")
    assert len(stamp) == len("1970-01-01 00:00:00.500000") and stamp.endswith(".500000")
    assert rest == "hello A='1' B='x=y'"


def test_instance_signals_name_job_and_instance():
    item = monitor.describe("/com/ubuntu/Upstart/jobs/foo_2dbar/inst1", "StateChanged",
                            INST, ["running"])
    assert item == {"type": "state", "job": "foo-bar", "instance": "inst1", "value": "running"}
    line = monitor.format_line(item, 0.0, " | ")
    assert line.endswith(" | [state] foo-bar (inst1) running")
    goal = monitor.describe("/com/ubuntu/Upstart/jobs/a/_", "GoalChanged", INST, ["stop"])
    assert monitor.format_line(goal, 0.0).endswith("\t[goal] a stop")
    assert monitor.describe("/com/ubuntu/Upstart/jobs/a", "InstanceAdded",
                            "com.ubuntu.Upstart0_6.Job", ["/x"]) is None


def test_filters():
    ev = {"type": "event", "name": "started", "env": ["JOB=web", "INSTANCE="]}
    other = {"type": "event", "name": "net-up", "env": []}
    st = {"type": "state", "job": "db", "instance": "", "value": "running"}
    assert all(monitor.wanted(i, [], []) for i in (ev, other, st))
    assert monitor.wanted(ev, ["web"], []) and not monitor.wanted(other, ["web"], [])
    assert monitor.wanted(other, [], ["net-*"]) and not monitor.wanted(st, [], ["net-*"])
    assert monitor.wanted(st, ["d*"], ["net-*"])


def test_json_line():
    item = {"type": "event", "name": "x", "env": ["K=V"]}
    assert json.loads(monitor.format_line(item, 12.5, as_json=True)) == dict(item, time=12.5)


def test_header_and_options():
    assert monitor.header("X").startswith("# Upstart Event Monitor (console mode)\n#\n"
                                          "# Connected to X\n")
    args = monitor._parser().parse_args(["-d", "session-socket", "-n", "-s", ",", "--json",
                                         "--job", "a", "--event", "b", "--count", "3"])
    assert (args.destination, args.no_gui, args.separator, args.count) == \
        ("session-socket", True, ",", 3)
