"""The small roadmap APIs of issue #26 item 5, end to end against a real init:
the override message at --verbose (RM-10), `UPSTART_FD` (RM-05), the seed's
variant form of start on/stop on (RM-09), resuming `debug` jobs (RM-15),
`initctl --global` (CT-27) and PID-1-managed user sessions (RM-07)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest
from init_harness import BIN, DEFAULT_PATH, Pid1Init, SessionInit

from upstart.control import client
from procfs import read
from ports import free_port, connect

PY = sys.executable
needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root (namespaces, chroot) and setpriv")




def test_verbose_init_says_a_run_was_modified_by_an_override():
    jobs = {"svc": "exec sleep 30\n", "svc.override": "env FROM_OVERRIDE=1\n",
            "plain": "exec sleep 30\n"}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as s:
        s.ok("start", "svc")
        s.ok("start", "plain")
        override = f"{s.conf}/svc.override"
        s.wait_for(lambda: f"svc job modified by override {override}" in s.init_log())
        log = s.init_log()
        assert "plain job modified" not in log
        # said once per run, as it enters `starting`
        assert log.count("svc job modified by override") == 1
        s.ok("restart", "svc")
        s.wait_for(lambda: s.init_log().count("svc job modified by override") == 2)


def test_override_message_is_not_logged_at_the_default_priority():
    jobs = {"svc": "exec sleep 30\n", "svc.override": "env FROM_OVERRIDE=1\n"}
    with SessionInit(jobs) as s:
        s.ok("start", "svc")
        assert "modified by override" not in s.init_log()


# ------------------------------------------------------------ RM-05 UPSTART_FD

FD_SERVER = r"""
import os, socket
e = os.environ
with open(e["OUT"], "w") as f:
    f.write("%s|%s\n" % (e.get("UPSTART_FD"), e.get("UPSTART_FDS")))
