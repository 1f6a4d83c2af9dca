"""Spawning real processes through the Supervisor: command forms, environment,
console log, set-up stanzas, spawn errors, kill."""

import os
import pwd
import shutil
import signal
import subprocess

import pytest

from upstart.core.effects import SpawnError
from process_harness import Harness, request
from waiting import wait_for
from upstart.process.notes import Exited, LogLine

ENV = ("PATH=/usr/bin:/bin", "UPSTART_JOB=j", "UPSTART_INSTANCE=", "FOO=a b  c")


@pytest.fixture
def h(tmp_path):
    harness = Harness(logdir=str(tmp_path / "log"), session_init=True)
    os.mkdir(tmp_path / "log")
    yield harness
    harness.close()


def run(h, tmp_path, command, script=False, job="j", instance="", **kw):
    pid = h.spawn(request(command, script=script, job=job, instance=instance,
                          env=kw.pop("env", ENV), **kw))
    note = h.exited(pid)
    return pid, note


def logtext(tmp_path, name="j"):
    return (tmp_path / "log" / f"{name}.log").read_bytes()


def test_plain_exec_is_split_and_searched_in_job_path(h, tmp_path):
    _, note = run(h, tmp_path, "echo one   two", console="log")
    assert note == Exited(note.pid, 0, None)
    assert logtext(tmp_path) == b"one two\r\n"


def test_quoted_exec_goes_through_shell(h, tmp_path):
    run(h, tmp_path, 'echo "one   two"')
    assert logtext(tmp_path) == b"one   two\r\n"


def test_dollar_in_exec_expands_from_job_env(h, tmp_path):
    run(h, tmp_path, "echo job=$UPSTART_JOB")
    assert logtext(tmp_path) == b"job=j\r\n"


def test_one_line_script_runs_with_dash_c(h, tmp_path):
    run(h, tmp_path, 'echo "one-line $0"\n', script=True)
    assert logtext(tmp_path) == b"one-line /bin/sh\r\n"


def test_multi_line_script_via_fd_9_closed_for_the_script(h, tmp_path):
    run(h, tmp_path, 'echo "multi $0"\necho second\nexec ls -1 /proc/self/fd\n', script=True)
    lines = logtext(tmp_path).split(b"\r\n")
    assert lines[:2] == [b"multi /proc/self/fd/9", b"second"]
    # stdin/out/err, ls's own directory fd (3) and dash's copy of the script (10):
    # fd 9 was closed by the `exec 9<&-` prefix and none of init's fds leaked
    assert {int(x) for x in lines[2:] if x} - {0, 1, 2, 3} <= {10}


def test_errexit_stops_script_and_reports_status(h, tmp_path):
    _, note = run(h, tmp_path, "echo before\nfalse\necho after\n", script=True)
    assert note.code == 1 and note.signal is None
    assert logtext(tmp_path) == b"before\r\n"


def test_large_script_is_written_asynchronously(h, tmp_path):
    body = "".join(f": {'x' * 100} {i}\n" for i in range(2000)) + "echo done\n"
    assert len(body) > 65536 * 3
    _, note = run(h, tmp_path, body, script=True)
    assert note.code == 0
    assert logtext(tmp_path) == b"done\r\n"


def test_environment_is_exactly_the_request(h, tmp_path):
    run(h, tmp_path, "env", env=("PATH=/usr/bin:/bin", "ZED=1", "FOO=a b  c"))
    assert logtext(tmp_path) == b"PATH=/usr/bin:/bin\r\nZED=1\r\nFOO=a b  c\r\n"


def test_fast_path_has_no_leaked_fds_and_default_signals(h, tmp_path):
    leak = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(leak, True)
    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        run(h, tmp_path, "ls -1 /proc/self/fd", job="fds")
        run(h, tmp_path, "grep -E '^Sig(Ign|Blk)' /proc/self/status", job="sigs")
    finally:
        os.close(leak)
        signal.signal(signal.SIGUSR1, old)
    fds = sorted(int(x) for x in logtext(tmp_path, "fds").split())
    assert fds == [0, 1, 2, 3]                       # 3 is ls's own directory
    text = logtext(tmp_path, "sigs").decode()
    assert "SigBlk:\t0000000000000000" in text
    ignored = int(text.split("SigIgn:\t")[1].split()[0], 16)
    # glibc's posix_spawn leaves its two internal signals (32, 33) ignored
    # (see docs/design/spawning.md); every other disposition is the default
    assert ignored & ~((1 << 31) | (1 << 32)) == 0


