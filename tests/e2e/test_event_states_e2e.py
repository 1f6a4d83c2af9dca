"""States that events open and close (RM-01) and `initctl why` for `while`
jobs (issue #26 items 1 and 2), end to end.

Each test runs our real `init --user` with its own confdir and drives it with
the real `initctl`, as a user types it; the harness kills init and every
process it left on exit.
"""

from __future__ import annotations

import re

from init_harness import SessionInit, request_restart

from upstart.control import client

SVC = "exec sleep 1000\n"
FILESYSTEM = "state filesystem on filesystem\nstate filesystem until runlevel [06]\n"


def main_pid(init: SessionInit, job: str) -> int | None:
    m = re.search(r"start/running, process (\d+)", init.status(job))
    return int(m.group(1)) if m else None


def ok(init: SessionInit, *args: str) -> str:
    p = init.initctl(*args)
    assert p.returncode == 0, (args, p.stdout, p.stderr, init.init_log())
    return p.stdout


def named_states(init: SessionInit) -> list[str]:
    return [line for line in ok(init, "list-states").splitlines()
            if not line.startswith(("running ", "ready "))]


def test_seed_scenario_with_an_event_defined_state():
    """07 §1's seed (S4) with a state an event opens: foo runs exactly while
    the filesystem is up (opened by `filesystem`, closed by `runlevel 0/6`)
    and bar and baz run; it comes back, with a new pid, when all hold again."""
    jobs = {"fs": FILESYSTEM, "bar": SVC, "baz": SVC,
            "foo": "while filesystem and bar and baz\n" + SVC}
    with SessionInit(jobs, args=("--no-startup-event",)) as init:
        ok(init, "start", "bar")
        ok(init, "start", "baz")
        assert init.status("foo") == "foo stop/waiting"
        assert named_states(init) == []

        ok(init, "emit", "filesystem", "DEVICE=/dev/sda1")
        assert named_states(init) == ["filesystem DEVICE=/dev/sda1"]
        first = init.wait_for(lambda: main_pid(init, "foo"))

        ok(init, "emit", "runlevel", "RUNLEVEL=2")      # not [06]: stays open
        assert named_states(init) == ["filesystem DEVICE=/dev/sda1"]
        assert main_pid(init, "foo") == first

        ok(init, "stop", "baz")                          # a job leaves: foo stops
        init.wait_for(lambda: init.status("foo") == "foo stop/waiting")
        ok(init, "start", "baz")                         # and comes back: foo too
        second = init.wait_for(lambda: main_pid(init, "foo"))
        assert second != first

        ok(init, "emit", "runlevel", "RUNLEVEL=6")      # the state closes
        assert named_states(init) == []
        init.wait_for(lambda: init.status("foo") == "foo stop/waiting")
        p = init.initctl("start", "foo")
        assert p.returncode == 1 and "condition is false" in p.stderr

        ok(init, "emit", "filesystem")                   # opens again: foo starts
        init.wait_for(lambda: main_pid(init, "foo"))


def test_keyed_states_one_per_identity_drive_while_instances():
    jobs = {"net": "state online IFACE on net-device-up IFACE!=lo\n"
                   "state online until net-device-down IFACE=$IFACE\n",
            "web": "instance $IFACE\nwhile online\n" + SVC}
    with SessionInit(jobs, args=("--no-startup-event",)) as init:
        for iface in ("lo", "eth0", "wlan0"):
            ok(init, "emit", "net-device-up", f"IFACE={iface}")
        assert named_states(init) == ["online IFACE=eth0", "online IFACE=wlan0"]
        init.wait_for(lambda: "web (eth0) start/running" in ok(init, "list") and
                      "web (wlan0) start/running" in ok(init, "list"))
        ok(init, "emit", "net-device-down", "IFACE=wlan0")
        assert named_states(init) == ["online IFACE=eth0"]
        init.wait_for(lambda: "wlan0" not in ok(init, "list"))