listener = socket.socket(fileno=int(e["UPSTART_FD"]))
conn, _ = listener.accept()
conn.sendall(b"served on UPSTART_FD\n")
conn.close()
"""


def test_socket_activated_job_reads_its_one_socket_from_upstart_fd(tmp_path):
    port = free_port()
    script = tmp_path / "server.py"
    script.write_text(FD_SERVER)
    jobs = {
        "sb": "respawn\nexec upstart-socket-bridge --user\n",
        "srv": (f"start on socket PROTO=inet PORT={port} ADDR=127.0.0.1\n"
                f"env OUT={tmp_path / 'out'}\nexec {PY} {script}\n"),
    }
    with SessionInit(jobs) as s:
        s.ok("start", "sb")
        client = connect(port)
        client.settimeout(5)
        try:
            assert client.recv(100) == b"served on UPSTART_FD\n"
        finally:
            client.close()
        fd, fds = read(tmp_path / "out").strip().split("|")
        assert fd.isdigit() and fds == fd          # one socket: the same number in both
        assert int(fd) > 2


# ------------------------------------------------- RM-09 the seed's variant form

def test_seed_variant_form_of_start_on_beside_the_113_property():
    jobs = {"web": "start on started dbus and started apache\n"
                   "stop on stopping dbus or runlevel [016]\nexec sleep 30\n",
            "plain": "exec sleep 30\n"}
    with SessionInit(jobs) as s, client.Connection(s.address) as conn:
        path = conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetJobByName", "s",
                         ("web",))[0]
        get = lambda name: conn.get_property(path, client.JOB_IFACE, name)  # noqa: E731
        # the seed's example, exactly: [["started", "dbus"], ["started", "apache"], "AND"]
        assert get("start_on_variant") == [("(sas)", ("started", ["dbus"])),
                                           ("(sas)", ("started", ["apache"])), ("s", "AND")]
        assert get("stop_on_variant") == [("(sas)", ("stopping", ["dbus"])),
                                          ("(sas)", ("runlevel", ["[016]"])), ("s", "OR")]
        # 1.13's property is unchanged
        assert get("start_on") == [["started", "dbus"], ["started", "apache"], ["/AND"]]
        plain = conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetJobByName", "s",
                          ("plain",))[0]
        assert conn.get_property(plain, client.JOB_IFACE, "start_on_variant") == []
        xml = conn.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
        assert '<property name="start_on_variant" type="av" access="read"/>' in xml
        assert '<property name="start_on" type="aas" access="read"/>' in xml


# ------------------------------------------------------- RM-15 resuming `debug` jobs

def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


DEBUG_JOBS = {"dbg": "debug\nexec sleep 31\n",
              "inst": "debug\ninstance $N\nexec sleep 32\n",
              "plain": "exec sleep 33\n"}


def test_debug_stanza_without_debug_logging_and_initctl_resume():
    # --debug-stanza: the stanza pauses, yet init does not log at debug priority
    with SessionInit(DEBUG_JOBS, args=("--no-startup-event", "--debug-stanza")) as s:
        assert s.ok("log-priority").strip() == "message"
        s.ok("start", "--no-wait", "dbg")
        pid = s.wait_for(lambda: s.main_pid("dbg", running=False))
        s.wait_for(lambda: _proc_state(pid) == "T")
        assert b"sleep" not in _cmdline(pid)           # paused before exec
        assert "initctl resume dbg" in s.ok("status", "--verbose", "dbg")
        out = s.ok("resume", "dbg")
        assert out == f"dbg start/running, process {pid}\n"
        s.wait_for(lambda: _cmdline(pid).startswith(b"sleep\x0031"))
        assert _proc_state(pid) in ("S", "R")
        # nothing is paused now: resuming again says so
        again = s.initctl("resume", "dbg")
        assert again.returncode == 1
        assert again.stderr == "initctl: Job is not paused: dbg\n"


def test_resume_names_an_instance_by_its_environment_and_refuses_unknown_ones():
    with SessionInit(DEBUG_JOBS, args=("--no-startup-event", "--debug-stanza")) as s:
        s.ok("start", "--no-wait", "inst", "N=a")
        s.ok("start", "--no-wait", "inst", "N=b")
        pids = {}
        for n in "ab":
            line = s.wait_for(lambda n=n: [x for x in s.ok("list").splitlines()
                                           if x.startswith(f"inst ({n}) ") and "process" in x])
            pids[n] = int(line[0].rsplit(" ", 1)[1])
            s.wait_for(lambda n=n: _proc_state(pids[n]) == "T")
        s.ok("resume", "inst", "N=b")
        s.wait_for(lambda: _cmdline(pids["b"]).startswith(b"sleep\x0032"))
        assert _proc_state(pids["a"]) == "T"                # the other instance stays paused
        missing = s.initctl("resume", "inst", "N=c")
        assert missing.returncode == 1 and "Unknown instance" in missing.stderr
        s.ok("start", "plain")
        assert s.initctl("resume", "plain").stderr == "initctl: Job is not paused: plain\n"
        s.ok("resume", "inst", "N=a")
        s.wait_for(lambda: _cmdline(pids["a"]).startswith(b"sleep\x0032"))


@needs_root
def test_debug_stanza_option_survives_a_stateful_reexec_of_pid1():
    with Pid1Init(jobs={"dbg": "debug\nexec sleep 34\n"},
                  args=("--no-startup-event", "--debug-stanza")) as init:
        assert init.run("telinit", "u").returncode == 0
        init.wait_for(lambda: "--debug-stanza" in
                      init.run("cat", "/proc/1/cmdline").stdout.split("\0"))
        assert init.run("initctl", "start", "--no-wait", "dbg").returncode == 0
        pid = init.wait_for(lambda: init.main_pid("dbg", running=False))
        init.wait_for(lambda: " T " in init.run("cat", f"/proc/{pid}/stat").stdout)
        assert init.ok("resume", "dbg") == f"dbg start/running, process {pid}\n"
        init.wait_for(lambda: init.run("cat", f"/proc/{pid}/cmdline").stdout
                      .startswith("sleep\0" "34"))


def test_without_either_option_the_debug_stanza_does_not_pause():
    with SessionInit(DEBUG_JOBS) as s:
        s.ok("start", "dbg")             # waits for running: it would hang if paused
        pid = s.main_pid("dbg")
        s.wait_for(lambda: _cmdline(pid).startswith(b"sleep\x0031"))


# ---------------------------------------------------------- CT-27 initctl --global

UID = 4242   # an ordinary user (no passwd entry needed)


def _names(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return sorted(line.split(" ", 1)[0] for line in result.stdout.splitlines())


@needs_root
def test_global_from_a_chroot_session_lists_the_global_jobs_and_only_looks():
    from test_chroot_sessions_e2e import CHROOT_JOBS, GLOBAL_JOBS, build_chroot, inside

    with Pid1Init(jobs=GLOBAL_JOBS, args=("--no-startup-event", "--chroot-sessions")) as init:
        root = build_chroot(init)
        assert _names(inside(init, root, "list")) == sorted(CHROOT_JOBS)
        # --global bypasses the chroot session's scope: the system-wide jobs
        assert _names(inside(init, root, "--global", "list")) == sorted(GLOBAL_JOBS)
        init.ok("start", "hostsvc")
        status = inside(init, root, "--global", "status", "hostsvc")
        assert status.stdout.startswith("hostsvc start/running, process ")
        # ... and only looks: changing a global job from the chroot is refused
        stop = inside(init, root, "--global", "stop", "hostsvc")
        assert stop.returncode == 1
        assert stop.stderr == ("initctl: You do not have permission to change the global "
                               "jobs from a chroot session (initctl --global only looks)\n")
        emit = inside(init, root, "--global", "emit", "ping")
        assert emit.returncode == 1 and "only looks" in emit.stderr
        assert init.state("hostsvc").startswith("hostsvc start/running")
        # without --global nothing changed: the chroot still sees its own jobs
        assert _names(inside(init, root, "list")) == sorted(CHROOT_JOBS)
        # outside a chroot, --global is the usual view
        assert _names(init.run("initctl", "--global", "list")) == sorted(GLOBAL_JOBS)
        assert init.run("initctl", "--global", "stop", "hostsvc").returncode == 0


@needs_root
def test_global_from_a_users_session_reaches_the_system_jobs():
    tmp = tempfile.mkdtemp(prefix="upstart-global-")
    try:
        for d in ("conf", "log", "xdg", "home"):
            os.makedirs(os.path.join(tmp, d), mode=0o700)
        with open(os.path.join(tmp, "conf", "mine.conf"), "w") as f:
            f.write("exec sleep 100000\n")
        for where, dirs, files in os.walk(tmp):
            for name in dirs + files:
                os.chown(os.path.join(where, name), UID, UID)
        os.chown(tmp, UID, UID)
        xdg = os.path.join(tmp, "xdg")
        # env first: setpriv must exec the program itself (the interpreter is root's)
        login = ["env", "-i", f"PATH={BIN}:{DEFAULT_PATH}", f"HOME={tmp}/home",
                 f"XDG_RUNTIME_DIR={xdg}"]
        as_user = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]
        user = login + as_user
        with Pid1Init(jobs={"syssvc": "exec sleep 100000\n"}) as init:
            init.ok("start", "syssvc")
            # the user's own Session Init, inside init's namespaces
            init.run("sh", "-c", " ".join(user) + f" {BIN}/init --user --confdir {tmp}/conf "
                     f"--logdir {tmp}/log --no-dbus --no-startup-event "
                     ">/dev/null 2>&1 </dev/null &")
            # the user's initctl finds that session (its session file) ...
            init.wait_for(lambda: init.run(*user, "initctl", "list").stdout.startswith("mine "))
            assert _names(init.run(*user, "initctl", "list")) == ["mine"]
            # ... and --global goes to the system init: its jobs, to look at
            assert _names(init.run(*user, "initctl", "--global", "list")) == ["syssvc"]
            status = init.run(*user, "initctl", "--global", "status", "syssvc")
            assert status.stdout.startswith("syssvc start/running, process ")
            refused = init.run(*user, "initctl", "--global", "stop", "syssvc")
            assert refused.returncode == 1
            assert "Rejected: com.ubuntu.Upstart0_6.Job.Stop" in refused.stderr
            # the same with UPSTART_SESSION set, as inside the session's own jobs
            session = init.run(*user, "initctl", "list-sessions").stdout.split()[1]
            env_user = login + [f"UPSTART_SESSION={session}"] + as_user
            assert _names(init.run(*env_user, "initctl", "list")) == ["mine"]
            assert _names(init.run(*env_user, "initctl", "--global", "list")) == ["syssvc"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_global_is_a_usage_error_with_another_connection_option():
    with SessionInit() as s:
        out = s.initctl("--global", "--user", "list")
        assert out.returncode == 1
        assert out.stderr == ("initctl: --global cannot be used with --user\n"
                              "Try `initctl --help' for more information.\n")
        # after an environment command, --global keeps 1.13's meaning (the global table)
        s.ok("set-env", "--global", "FOO=bar")
        assert s.ok("get-env", "--global", "FOO") == "bar\n"


# --------------------------------------------- RM-07 user sessions started by PID 1

ALICE = 4243


def _alice_setup(tmp: str) -> str:
    """Shell lines for Pid1Init's setup: /etc/passwd and /etc/group with alice
    added, bind-mounted in init's private mount namespace only."""
    home = os.path.join(tmp, "alice")
    os.makedirs(os.path.join(home, ".config", "upstart"))
    with open(os.path.join(home, ".config", "upstart", "mine.conf"), "w") as f:
        f.write("start on startup\nexec sleep 100000\n")
    for where, dirs, files in os.walk(home):
        for name in dirs + files:
            os.chown(os.path.join(where, name), ALICE, ALICE)
    os.chown(home, ALICE, ALICE)
    os.chmod(tmp, 0o755)
    for name, line in (("passwd", f"alice:x:{ALICE}:{ALICE}::{home}:/bin/sh\n"),
                       ("group", f"alice:x:{ALICE}:\n")):
        with open(f"/etc/{name}") as f:
            text = f.read()
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text + line)
    return (f"mount --bind {tmp}/passwd /etc/passwd\n"
            f"mount --bind {tmp}/group /etc/group\n")