def test_fast_path_leaves_init_fd_close_on_exec_and_unleaked(h, tmp_path):
    # one close_range call marks init's fds close-on-exec (no per-fd scan)
    leak = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(leak, True)
    try:
        run(h, tmp_path, "ls -1 /proc/self/fd", job="fds")
        assert not os.get_inheritable(leak)
    finally:
        os.close(leak)
    assert sorted(int(x) for x in logtext(tmp_path, "fds").split()) == [0, 1, 2, 3]


def test_fast_path_without_close_range_closes_inherited_fds_in_the_child(h, tmp_path,
                                                                         monkeypatch):
    from upstart.process import launch
    monkeypatch.setattr(launch, "_close_range_works", False)   # an older kernel
    leak = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(leak, True)
    try:
        run(h, tmp_path, "ls -1 /proc/self/fd", job="fds")
        assert os.get_inheritable(leak)             # init's own fd is left alone
    finally:
        os.close(leak)
    assert sorted(int(x) for x in logtext(tmp_path, "fds").split()) == [0, 1, 2, 3]


def test_fork_path_has_no_leaked_fds_and_default_signals(h, tmp_path):
    leak = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(leak, True)
    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        run(h, tmp_path, "ls -1 /proc/self/fd", job="fds", nice=1)
        run(h, tmp_path, "grep -E '^Sig(Ign|Blk)' /proc/self/status", job="sigs", nice=1)
    finally:
        os.close(leak)
        signal.signal(signal.SIGUSR1, old)
    assert sorted(int(x) for x in logtext(tmp_path, "fds").split()) == [0, 1, 2, 3]
    text = logtext(tmp_path, "sigs").decode()
    assert "SigBlk:\t0000000000000000" in text and "SigIgn:\t0000000000000000" in text


def test_new_session_and_stdin_dev_null(h, tmp_path):
    pid, _ = run(h, tmp_path, "sh -c 'ps -o sid=,pgid=,tty= -p $$; readlink /proc/$$/fd/0'")
    sid, pgid, tty, stdin = logtext(tmp_path).decode().split()
    assert int(sid) == int(pgid) == pid
    assert tty == "?"                    # the log pty is not a controlling terminal
    assert stdin == "/dev/null"


def test_console_none_writes_nothing(h, tmp_path):
    run(h, tmp_path, "echo none", console="none")
    assert os.listdir(tmp_path / "log") == []


def test_silent_job_creates_no_log(h, tmp_path):
    run(h, tmp_path, "true")
    assert os.listdir(tmp_path / "log") == []


def test_log_names_for_instances_and_subdirectories(h, tmp_path):
    run(h, tmp_path, "echo sub", job="sub/dir/j")
    run(h, tmp_path, "echo inst", job="i", instance="a/b")
    assert logtext(tmp_path, "sub_dir_j") == b"sub\r\n"
    assert logtext(tmp_path, "i-a_b") == b"inst\r\n"


def test_pre_start_main_and_stderr_append_to_one_log(h, tmp_path):
    run(h, tmp_path, "echo from pre-start", slot="pre-start")
    run(h, tmp_path, "echo from main\necho to stderr >&2\n", script=True)
    assert logtext(tmp_path) == b"from pre-start\r\nfrom main\r\nto stderr\r\n"


def test_last_line_before_a_crash_is_logged(h, tmp_path):
    _, note = run(h, tmp_path, "echo last words; kill -SEGV $$", script=True)
    assert note.signal == signal.SIGSEGV
    assert logtext(tmp_path) == b"last words\r\n"


def test_no_log_or_no_logdir_behaves_as_none(tmp_path):
    h = Harness(logdir=str(tmp_path), no_log=True, session_init=True)
    try:
        h.exited(h.spawn(request("echo x")))
    finally:
        h.close()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command,reason", [
    ("/nonexistent/prog", "unable to execute: No such file or directory"),
    ("no-such-program-anywhere", "unable to execute: No such file or directory"),
    ("/etc/passwd", "unable to execute: Permission denied"),
])
def test_exec_failures_raise_spawn_error(h, command, reason):
    with pytest.raises(SpawnError) as info:
        h.spawn(request(command, env=ENV))
    assert info.value.reason == reason
    h.run(0.05)
    assert not [n for n in h.notes if isinstance(n, Exited)]   # the failed child is gone


