"""The guide's examples (jobs/examples/*.conf): every one is valid, every one shown in
docs/guide/ is shown exactly as shipped, and the classic ones behave under the real
daemon the way the guide says they do.

The daemon is a private Session Init (tests/e2e/init_harness.py) loaded with all the
examples; it is killed, with everything it started, when the module is done."""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess

import pytest

from upstart.jobfile.model import ParseError
from upstart.jobfile.parser import parse_job

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from init_harness import BIN, SessionInit  # noqa: E402

EXAMPLES_DIR = os.path.join(REPO, "jobs", "examples")
GUIDE_DIR = os.path.join(REPO, "docs", "guide")
EXAMPLES = {os.path.basename(p)[:-len(".conf")]: p
            for p in sorted(glob.glob(os.path.join(EXAMPLES_DIR, "*.conf")))}
ROADMAP_MARK = "Needs the upstart-py roadmap"
NOT_RUN_MARK = "Not run by the examples test"

# Examples that Upstart 1.13 would load, but that only mean something with the roadmap.
ROADMAP_EVENT_ONLY = {"print-queue": "waits for the `ready` event",
                      "web-client": "waits for the `ready` event",
                      "crash-alert": "waits for the `died` event"}
# Examples the daemon test does not start, and why (each says so in its header).
NOT_STARTED = {
    "ssh": "needs /usr/sbin/sshd (its conditions are checked instead)",
    "nagios": "needs /usr/sbin/nagios3 (babysat shows the behaviour)",
    "cups": "needs cupsd",
    "print-queue": "needs cups running",
}
# Examples whose behaviour the tests below check.
STARTED = {"first-job", "helloworld", "report-uptime", "worker", "db", "app", "flapping",
           "guarded", "babysat", "bar", "baz", "foo", "nightly-report",
           "nightly-backup", "heartbeat", "cache-warmup", "foo-while", "web", "web-client",
           "loader", "backoff", "memory-capped", "crash-alert"}
# The time examples: the term each waits for, as the time bridge repeats it.
TIME_TERMS = {"nightly-backup": ["CRON=0 3 * * *"], "heartbeat": ["EVERY=15m"],
              "cache-warmup": ["AFTER=startup", "DELAY=15m"]}


def _text(name: str) -> str:
    with open(EXAMPLES[name], encoding="utf-8") as f:
        return f.read()


def _is_roadmap(name: str) -> bool:
    return ROADMAP_MARK in _text(name)


# -- static checks ----------------------------------------------------------------

def test_there_are_examples():
    assert len(EXAMPLES) >= 15
    assert {"ssh", "nagios", "helloworld", "foo", "foo-while"} <= set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_passes_init_checkconf(name):
    res = subprocess.run([os.path.join(BIN, "init-checkconf"), EXAMPLES[name]],
                         capture_output=True, text=True, timeout=30)
    assert (res.returncode, res.stderr) == (0, ""), res.stderr
    assert res.stdout == f"File {EXAMPLES[name]}: syntax ok\n"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_roadmap_mark_is_exactly_on_the_examples_that_need_it(name):
    """An example says it needs the roadmap when, and only when, Upstart 1.13 would
    reject it (or it waits for an event only the roadmap emits)."""
    text = _text(name)
    parse_job(text, name, EXAMPLES[name])                 # upstart-py accepts all
    try:
        parse_job(text, name, EXAMPLES[name], roadmap=False)
        classic = True
    except ParseError as err:
        assert "Unknown stanza" in str(err)
        classic = False
    assert (ROADMAP_MARK in text) == (not classic or name in ROADMAP_EVENT_ONLY)


def test_every_example_is_either_run_or_says_why_not():
    assert set(EXAMPLES) == STARTED | set(NOT_STARTED)
    assert not STARTED & set(NOT_STARTED)
    for name in EXAMPLES:
        assert (NOT_RUN_MARK in _text(name)) == (name in NOT_STARTED), name


def test_roadmap_examples_mean_what_the_guide_says():
    backoff = parse_job(_text("backoff"), "backoff")
    assert backoff.respawn and backoff.respawn_delay == (1, 60, 2)
    foo = parse_job(_text("foo-while"), "foo-while")
    assert foo.while_ is not None and foo.start_on is None
    cups = parse_job(_text("cups"), "cups")
    assert cups.ready_on is not None and cups.ready_timeout == 30
    queue = parse_job(_text("print-queue"), "print-queue")
    assert queue.start_on is not None and queue.task
    web = parse_job(_text("web"), "web")
    assert web.ready_on is not None and web.ready_timeout == 30
    loader = parse_job(_text("loader"), "loader")
    assert loader.ready_on is not None and loader.ready_timeout == 30


