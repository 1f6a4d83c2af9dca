"""States, `while` and queuing against transitions, end to end (issue #7).

Each test runs our real `init --user` (SessionInit) with its own confdir and
drives it with the real `initctl`; the harness kills init and every process
it left on exit.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from init_harness import request_restart, BIN, SessionInit, descendants, write_jobs

SVC = "exec sleep 1000\n"


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_seed_scenario_while_bar_and_baz():
    """S4 literally: foo runs exactly while bar and baz run, with a new pid each time."""
    jobs = {"bar": SVC, "baz": SVC, "foo": "while bar and baz\n" + SVC}
    with SessionInit(jobs) as init:
        assert init.status("foo") == "foo stop/waiting"
        init.ok("start", "bar")
        assert init.status("foo") == "foo stop/waiting"
        init.ok("start", "baz")
        first = init.wait_for(lambda: init.main_pid("foo"))
        assert os.path.exists(f"/proc/{first}")

        init.ok("stop", "baz")
        init.wait_for(lambda: init.status("foo") == "foo stop/waiting")
        init.wait_for(lambda: first not in descendants(init.proc.pid))

        init.ok("start", "baz")
        second = init.wait_for(lambda: init.main_pid("foo"))
        assert second != first

        # the condition is a level: a start by hand while it is false is refused
        init.ok("stop", "bar")
        init.wait_for(lambda: init.status("foo") == "foo stop/waiting")
        p = init.initctl("start", "foo")
        assert p.returncode == 1
        assert "condition is false" in p.stderr


def test_reload_with_condition_already_true_starts_job():
    with SessionInit({"bar": SVC, "baz": SVC}) as init:
        init.ok("start", "bar")
        init.ok("start", "baz")
        write_jobs(init.conf, {"foo": "while bar and baz\n" + SVC})
        init.ok("reload-configuration")
        init.wait_for(lambda: init.main_pid("foo"))


def test_set_state_clear_state_list_states_drive_while():
    jobs = {"web": "while net IFACE=eth*\n" + SVC, "seen": "while net IFACE=lo\n" + SVC}
    with SessionInit(jobs) as init:
        init.ok("set-state", "net", "IFACE=lo")
        init.wait_for(lambda: init.main_pid("seen"))       # the new state was planned
        assert init.status("web") == "web stop/waiting"
        init.ok("set-state", "net", "IFACE=eth0")
        init.wait_for(lambda: init.main_pid("web"))
        listing = init.ok("list-states").splitlines()
        assert "net IFACE=eth0" in listing
        assert "running JOB=web INSTANCE=" in listing
        init.ok("clear-state", "net")
        init.wait_for(lambda: init.status("web") == "web stop/waiting")
        assert "net IFACE=eth0" not in init.ok("list-states")
        p = init.initctl("clear-state", "net")
        assert p.returncode == 1 and "Unknown state: net" in p.stderr
        p = init.initctl("set-state", "running")
        assert p.returncode == 1


def test_while_instances_follow_running_instances():
    jobs = {"net": "instance $IFACE\n" + SVC,
            "dhcp": "instance $INSTANCE\nwhile running net\n" + SVC}
    with SessionInit(jobs) as init:
        init.ok("start", "net", "IFACE=eth0")
        init.ok("start", "net", "IFACE=eth1")
        init.wait_for(lambda: "dhcp (eth1) start/running" in init.ok("list"))
        assert "dhcp (eth0) start/running" in init.ok("list")
        init.ok("stop", "net", "IFACE=eth0")
        init.wait_for(lambda: "dhcp (eth0)" not in init.ok("list"))
        assert "dhcp (eth1) start/running" in init.ok("list")


def test_start_on_gated_by_while():
    jobs = {"db": SVC, "app": "start on go\nwhile db\n" + SVC, "seen": "while db\n" + SVC}
    with SessionInit(jobs) as init:
        init.ok("emit", "go")
        assert init.status("app") == "app stop/waiting"
        init.ok("start", "db")
        init.wait_for(lambda: init.main_pid("seen"))       # `while db` became true
        assert init.status("app") == "app stop/waiting"     # start on: the event starts it
        init.ok("emit", "go")
        init.wait_for(lambda: init.main_pid("app"))
        init.ok("stop", "db")
        init.wait_for(lambda: init.status("app") == "app stop/waiting")


SLOW = "pre-start exec sleep 2\nexec sleep 1000\n"


def test_second_start_during_slow_pre_start_waits_for_running():
    with SessionInit({"slow": SLOW}) as init:
        first = init.popen(os.path.join(BIN, "initctl"), "start", "slow")
        try:
            init.wait_for(lambda: "pre-start" in init.status("slow"))
            t0 = time.monotonic()
            second = init.initctl("start", "slow", timeout=20)
            assert time.monotonic() - t0 > 0.8           # it waited for the pre-start
            assert second.returncode == 0, second.stderr
            assert re.fullmatch(r"slow start/running, process \d+\n", second.stdout)
            out, err = first.communicate(timeout=20)
            assert first.returncode == 0 and out.startswith("slow start/running"), err
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()


def test_stop_during_slow_pre_start_lands_stopped_without_stray_process():
    with SessionInit({"slow": SLOW}) as init:
        first = init.popen(os.path.join(BIN, "initctl"), "start", "slow")
        try:
            init.wait_for(lambda: "pre-start" in init.status("slow"))
            stop = init.initctl("stop", "slow", timeout=20)
            assert stop.returncode == 0, stop.stderr
            assert stop.stdout == "slow stop/waiting\n"
            first.communicate(timeout=20)
            assert first.returncode is not None         # the waiting start returned
            assert init.status("slow") == "slow stop/waiting"
            init.wait_for(lambda: [p for p in descendants(init.proc.pid)
                                   if b"sleep" in cmdline(p)] == [])
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()


def test_and_or_emitters_never_blocked_and_job_started_once(tmp_path):
    log = tmp_path / "starts"
    jobs = {"j": f"start on A and (B or C)\npre-start exec sh -c 'echo x >> {log}'\n" + SVC}
    with SessionInit(jobs) as init:
        for name in ("A", "B", "C"):
            p = init.initctl("emit", name, timeout=10)
            assert p.returncode == 0, (name, p.stderr)
        init.wait_for(lambda: init.main_pid("j"))
        init.ok("emit", "barrier")          # queued after whatever A, B, C left behind
        assert log.read_text() == "x\n"


@pytest.mark.parametrize("order", [("C", "A"), ("A", "B", "C")])
def test_and_or_other_orders(tmp_path, order):
    jobs = {"j": "start on A and (B or C)\n" + SVC}
    with SessionInit(jobs) as init:
        for name in order:
            assert init.initctl("emit", name, timeout=10).returncode == 0
        init.wait_for(lambda: init.main_pid("j"))


def test_states_and_while_survive_reexec():

    jobs = {"web": "while net\n" + SVC}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        init.ok("set-state", "net", "IFACE=eth0")
        pid = init.wait_for(lambda: init.main_pid("web"))
        request_restart(init.address)
        init.wait_for(lambda: "Stateful re-exec completed" in init.init_log())
        assert init.proc.poll() is None
        assert "net IFACE=eth0" in init.ok("list-states").splitlines()
        assert init.main_pid("web") == pid
        init.ok("clear-state", "net")
        init.wait_for(lambda: init.status("web") == "web stop/waiting")


def test_show_config_prints_while_and_ready_on():
    """The roadmap conditions are D-Bus properties (RPN, like start_on) and
    show-config prints them as it prints start on / stop on."""
    from init_harness import SessionInit

    jobs = {"foo": "while bar and baz\nready on started qux\nexec sleep 100000\n"}
    with SessionInit(jobs=jobs) as init:
        out = init.initctl("show-config", "foo").stdout
        assert out == "foo\n  while (bar and baz)\n  ready on started qux\n"
        enum = init.initctl("show-config", "-e", "foo").stdout.splitlines()
        assert "  while bar (job:, env:)" in enum
        assert "  ready on started (job: qux, env:)" in enum