def test_fork_path_errors(h, tmp_path):
    cases = [
        (dict(setuid="no-such-user-x"), "unable to find setuid user"),
        (dict(setgid="no-such-group-x"), "unable to find setgid group"),
        (dict(chroot=str(tmp_path / "missing")),
         "unable to change root directory: No such file or directory"),
        (dict(chdir=str(tmp_path / "missing")),      # fast path: chdir around posix_spawn
         "unable to change working directory: No such file or directory"),
        (dict(nice=5, chdir="/nonexistent"),
         "unable to change working directory: No such file or directory"),
        (dict(limits={"nofile": (10, 5)}), 'unable to set "nofile" resource limit: Invalid argument'),
        (dict(expect="fork"), "unable to execute: No such file or directory"),
    ]
    for stanzas, reason in cases:
        cmd = "/nonexistent/x" if stanzas.get("expect") else "true"
        with pytest.raises(SpawnError) as info:
            h.spawn(request(cmd, env=ENV, **stanzas))
        assert info.value.reason == reason, stanzas


def test_process_setup_stanzas(tmp_path):
    # golden 073: umask, chdir, nice, limit, oom score (system mode: fork path)
    h = Harness(logdir=str(tmp_path), session_init=False)
    out = tmp_path / "setup"
    try:
        script = (f"umask > {out}\npwd >> {out}\ncut -d' ' -f19 /proc/$$/stat >> {out}\n"
                  f"ulimit -Sn >> {out}\nulimit -Hn >> {out}\ncat /proc/$$/oom_score_adj >> {out}\n")
        pid = h.spawn(request(script, script=True, env=ENV, umask=0o027, chdir=str(tmp_path),
                              nice=5, limits={"nofile": (123, 456)}, oom_score=100))
        assert h.exited(pid).code == 0
    finally:
        h.close()
    assert out.read_text() == f"0027\n{tmp_path}\n5\n123\n456\n100\n"


def test_system_mode_defaults_umask_022_and_cwd_root(tmp_path):
    h = Harness(logdir=str(tmp_path), session_init=False)
    old, cwd = os.umask(0o077), os.getcwd()
    try:
        h.exited(h.spawn(request("sh -c 'umask; pwd'", env=ENV)))
        h.exited(h.spawn(request("sh -c 'umask; pwd'", env=ENV, nice=0)))   # fork path
        assert os.umask(0o077) == 0o077 and os.getcwd() == cwd            # init unchanged
    finally:
        os.umask(old)
        h.close()
    assert (tmp_path / "j.log").read_bytes() == b"0022\r\n/\r\n" * 2


def test_session_mode_inherits_umask_and_cwd(h, tmp_path):
    old = os.umask(0o077)
    try:
        run(h, tmp_path, "sh -c 'umask; pwd'")
    finally:
        os.umask(old)
    assert logtext(tmp_path) == f"0077\r\n{os.getcwd()}\r\n".encode()


def test_setuid_nobody_with_groups(h, tmp_path):
    nobody = pwd.getpwnam("nobody")
    run(h, tmp_path, "sh -c 'id -un; id -u; id -g; id -G'", setuid="nobody")
    lines = logtext(tmp_path).decode().split("\r\n")
    assert lines[:3] == ["nobody", str(nobody.pw_uid), str(nobody.pw_gid)]
    assert "0" not in lines[3].split()          # root's groups dropped by initgroups


def test_setgid_only(h, tmp_path):
    run(h, tmp_path, "id -gn", setgid="nogroup")
    assert logtext(tmp_path) == b"nogroup\r\n"


def test_multi_line_script_pipe_is_chowned_for_setuid(h, tmp_path):
    _, note = run(h, tmp_path, "id -un\necho ok\n", script=True, setuid="nobody")
    assert note.code == 0
    assert logtext(tmp_path) == b"nobody\r\nok\r\n"


def test_limit_core_and_unlimited(h, tmp_path):
    run(h, tmp_path, "sh -c 'ulimit -Sc; ulimit -Hc; ulimit -Ss'",
        limits={"core": (0, None), "stack": (None, None)})
    assert logtext(tmp_path) == b"0\r\nunlimited\r\nunlimited\r\n"


def test_oom_never(h, tmp_path):
    try:
        run(h, tmp_path, "cat /proc/self/oom_score_adj", oom_score=-1000)
    except SpawnError as err:   # containers may forbid lowering the score
        assert err.reason == "unable to set oom adjustment: Permission denied"
    else:
        assert logtext(tmp_path) == b"-1000\r\n"