_BLOCK = re.compile(r"<!-- example: (?P<name>[\w.-]+)\.conf -->\n```conf\n(?P<body>.*?)```\n",
                    re.S)


def _guide_blocks() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(glob.glob(os.path.join(GUIDE_DIR, "*.md"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert text.count("<!-- example:") == len(_BLOCK.findall(text)), path
        out += [(os.path.basename(path), m["name"], m["body"]) for m in _BLOCK.finditer(text)]
    return out


def test_guide_shows_each_example_exactly_as_shipped():
    blocks = _guide_blocks()
    assert blocks
    for page, name, body in blocks:
        assert name in EXAMPLES, f"{page} shows {name}.conf, which is not in jobs/examples"
        assert body == _text(name), f"{page}: {name}.conf differs from jobs/examples"
    assert {name for _, name, _ in blocks} == set(EXAMPLES), "examples missing from guide"


def test_guide_links_resolve():
    for path in glob.glob(os.path.join(GUIDE_DIR, "*.md")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert os.path.exists(os.path.join(GUIDE_DIR, target)), (path, target)


# -- under the daemon ---------------------------------------------------------------

@pytest.fixture(scope="module")
def init():
    with SessionInit(jobs={n: _text(n) for n in EXAMPLES}) as s:
        yield s


def _ic(init, *args):
    res = init.initctl(*args)
    return res.returncode, res.stdout, res.stderr


def _log(init, job: str) -> str:
    try:
        with open(os.path.join(init.log, job + ".log"), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _running(init, job: str) -> str:
    """Wait until `job` is running (jobs started by a `started` event start just
    after the command that emitted it returns) and give its status line."""
    init.wait_for(lambda: init.running(job))
    return init.state(job)


def _pid(status_line: str) -> int:
    m = re.search(r", process (\d+)$", status_line.strip())
    assert m, status_line
    return int(m[1])


def test_first_job(init):
    rc, out, _ = _ic(init, "start", "first-job")
    assert rc == 0 and re.fullmatch(r"first-job start/running, process \d+\n", out)
    assert _ic(init, "status", "first-job")[1] == out
    assert _ic(init, "start", "first-job") == (
        1, "", "initctl: Job is already running: first-job\n")
    assert _ic(init, "stop", "first-job") == (0, "first-job stop/waiting\n", "")


def test_ssh_conditions_as_the_guide_shows(init):
    assert _ic(init, "show-config", "ssh") == (
        0, "ssh\n  start on filesystem\n  stop on runlevel S\n", "")
    assert _ic(init, "status", "ssh") == (0, "ssh stop/waiting\n", "")


def test_helloworld_receives_the_event_variables(init):
    assert _ic(init, "emit", "helloworld", "foo=bar", "baz=fizz") == (0, "", "")
    lines = _log(init, "helloworld").splitlines()
    for line in ("foo=bar", "baz=fizz", "UPSTART_EVENTS=helloworld",
                 "UPSTART_JOB=helloworld", "UPSTART_INSTANCE="):
        assert line in lines
    assert any(line.startswith("PATH=") for line in lines)


def test_task_has_finished_when_start_returns(init):
    assert _ic(init, "start", "report-uptime") == (0, "report-uptime stop/waiting\n", "")
    assert re.fullmatch(r"up \d+ seconds\n", _log(init, "report-uptime"))


def test_instances(init):
    start = os.path.join(BIN, "start")
    one = init.run(start, "worker", "N=1")
    assert one.returncode == 0 and re.fullmatch(r"worker \(1\) start/running, process \d+\n",
                                                one.stdout)
    two = init.run(start, "worker", "N=2")
    assert re.fullmatch(r"worker \(2\) start/running, process \d+\n", two.stdout)
    again = init.run(start, "worker", "N=1")
    assert (again.returncode, again.stderr) == (1, "start: Job is already running: worker (1)\n")
    bare = init.run(start, "worker")
    assert (bare.returncode, bare.stderr) == (
        1, "start: Unknown parameter: N\nUsage: worker N=<number>\n")
    listed = [line for line in _ic(init, "list")[1].splitlines() if line.startswith("worker")]
    assert sorted(listed) == [one.stdout.strip(), two.stdout.strip()]
    assert _ic(init, "usage", "worker") == (0, "Usage: worker N=<number>\n", "")
    for n in ("1", "2"):
        # the instance is gone once stopped, so the line names the job only
        assert _ic(init, "stop", "worker", f"N={n}") == (0, "worker stop/waiting\n", "")


def test_app_follows_db(init):
    assert _ic(init, "start", "db")[0] == 0
    _running(init, "app")
    assert _ic(init, "stop", "db") == (0, "db stop/waiting\n", "")
    assert _ic(init, "status", "app") == (0, "app stop/waiting\n", "")


def test_flapping_service_hits_the_respawn_limit(init):
    _ic(init, "start", "flapping")          # may report any state: the job is racing
    init.wait_for(lambda: _ic(init, "status", "flapping")[1] == "flapping stop/waiting\n"
                  and "flapping respawning too fast, stopped" in init.init_log())
    assert init.init_log().count("flapping main process ended, respawning") == 3


def test_pre_start_can_cancel_the_start(init):
    rc, out, err = _ic(init, "start", "guarded")
    assert (rc, err) == (0, "") and out.startswith("guarded stop/")
    init.wait_for(lambda: _ic(init, "status", "guarded")[1] == "guarded stop/waiting\n")
    assert _log(init, "guarded").splitlines()[0] == (
        "/nonexistent/guarded.cfg is missing; not starting")
    assert "guarded main process" not in init.init_log()      # never ran, never failed


def test_respawn_replaces_a_killed_process(init):
    rc, out, _ = _ic(init, "start", "babysat")
    assert rc == 0
    old = _pid(out)
    os.kill(old, signal.SIGKILL)

    def new_pid():
        line = _ic(init, "status", "babysat")[1]
        return "start/running" in line and _pid(line) != old and _pid(line)
    assert init.wait_for(new_pid)
    assert _ic(init, "stop", "babysat") == (0, "babysat stop/waiting\n", "")


def test_crash_alert_reports_a_killed_respawning_service(init):
    """RM-12: crash-alert (start on died) writes one line per death of babysat."""
    def reported():
        return sorted(line for path in glob.glob(os.path.join(init.log, "crash-alert-babysat-*"))
                      for line in open(path, encoding="utf-8").read().splitlines())
    before = reported()
    rc, out, _ = _ic(init, "start", "babysat")
    assert rc == 0
    os.kill(_pid(out), signal.SIGKILL)
    lines = init.wait_for(lambda: [x for x in reported() if x not in before])
    assert re.fullmatch(r"babysat died \(KILL\), respawned: yes, deaths: \d+", lines[-1])
    assert _ic(init, "stop", "babysat") == (0, "babysat stop/waiting\n", "")


def test_foo_is_not_restarted_with_events_alone(init):
    """The seed's problem, which `while` is meant to solve: after `restart baz`,
    foo is stopped and stays down."""
    assert _ic(init, "start", "bar")[0] == 0
    assert _ic(init, "start", "baz")[0] == 0
    _running(init, "foo")
    rc, out, _ = _ic(init, "restart", "baz")
    assert rc == 0 and re.fullmatch(r"baz start/running, process \d+\n", out)
    # `stopping baz` held baz until foo had stopped, so this is not a race
    assert _ic(init, "status", "foo") == (0, "foo stop/waiting\n", "")
    for job in ("bar", "baz"):
        _ic(init, "stop", job)


def test_nightly_event_runs_the_report(init):
    assert _ic(init, "emit", "nightly") == (0, "", "")
    assert _log(init, "nightly-report") == "nightly report ran\n"


@pytest.mark.parametrize("job", sorted(TIME_TERMS))
def test_time_examples_run_on_their_time_event(init, job):
    """The event the time bridge emits (the job's own arguments, then TIME_*) starts
    the job; emitted by hand here, as the guide shows."""
    extra = ["TIME_DUE=2026-11-23T03:00:00Z", "TIME_FIRED=1", "TIME_MISSED=0"]
    assert _ic(init, "emit", "time", *TIME_TERMS[job], *extra) == (0, "", "")
    expected = {"nightly-backup": "backup due at 2026-11-23T03:00:00Z (run 1)\n",
                "heartbeat": "heartbeat\n", "cache-warmup": "warming caches\n"}[job]
    assert _log(init, job) == expected


def test_time_bridge_lists_the_example_schedules(init):
    res = init.run(os.path.join(BIN, "upstart-time-bridge"), "--user", "--list",
                   "--state-file", os.path.join(init.tmp, "timebridge.state"))
    assert (res.returncode, res.stderr) == (0, "")
    lines = res.stdout.splitlines()
    for schedule, job in (('time CRON="0 3 * * *"', "nightly-backup"),
                          ("time EVERY=15m", "heartbeat"),
                          ("time AFTER=startup DELAY=15m", "cache-warmup")):
        assert any(line.startswith(schedule + "  next ") and line.endswith("start on: " + job)
                   for line in lines), (schedule, res.stdout)


def test_while_keeps_foo_running_exactly_while_bar_and_baz_run(init):
    """The guide's answer to the foo/bar/baz problem (chapter 7)."""
    def foo_while():
        return _ic(init, "status", "foo-while")[1]
    assert foo_while() == "foo-while stop/waiting\n"
    assert _ic(init, "show-config", "foo-while") == (
        0, "foo-while\n  while (bar and baz)\n", "")
    assert _ic(init, "start", "bar")[0] == 0
    assert foo_while() == "foo-while stop/waiting\n"         # baz is not running yet
    assert _ic(init, "start", "baz")[0] == 0
    first = _pid(_running(init, "foo-while"))
    assert _ic(init, "restart", "baz")[0] == 0                # unlike foo.conf ...
    second = init.wait_for(lambda: "start/running" in foo_while()
                           and _pid(foo_while()) != first and _pid(foo_while()))
    assert second                                             # ... foo-while came back
    assert _ic(init, "stop", "bar")[0] == 0
    init.wait_for(lambda: foo_while() == "foo-while stop/waiting\n")
    assert _ic(init, "start", "foo-while") == (
        1, "", "initctl: Job cannot be started while its condition is false: foo-while\n")
    _ic(init, "stop", "baz")


def test_web_client_waits_for_web_to_be_ready(init):
    rc, out, _ = _ic(init, "start", "web")
    # running, but not ready yet (web emits its event a second later)
    assert rc == 0 and re.fullmatch(r"web start/running, process \d+\n\twaiting for ready\n",
                                    out)
    assert _log(init, "web-client") == ""
    init.wait_for(lambda: _log(init, "web-client") == "web is ready\n", timeout=15)
    assert re.fullmatch(r"web start/running, process \d+\n\tready\n",
                        _ic(init, "status", "web")[1])
    states = _ic(init, "list-states")[1].splitlines()
    assert "ready JOB=web INSTANCE=" in states
    assert _ic(init, "stop", "web") == (0, "web stop/waiting\n", "")


def test_loader_is_ready_when_it_writes_to_its_notify_fd(init):
    rc, out, _ = _ic(init, "start", "loader")
    assert rc == 0 and re.fullmatch(
        r"loader start/running, process \d+\n\twaiting for ready\n", out)
    init.wait_for(lambda: re.fullmatch(r"loader start/running, process \d+\n\tready\n",
                                       _ic(init, "status", "loader")[1]), timeout=15)
    assert "ready JOB=loader INSTANCE=" in _ic(init, "list-states")[1].splitlines()
    assert _ic(init, "stop", "loader") == (0, "loader stop/waiting\n", "")


def test_backoff_pauses_before_each_respawn(init):
    """Between respawns the job waits at start/post-stop, and status says which
    respawn comes next and in how long; the first pause is MIN (1 s), the second
    up to 2 s."""
    paused = re.compile(r"backoff start/post-stop\n\trespawn (\d+) in (\d+\.\d)s\n")
    rc, out, _ = _ic(init, "start", "backoff")
    assert rc == 0
    first = init.wait_for(lambda: paused.fullmatch(_ic(init, "status", "backoff")[1]))
    assert first[1] != "1" or float(first[2]) <= 1.0
    second = init.wait_for(lambda: (lambda m: m and int(m[1]) >= 2 and m)(
        paused.fullmatch(_ic(init, "status", "backoff")[1])), timeout=15)
    assert int(second[1]) > 2 or float(second[2]) <= 2.0
    assert _ic(init, "stop", "backoff") == (0, "backoff stop/waiting\n", "")
    assert "backoff main process ended, respawning" in init.init_log()
    assert _log(init, "backoff").startswith("cannot reach the database\n")


def test_memory_capped_runs_in_its_cgroups(init):
    """Where init may write cgroupfs, status --verbose shows the job's cgroups;
    elsewhere the job runs all the same and init logs what it could not apply."""
    rc, out, _ = _ic(init, "start", "memory-capped")
    assert rc == 0 and re.fullmatch(r"memory-capped start/running, process \d+\n", out)
    verbose = _ic(init, "status", "--verbose", "memory-capped")[1]
    assert verbose.startswith(out)
    assert ("  cgroup: memory:" in verbose and "  cgroup usage: memory " in verbose) or (
        "memory-capped: cgroup stanza not fully applied" in init.init_log())
    assert _ic(init, "stop", "memory-capped") == (0, "memory-capped stop/waiting\n", "")
