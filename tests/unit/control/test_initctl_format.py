"""initctl's pure formatting: status lines, show-config, check-config."""

import json

from testdata import SCENARIOS as GOLDEN
from upstart.cli.initctl_format import ConfigChecker, condition_text, show_config, status_line


def props(name="", goal="start", state="running", processes=()):
    return {"name": name, "goal": goal, "state": state, "processes": list(processes)}


def test_status_lines():
    assert status_line("ssh", props(processes=[("main", 1141)])) == \
        "ssh start/running, process 1141"
    assert status_line("tty", props("tty1", processes=[("main", 1234)])) == \
        "tty (tty1) start/running, process 1234"
    assert status_line("net", props()) == "net start/running"
    assert status_line("ssh", None) == "ssh stop/waiting"
    assert status_line("job", props(state="pre-start", processes=[("pre-start", 902)])) == \
        "job start/pre-start, process 902"
    assert status_line("job", props(state="post-start",
                                    processes=[("main", 1234), ("post-start", 1357)])) == \
        "job start/post-start, process 1234\n\tpost-start process 1357"
    assert status_line("job", props(state="post-start", processes=[("post-start", 1357)])) == \
        "job start/post-start, (post-start) process 1357"
    assert status_line("job", props(goal="stop", state="pre-stop",
                                    processes=[("main", 1234), ("pre-stop", 1400)])) == \
        "job stop/pre-stop, process 1234\n\tpre-stop process 1400"
    assert status_line("job", props(goal="respawn", state="post-start",
                                    processes=[("post-start", 77)])) == \
        "job respawn/post-start, (post-start) process 77"
    assert status_line("job", props(goal="stop", state="post-stop",
                                    processes=[("post-stop", 5)])) == \
        "job stop/post-stop, process 5"


def test_condition_text_brackets_like_upstream():
    assert condition_text([["a"], ["b"], ["/AND"], ["c"], ["/AND"]]) == "((a and b) and c)"
    assert condition_text([["a"]]) == "a"
    assert condition_text([]) is None
    assert condition_text([["x"], ["y"], ["z"], ["/OR"], ["/AND"], ["w"], ["/OR"]]) == \
        "((x and (y or z)) or w)"


CPLX_START = [["a-ev", "X=1"], ["b-ev"], ["c-ev", "Y!=2"], ["/OR"], ["/AND"],
              ["runlevel", "[2345]"], ["/OR"]]
CPLX_STOP = [["stopping", "svc"], ["stopped", "other", "RESULT=failed"], ["/OR"],
             ["starting", "JOB=third", "K=v"], ["/OR"]]


def _golden_stdout(scenario, argv):
    steps = json.loads((GOLDEN / scenario).read_text())["steps"]
    return [s for s in steps if s.get("run") == argv][0]["stdout"]


def test_show_config_matches_golden_081():
    lines = show_config("cplx", ["thing-a", "thing-*"], CPLX_START, CPLX_STOP, False)
    assert "\n".join(lines) + "\n" == _golden_stdout("081-show-config.json",
                                                     ["initctl", "show-config", "cplx"])
    lines = show_config("cplx", ["thing-a", "thing-*"], CPLX_START, CPLX_STOP, True)
    assert "\n".join(lines) + "\n" == _golden_stdout(
        "081-show-config.json", ["initctl", "show-config", "-e", "cplx"])
    assert show_config("plain", [], [], [], False) == ["plain"]


JOBS_082 = {
    "ok": (["ready-ev"], [["started", "svc"]], []),
    "svc": ([], [["ready-ev"], ["startup"], ["/OR"]], []),
    "lost": ([], [["mystery-ev"], ["started", "ghost"], ["/AND"]],
             [["other-ev"], ["stopping", "svc"], ["/OR"]]),
    "half": ([], [["ready-ev"], ["unknown-ev"], ["/OR"]], []),
}


def _check(warn=False, ignored=()):
    emits = [e for v in JOBS_082.values() for e in v[0]]
    checker = ConfigChecker(set(JOBS_082), emits, set(ignored), warn=warn)
    out = []
    for name in sorted(JOBS_082):
        _, start_on, stop_on = JOBS_082[name]
        out += checker.report(name, start_on, stop_on)
    return "".join(line + "\n" for line in out)


def test_check_config_matches_golden_082():
    assert _check() == _golden_stdout("082-check-config.json", ["initctl", "check-config"])
    assert _check(warn=True) == _golden_stdout("082-check-config.json",
                                               ["initctl", "check-config", "-w"])
    assert _check(ignored={"mystery-ev", "other-ev"}) == _golden_stdout(
        "082-check-config.json", ["initctl", "check-config", "--ignore-events=mystery-ev,other-ev"])


def test_check_config_rules():
    c = ConfigChecker({"a"}, ["net-*"], set(), session=True)
    assert c.check("start on", [["net-up"]]) == []                    # glob in emits
    assert c.check("start on", [["session-end"]]) == []               # session built-in
    assert c.check("start on", [["started", "$JOB"]]) == []           # variables accepted
    assert c.check("start on", [["started", "JOB=b"]]) == ["  start on: unknown job b"]
    assert c.check("start on", [["nope"]]) == ["  start on: unknown event nope"]
    assert c.check("start on", [["died", "JOB=a"]]) == []             # RM-12: init's
    assert c.check("start on", [["died", "b"]]) == ["  start on: unknown job b"]
    # an inner failing operator is reported even when the root is true
    assert c.check("start on", [["net-up"], ["x"], ["y"], ["/AND"], ["/OR"]]) == [
        "  start on: unknown event y", "  start on: unknown event x"]
    assert ConfigChecker(set(), [], set()).check("stop on", [["session-end"]]) == [
        "  stop on: unknown event session-end"]