def _static_binary(tmp_path):
    if not shutil.which("gcc"):
        pytest.skip("no compiler to build a static binary for the chroot")
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\n#include <unistd.h>\n'
                   'int main(){char b[256];getcwd(b,sizeof b);'
                   'printf("in chroot cwd=%s\\n",b);'
                   'printf("etc=%d\\n", access("/etc/passwd",0)==0);return 0;}\n')
    out = tmp_path / "hello"
    if subprocess.run(["gcc", "-static", "-O", "-o", str(out), str(src)],
                      capture_output=True).returncode != 0:
        pytest.skip("static linking not available")
    return out


def test_chroot_into_small_tree(h, tmp_path):
    binary = _static_binary(tmp_path)
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "work").mkdir()
    (root / "etc").mkdir()
    # user look-ups happen inside the chroot (spec 01 §9): it needs its own passwd
    (root / "etc" / "passwd").write_text("root:x:0:0::/:/bin/hello\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    shutil.copy(binary, root / "bin" / "hello")
    _, note = run(h, tmp_path, "/bin/hello", chroot=str(root), chdir="/work")
    assert note.code == 0
    assert logtext(tmp_path) == b"in chroot cwd=/work\r\netc=1\r\n"


def test_chroot_without_passwd_fails_user_lookup(h, tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(SpawnError) as info:
        h.spawn(request("/bin/true", env=ENV, chroot=str(root)))
    assert info.value.reason.startswith("unable to getpwuid")


def test_console_output_uses_dev_console_or_falls_back(h, tmp_path):
    pid, note = run(h, tmp_path, "readlink /proc/self/fd/1", console="output")
    assert note.code == 0
    warned = [n for n in h.notes if isinstance(n, LogLine)
              and n.message.startswith("Failed to open system console")]
    assert os.listdir(tmp_path / "log") == []
    assert warned or os.path.exists("/dev/console")


def test_kill_group_and_sigkill(h, tmp_path):
    pid = h.spawn(request("sh -c 'trap \"\" TERM; env --default-signal=TERM sleep 30 & "
                          "env --default-signal=TERM sleep 30 & wait; sleep 30'", env=ENV))

    def both_children():        # both sleeping: exec'd by env, TERM back to default
        kids = [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
        return kids if len(kids) == 2 and all(_cmdline(k) == b"sleep\x0030\x00"
                                              for k in kids) else None
    kids = wait_for(both_children, timeout=5)
    assert h.sup.kill(pid, signal.SIGTERM, group=True) is None
    h.run(0.1)
    assert not [n for n in h.notes if isinstance(n, Exited) and n.pid == pid]   # TERM trapped
    wait_for(lambda: h.run(0.01) or all(_gone(k) for k in kids), timeout=5)  # the group got TERM
    assert h.sup.kill(pid, signal.SIGKILL) is None
    assert h.exited(pid).signal == signal.SIGKILL
    assert h.sup.kill(pid, signal.SIGTERM) is None          # ESRCH is silent


def test_kill_errors_are_returned_as_text(h):
    assert h.sup.kill(1, 0, group=False) is None
    assert h.sup.kill(os.getpid(), 999, group=False) == "Invalid argument"


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_console_owner_gets_console_as_controlling_tty(h, tmp_path):
    if not os.path.exists("/dev/console"):
        pytest.skip("no /dev/console")
    out = tmp_path / "tty"
    try:
        _, note = run(h, tmp_path, f"sh -c 'tty > {out}; ps -o tty= -p $$ >> {out}' ",
                      console="owner")
    except SpawnError as err:   # the console is some other session's terminal
        assert err.reason.startswith("unable to open console: ")
        return
    assert note.code == 0
    name, ctty = out.read_text().split()
    assert name == "/dev/console" and ctty != "?"


def test_upstart_fds_are_passed_with_systemd_listen_variables(h, tmp_path):
    import socket
    ours, theirs = socket.socketpair()
    fd = theirs.fileno()
    assert not os.get_inheritable(fd)      # init's fds are close-on-exec
    prog = ("import os; e = os.environ; n = int(e['UPSTART_FDS']); "
            "os.write(n, b'upstart:' + e['UPSTART_FDS'].encode() + b' '); "
            "os.write(3, b'listen:' + e['LISTEN_FDS'].encode() + b' ' + "
            "str(int(e['LISTEN_PID']) == os.getpid()).encode())")
    try:
        _, note = run(h, tmp_path, f'/usr/bin/python3 -S -c "{prog}"',
                      env=ENV + (f"UPSTART_FDS={fd}",))
        assert note.code == 0, logtext(tmp_path)
        ours.settimeout(5)
        data = b""
        while not data.endswith(b"True") and len(data) < 100:
            data += ours.recv(100)
        assert data == f"upstart:{fd} listen:1 True".encode()
    finally:
        ours.close()
        theirs.close()
