"""The process side of readiness: which processes get NOTIFY_SOCKET or a
notify fd, the datagram format, the sender check, and real children of the
supervisor (fast and fork paths) reporting `Notified` notes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from upstart.jobfile.model import Match, Op
from process_harness import Harness, request
from upstart.process.notes import LogLine, Notified
from upstart.process.notify import belongs, notify_fd_number, parse_datagram, wants

PY = sys.executable


def test_wants_only_for_main_and_only_when_mentioned():
    both = Op("and", Match("notify"), Op("or", Match("notify-fd", ("FD=5",)), Match("x")))
    assert wants(both, "main") == (True, 5)
    assert wants(both, "pre-start") == (False, None)
    assert wants(Match("started", ("bar",)), "main") == (False, None)
    assert wants(None, "main") == (False, None)
    assert wants(Match("notify-fd", ("7",)), "main") == (False, 7)


@pytest.mark.parametrize("args, n", [
    (("3",), 3), (("FD=12",), 12), (("1",), None), (("9",), None), (("x",), None),
    ((), None), (("OTHER=4", "5"), 5), (("2000",), None),
])
def test_notify_fd_number(args, n):
    assert notify_fd_number(args) == n


def test_parse_datagram():
    assert parse_datagram(b"READY=1\nSTATUS=up and running\n\nMAINPID=42") == \
        ["READY=1", "STATUS=up and running", "MAINPID=42"]
    assert parse_datagram(b"garbage") == []


def test_belongs_self_child_session_and_stranger():
    me = os.getpid()
    assert belongs(me, me)
    child = subprocess.Popen(["sleep", "30"])
    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert belongs(child.pid, me)                 # a descendant
        assert not belongs(me, child.pid)
        assert not belongs(stranger.pid, child.pid)
        assert belongs(stranger.pid, stranger.pid)
    finally:
        for p in (child, stranger):
            p.kill()
            p.wait()


@pytest.fixture
def h():
    harness = Harness(session_init=True)
    yield harness
    harness.close()


def notified(h, pid, timeout=5.0) -> Notified:
    note = h.wait(lambda n: isinstance(n, Notified) and n.pid == pid, timeout)
    assert isinstance(note, Notified)
    return note


SENDER = ("import os,socket,time; a=os.environ['NOTIFY_SOCKET']; "
          "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); "
          "s.sendto(b'STATUS=warming\\nREADY=1\\n', '\\0'+a[1:]); time.sleep(30)")


@pytest.mark.parametrize("stanzas", [{}, {"nice": 1}], ids=["fast-path", "fork-path"])
def test_notify_socket_reports_fields(h, stanzas):
    pid = h.spawn(request(f"{PY} -c \"{SENDER}\"", ready_on=Match("notify"), ready=True,
                          **stanzas))
    note = notified(h, pid)
    assert note.fields == ("STATUS=warming", "READY=1")


def test_notify_socket_from_a_child_process_counts(h, tmp_path):
    script = tmp_path / "sender.py"
    script.write_text(SENDER.replace("; ", "\n"))
    cmd = f"sh -c '{PY} {script}; :'"
    pid = h.spawn(request(cmd, ready_on=Match("notify"), ready=True))
    assert "READY=1" in notified(h, pid).fields


def test_no_notify_socket_without_the_stanza(h, tmp_path):
    out = tmp_path / "env"
    pid = h.spawn(request(f"sh -c 'echo \"[$NOTIFY_SOCKET]\" > {out}'"))
    h.exited(pid)
    assert out.read_text() == "[]\n"


def test_stranger_datagram_is_dropped(h, tmp_path):
    out = tmp_path / "addr"
    pid = h.spawn(request(f"sh -c 'echo $NOTIFY_SOCKET > {out}; exec sleep 30'",
                          ready_on=Match("notify"), ready=True))
    for _ in range(200):
        if out.exists() and out.read_text().strip():
            break
        h.run(0.01)
    addr = out.read_text().strip()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"READY=1", "\0" + addr[1:])          # from this test process: not the job
    s.close()
    h.run(0.2)
    assert not [n for n in h.notes if isinstance(n, Notified)]
    assert [n for n in h.notes if isinstance(n, LogLine)
            and n.message == f"Ignored notify message for process {pid} from process "
                             f"{os.getpid()}"]


@pytest.mark.parametrize("stanzas", [{}, {"nice": 1}], ids=["fast-path", "fork-path"])
def test_notify_fd_newline_means_ready(h, stanzas):
    pid = h.spawn(request("sh -c 'sleep 0.1; printf \"x\" >&5; sleep 0.1; echo >&5; "
                          "exec sleep 30'",
                          ready_on=Match("notify-fd", ("5",)), ready=True, **stanzas))
    h.run(0.15)
    assert not [n for n in h.notes if isinstance(n, Notified)]   # no newline yet
    assert notified(h, pid).fields == ("READY=1",)


def test_notify_fd_closed_without_newline_is_not_ready(h):
    pid = h.spawn(request("sh -c 'exec 5>&-; exec sleep 30'",
                          ready_on=Match("notify-fd", ("5",)), ready=True))
    h.run(0.3)
    assert not [n for n in h.notes if isinstance(n, Notified)]
    assert pid in h.sup._notify.pids()
    assert h.sup._notify._by_pid[pid].read_fd is None           # init's end closed at EOF


def test_channels_closed_when_the_process_is_reaped(h):
    pid = h.spawn(request("sh -c 'sleep 0.1'", ready_on=Op("and", Match("notify"),
                          Match("notify-fd", ("6",))), ready=True))
    h.exited(pid)
    assert pid not in h.sup._notify.pids()


@pytest.mark.skipif(shutil.which("systemd-notify") is None, reason="no systemd-notify")
def test_real_systemd_notify_client(h):
    pid = h.spawn(request("sh -c 'systemd-notify --ready --status=serving; exec sleep 30'",
                          ready_on=Match("notify"), ready=True))
    fields = notified(h, pid).fields
    assert "READY=1" in fields


BARRIER = """\
import os, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
s.sendmsg([b"READY=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, w.to_bytes(4, "little"))],
          0, "\\0" + addr[1:])
os.close(w)
os.read(r, 1)                      # EOF once init closed the copy it received
open(sys.argv[1], "w").write("barrier passed")
time.sleep(30)
"""


def test_fds_passed_with_a_datagram_are_closed_like_a_barrier(h, tmp_path):
    (tmp_path / "barrier.py").write_text(BARRIER)
    out = tmp_path / "out"
    pid = h.spawn(request(f"{PY} {tmp_path}/barrier.py {out}", ready_on=Match("notify"),
                          ready=True))
    assert notified(h, pid).fields == ("READY=1",)
    for _ in range(1000):                  # the file is created before it is written
        if out.exists() and out.read_text():
            break
        h.run(0.01)
    assert out.read_text() == "barrier passed"
