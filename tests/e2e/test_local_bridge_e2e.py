"""upstart-local-bridge against the real daemon (spec 06 §6, issue #25 item 1).

The bridge runs as a job of a real Session Init; clients are real processes
connecting to its unix socket (named or abstract), some as another user
(`setpriv`), and jobs waiting for the bridge's event record what they got.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from init_harness import BIN, SessionInit
from procfs import read

PY = sys.executable
NOBODY = 65534

RECORD = ("task\ninstance $SEQ\n"
          "exec sh -c 'echo \"$SEQ|$SOCKET_TYPE|$SOCKET_VARIANT|$SOCKET_PATH|$CLIENT_UID|"
          "$CLIENT_GID|$CLIENT_PID\" >> %s'\n")




def lines(path) -> list[str]:
    return read(path).splitlines()


def jobs(path: str, out, extra: str = "") -> dict[str, str]:
    return {"lb": "respawn\nexec upstart-local-bridge --user --event=local --path=%s %s\n"
                  % (path, extra),
            "t": "start on local\n" + RECORD % out}


def address(path: str) -> str:
    return "\0" + path[1:] if path.startswith("@") else path


def connect(init: SessionInit, path: str) -> socket.socket:
    """A client connected once the bridge listens."""
    def attempt():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(address(path))
            return s
        except OSError:
            s.close()
            return None
    return init.wait_for(attempt)


def started_bridge(init: SessionInit) -> None:
    r = init.initctl("start", "lb")
    assert r.returncode == 0, r.stderr


def test_named_socket_line_becomes_event_with_client_credentials(tmp_path):
    out, path = tmp_path / "out", str(tmp_path / "local.sock")
    with SessionInit(jobs=jobs(path, out)) as init:
        started_bridge(init)
        with connect(init, path) as c:
            c.sendall(b"SEQ=one\n")
            init.wait_for(lambda: lines(out))
        assert lines(out) == ["one|unix|named|%s|%d|%d|%d"
                              % (path, os.geteuid(), os.getegid(), os.getpid())]
        assert init.initctl("stop", "lb").returncode == 0
        init.wait_for(lambda: not os.path.exists(path))       # removed on exit


def test_abstract_socket_and_the_line_protocol(tmp_path):
    out, path = tmp_path / "out", "@/upstart-test/local-%d" % os.getpid()
    with SessionInit(jobs=jobs(path, out)) as init:
        started_bridge(init)
        with connect(init, path) as c:
            # ignored: empty, too short, no `=`, leading `=`; CR LF accepted;
            # a line split across two writes is one line
            c.sendall(b"\n" b"x\n" b"noequals\n" b"=SEQ=bad\n" b"SEQ=crlf\r\n" b"SEQ=sp")
            init.wait_for(lambda: lines(out))
            c.sendall(b"lit\n" b"SEQ=last")                    # no final LF: sent at close
        init.wait_for(lambda: len(lines(out)) == 3)
        seqs = sorted(line.split("|")[0] for line in lines(out))
        assert seqs == ["crlf", "last", "split"]
        assert lines(out)[0].split("|")[1:4] == ["unix", "abstract", path]


def test_fixed_variables_cannot_be_spoofed(tmp_path):
    out, path = tmp_path / "out", str(tmp_path / "local.sock")
    spoof = tmp_path / "spoofed"
    js = jobs(path, out)
    js["s"] = ("start on local CLIENT_UID=%d\ntask\nexec touch %s\n" % (NOBODY, spoof))
    with SessionInit(jobs=js) as init:
        started_bridge(init)
        with connect(init, path) as c:
            c.sendall(b"CLIENT_UID=%d\n" % NOBODY)
            c.sendall(b"SEQ=after\n")
            init.wait_for(lambda: "after" in read(out))
        # the job waiting for the forged uid never started; the event carried ours
        assert not spoof.exists()
        log = init.initctl("status", "s").stdout
        assert log.startswith("s stop/waiting"), log


def _client_as_nobody(path: str, line: bytes) -> subprocess.CompletedProcess:
    # a refused client may find the connection closed before it writes
    code = ("import socket\ns=socket.socket(socket.AF_UNIX)\ns.connect(%r)\n"
            "try:\n    s.sendall(%r)\nexcept BrokenPipeError:\n    pass\n"
            % (address(path), line))
    return subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                           "--clear-groups", PY, "-c", code],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to connect as another user")
def test_other_users_are_refused_unless_any_user(tmp_path):
    out = tmp_path / "out"
    path = "@/upstart-test/local-any-%d" % os.getpid()
    with SessionInit(jobs=jobs(path, out)) as init:
        started_bridge(init)
        connect(init, path).close()
        assert _client_as_nobody(path, b"SEQ=nobody\n").returncode == 0
        init.wait_for(lambda: "Ignoring request from uid %d (gid %d, pid " % (NOBODY, NOBODY)
                      in read(os.path.join(init.log, "lb.log")))
        with connect(init, path) as c:                     # still serving its own user
            c.sendall(b"SEQ=root\n")
        init.wait_for(lambda: lines(out))
        assert [line.split("|")[0] for line in lines(out)] == ["root"]
    out.unlink()
    with SessionInit(jobs=jobs(path, out, "--any-user")) as init:
        started_bridge(init)
        connect(init, path).close()
        assert _client_as_nobody(path, b"SEQ=nobody\n").returncode == 0
        init.wait_for(lambda: lines(out))
        fields = lines(out)[0].split("|")
        assert fields[0] == "nobody" and fields[4:6] == [str(NOBODY), str(NOBODY)]


def test_one_client_at_a_time(tmp_path):
    out, path = tmp_path / "out", str(tmp_path / "local.sock")
    with SessionInit(jobs=jobs(path, out)) as init:
        started_bridge(init)
        first = connect(init, path)
        try:
            first.sendall(b"SEQ=a1\n")
            init.wait_for(lambda: "a1|" in read(out))
            with connect(init, path) as second:            # queued by the kernel
                second.sendall(b"SEQ=b1\n")
            first.sendall(b"SEQ=a2\n")
            init.wait_for(lambda: "a2|" in read(out))
            assert "b1|" not in read(out)                  # not served while a is connected
        finally:
            first.close()
        init.wait_for(lambda: "b1|" in read(out))


def test_start_up_errors_are_clear(tmp_path):
    env = {"PATH": os.environ["PATH"], "UPSTART_SESSION": "unix:abstract=/nonexistent"}
    bridge = os.path.join(BIN, "upstart-local-bridge")
    cases = [([], "Must specify event name"),
             (["--event=e"], "Must specify socket path"),
             (["--event=e", "--path=relative"], "Invalid path relative"),
             (["--event=e", "--path=/" + "x" * 120], "Path too long /" + "x" * 120)]
    for args, message in cases:
        r = subprocess.run([bridge, "--user", *args], env=env, capture_output=True,
                           text=True, timeout=30)
        assert (r.returncode, r.stderr) == (1, "upstart-local-bridge: %s\n" % message)
    # init unreachable: fatal, and the socket it had bound is gone again
    path = str(tmp_path / "s")
    r = subprocess.run([bridge, "--user", "--event=e", "--path=" + path], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "Could not connect to Upstart" in r.stderr
    assert not os.path.exists(path)