def _python_for_users(tmp: str) -> str:
    """Shell lines that let an ordinary user run this Python inside init's mount
    namespace: where the interpreter lives under a directory others may not
    enter (a test machine's /root/.pyenv), that directory is replaced there by
    a tmpfs others may enter, with the interpreter's tree bound back in."""
    real = os.path.realpath(sys.executable).split("/")[1:]
    for i in range(1, len(real)):
        blocked = "/" + "/".join(real[:i])
        if not os.stat(blocked).st_mode & 0o001:
            keep = blocked + "/" + real[i]
            return (f"mkdir -p {tmp}/keep && mount --bind {keep} {tmp}/keep\n"
                    f"mount -t tmpfs -o mode=0755 tmpfs {blocked}\n"
                    f"mkdir -p {keep} && mount --move {tmp}/keep {keep}\n")
    return ""


def _uid_and_argv(init, pid: int) -> tuple[int, list[str]]:
    """A process's uid and argv as init's PID namespace sees them."""
    status = init.run("cat", f"/proc/{pid}/status").stdout
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    # an init without CAP_SYS_RESOURCE rewrites its argv in place: NULs pad the end
    argv = init.run("cat", f"/proc/{pid}/cmdline").stdout.rstrip("\0").split("\0")
    return uid, argv


