"""What Upstart 1.13's own tooling relies on (issue #22, items 3 and 5), against the
real daemon: `--version` texts, `initctl list-sessions`, the log directory holding
job logs only, the file bridge on a directory, and init's process name."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
from init_harness import BIN, DEFAULT_PATH, SessionInit, request_restart

PROGRAMS = ("init", "initctl", "start", "stop", "restart", "reload", "status", "telinit",
            "runlevel", "shutdown", "reboot", "init-checkconf", "initctl2dot",
            "upstart-monitor", "upstart-time-bridge", "upstart-udev-bridge",
            "upstart-file-bridge", "upstart-socket-bridge", "upstart-dbus-bridge",
            "upstart-event-bridge", "upstart-local-bridge", "upstart-dconf-bridge")


@pytest.fixture
def session():
    with SessionInit({"svc": "exec sleep 100000\n"}) as init:
        yield init


def test_version_first_line_is_upstart_the_rest_is_ours(session):
    # the daemon's own answer is 1.13's
    assert session.initctl("version").stdout == "init (upstart 1.13.2)\n"
    for prog in PROGRAMS:
        out = session.run(os.path.join(BIN, prog), "--version")
        assert out.returncode == 0, (prog, out.stderr)
        first, rest = out.stdout.split("\n", 1)
        assert first == f"{prog} (upstart 1.13.2)", prog
        assert "upstart-py " in rest and "GPL-2.0-only" in rest, prog
        assert "Canonical" not in rest and "Scott James Remnant" not in rest, prog


def test_list_sessions_creates_the_directory_and_lists_a_live_session(session, tmp_path):
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    out = session.initctl("list-sessions", env=env)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    for path in (runtime / "upstart", runtime / "upstart" / "sessions"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    # the running Session Init is listed from its own runtime directory
    own = session.initctl("list-sessions", env={"XDG_RUNTIME_DIR": session.env["XDG_RUNTIME_DIR"]})
    assert own.returncode == 0
    assert own.stdout == f"{session.proc.pid} {session.address}\n"
    # it fails only without XDG_RUNTIME_DIR
    bare = subprocess.run([os.path.join(BIN, "initctl"), "list-sessions"],
                          env={"PATH": BIN + ":" + DEFAULT_PATH}, capture_output=True, text=True)
    assert (bare.returncode, bare.stderr) == (1, "initctl: Unable to query session directory\n")


def _names(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/comm") as f:
        comm = f.read().strip()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    return comm, " ".join(a.decode() for a in argv if a)


def _restart(init: SessionInit) -> None:
    request_restart(init.address)
    init.wait_for(lambda: "Stateful re-exec completed" in init.init_log())


def test_process_name_stays_init_across_reexec():
    with SessionInit({"svc": "exec sleep 100000\n"}, args=("--no-startup-event", "--verbose")) \
            as init:
        pid = init.proc.pid
        comm, cmdline = _names(pid)
        assert comm == "init"
        # argv[0] is init's program, not the interpreter the kernel ran it with
        assert cmdline.split()[0] == os.path.join(BIN, "init")
        _restart(init)
        comm, after = _names(pid)
        assert comm == "init"
        assert after.split()[0] == os.path.join(BIN, "init") and "--state-fd" in after
        found = subprocess.run(["pgrep", "-x", "init", "-P", str(os.getpid())],
                               capture_output=True, text=True).stdout.split()
        assert str(pid) in found
        if shutil.which("pidof"):           # pidof reads argv[0]
            assert str(pid) in subprocess.run(["pidof", "init"], capture_output=True,
                                              text=True).stdout.split()
        ps = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True,
                            text=True).stdout
        assert ps.startswith(os.path.join(BIN, "init") + " ")


def test_pid1_process_name_stays_init_across_telinit_u():
    from init_harness import Pid1Init

    with Pid1Init(jobs={"svc": "exec sleep 100000\n"}) as init:
        assert _names(init.pid)[0] == "init"
        assert init.run("telinit", "u").returncode == 0
        init.wait_for(lambda: "--state-fd" in _names(init.pid)[1])
        assert init.run("initctl", "version").returncode == 0
        comm, cmdline = _names(init.pid)
        assert comm == "init" and cmdline.split()[0] == os.path.join(BIN, "init")
        assert init.run("pgrep", "-x", "init").stdout.split()[0] == "1"


def test_logdir_holds_job_logs_only_and_the_event_log_has_its_own_place(tmp_path):
    state = tmp_path / "state"
    jobs = {"svc": "exec sh -c 'echo hello; exec sleep 100000'\n",
            "dep": "start on started svc\ntask\nexec echo dep ran\n"}
    with SessionInit(jobs, env={"XDG_STATE_HOME": str(state)}) as init:
        assert init.initctl("start", "svc").returncode == 0
        init.wait_for(lambda: "dep stop/waiting" in init.initctl("status", "dep").stdout
                      and os.path.exists(os.path.join(init.log, "dep.log")))
        events = state / "upstart" / "upstart-events.jsonl"
        assert init.events == str(events)
        init.wait_for(lambda: events.exists() and '"svc"' in events.read_text())
        assert stat.S_IMODE(os.stat(events.parent).st_mode) == 0o700
        # as 1.13: nothing but job logs in --logdir
        assert sorted(os.listdir(init.log)) == ["dep.log", "svc.log"]
        # why and timeline still find the history (the daemon's, and the file)
        why = init.initctl("why", "svc")
        assert why.returncode == 0 and "svc" in why.stdout and "start" in why.stdout
        offline = init.initctl("timeline", "-f", str(events))
        assert offline.returncode == 0 and "svc" in offline.stdout


def test_pid1_event_log_is_under_run_not_in_the_logdir():
    from init_harness import Pid1Init

    with Pid1Init(jobs={"svc": "exec sh -c 'echo hi; exec sleep 100000'\n"}) as init:
        assert init.run("initctl", "start", "svc").returncode == 0
        init.wait_for(lambda: os.path.exists(os.path.join(init.logdir, "svc.log")))
        init.wait_for(lambda: '"svc"' in init.run("cat", "/run/upstart/upstart-events.jsonl")
                      .stdout)
        assert os.listdir(init.logdir) == ["svc.log"]
        assert init.run("initctl", "why", "svc").returncode == 0