def test_set_state_and_clear_state_refuse_a_declared_state():
    with SessionInit({"fs": FILESYSTEM}, args=("--no-startup-event",)) as init:
        p = init.initctl("set-state", "filesystem")
        assert p.returncode == 1
        assert p.stderr == "initctl: State is kept by job fs: filesystem\n"
        ok(init, "emit", "filesystem")
        p = init.initctl("clear-state", "filesystem")
        assert p.stderr == "initctl: State is kept by job fs: filesystem\n"
        assert named_states(init) == ["filesystem"]


def test_event_states_survive_reexec_and_close_after_it():
    jobs = {"fs": FILESYSTEM, "foo": "while filesystem\n" + SVC}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        ok(init, "emit", "filesystem", "DEVICE=sda1")
        pid = init.wait_for(lambda: main_pid(init, "foo"))
        request_restart(init.address)
        init.wait_for(lambda: "Stateful re-exec completed" in init.init_log())
        assert named_states(init) == ["filesystem DEVICE=sda1"]
        # on D-Bus too: ListStates() -> a(sas)
        with client.connect(init.address) as conn:
            listed = conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "ListStates")
        assert ["filesystem", ["DEVICE=sda1"]] in [[n, list(e)] for n, e in listed[0]]
        assert main_pid(init, "foo") == pid
        ok(init, "emit", "runlevel", "RUNLEVEL=0")     # the `until` of the new init
        init.wait_for(lambda: init.status("foo") == "foo stop/waiting")


def test_why_for_a_while_job_after_restart_of_a_leaf():
    """The user case of issue #26: foo-while has `while bar and baz`; after
    `restart bar`, `initctl why foo-while` says bar left and came back and the
    condition holds again, which leaves hold and since when."""
    jobs = {"bar": SVC, "baz": SVC, "foo-while": "while bar and baz\n" + SVC}
    with SessionInit(jobs, args=("--no-startup-event",)) as init:
        ok(init, "start", "bar")
        ok(init, "start", "baz")
        first = init.wait_for(lambda: main_pid(init, "foo-while"))
        ok(init, "restart", "bar")
        init.wait_for(lambda: (main_pid(init, "foo-while") or first) != first)
        text = ok(init, "why", "foo-while")
        lines = text.splitlines()
        assert lines[0] == "foo-while: goal start"
        assert lines[1] == "  its `while` condition holds again"
        assert lines[2] == "    bar came back (running JOB=bar INSTANCE= opened)"
        assert "asked for by `initctl restart`" in text and "initctl restart bar" in text
        assert re.search(r"\n  before that, stopped at \d\d:\d\d:\d\d by its condition\n"
                         r"    bar left \(running JOB=bar INSTANCE= closed\)\n"
                         r"      asked for by `initctl restart`", text), text
        assert "its process ended" not in text
        assert re.search(r"\n  the condition now: bar and baz: holds\n"
                         r"    bar: holds since \d\d:\d\d:\d\d \(running JOB=bar INSTANCE=\)\n"
                         r"    baz: holds since \d\d:\d\d:\d\d \(running JOB=baz INSTANCE=\)",
                         text), text


def test_why_for_a_stopped_while_job_names_the_state_that_closed():
    jobs = {"fs": FILESYSTEM, "foo": "while filesystem\n" + SVC}
    with SessionInit(jobs, args=("--no-startup-event",)) as init:
        ok(init, "emit", "filesystem")
        init.wait_for(lambda: main_pid(init, "foo"))
        ok(init, "emit", "runlevel", "RUNLEVEL=6")
        init.wait_for(lambda: init.status("foo") == "foo stop/waiting")
        text = ok(init, "why", "foo")
        assert text.startswith("foo: not running\n"), text
        assert "  stopped at " in text and "    state filesystem closed\n" in text, text
        assert "event runlevel RUNLEVEL=6" in text, text
        assert "  the condition now: filesystem: does not hold\n" \
               "    filesystem: does not hold" in text, text