@needs_root
def test_pam_login_starts_the_users_session_init_from_pid1_and_last_logout_ends_it():
    from init_harness import REPO

    with open(os.path.join(REPO, "jobs", "user-session.conf")) as f:
        stock = f.read()
    tmp = tempfile.mkdtemp(prefix="upstart-users-")
    try:
        setup = _alice_setup(tmp) + _python_for_users(tmp)
        helper = os.path.join(BIN, "upstart-user-session")
        with Pid1Init(jobs={"user-session": stock}, setup=setup) as init:
            def pam(kind: str):
                done = init.run("env", f"PAM_TYPE={kind}", "PAM_USER=alice",
                                "PAM_SERVICE=login", helper, "pam")
                assert done.returncode == 0, done.stderr
                return done

            pam("open_session")                      # first login
            first = init.state("user-session", "USER=alice")
            assert first.startswith("user-session (alice) start/running, process ")
            pid = int(first.rsplit(" ", 1)[1])
            uid, argv = _uid_and_argv(init, pid)
            assert uid == ALICE and argv[-1] == "--user"      # alice's `init --user`
            # alice's own initctl (her runtime directory, no UPSTART_SESSION) finds it
            alice = ["env", "-i", f"PATH={BIN}:{DEFAULT_PATH}", f"XDG_RUNTIME_DIR=/run/user/{ALICE}",
                     "setpriv", f"--reuid={ALICE}", f"--regid={ALICE}", "--clear-groups",
                     "initctl"]
            mine = init.wait_for(lambda: init.run(*alice, "status", "mine").stdout)
            assert mine.startswith("mine start/running, process ")
            # a login shell without XDG_RUNTIME_DIR finds it too (in /run/user/UID)
            bare = ["env", "-i", f"PATH={BIN}:{DEFAULT_PATH}"] + alice[3:]
            assert init.run(*bare, "status", "mine").stdout == mine
            sessions = init.run(*alice, "list-sessions").stdout.split()
            assert sessions[0] == str(pid)
            assert init.run(*alice, "--global", "status", "user-session", "USER=alice") \
                .stdout.strip() == first
            # a second login (another terminal) keeps the same Session Init
            pam("open_session")
            assert init.state("user-session", "USER=alice") == first
            count = init.run("cat", "/run/upstart/user-sessions/alice").stdout
            assert count == "2\n"
            pam("close_session")                     # one terminal closed: still there
            assert init.state("user-session", "USER=alice") == first
            pam("close_session")                     # the last logout ends it
            assert init.ok("list") == "user-session stop/waiting\n"     # no instance left
            init.wait_for(lambda: init.run("kill", "-0", str(pid)).returncode != 0)
            assert init.run("cat", "/run/upstart/user-sessions/alice").stdout == "0\n"
            # system accounts (below --min-uid, 1000) get no session; bad input says so
            root = init.run("env", "PAM_TYPE=open_session", "PAM_USER=root", helper, "pam")
            assert root.returncode == 0 and init.ok("list") == "user-session stop/waiting\n"
            unknown = init.run(helper, "login", "nosuchuser")
            assert unknown.returncode == 1
            assert unknown.stderr == "upstart-user-session: unknown user: nosuchuser\n"
            usage = init.run(helper, "logon", "alice")
            assert usage.returncode == 1 and "invalid command: logon" in usage.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
