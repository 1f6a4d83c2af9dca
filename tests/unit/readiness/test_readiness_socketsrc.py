"""The socket source: back-off schedule, matching rows, the kernel dump
(real sock_diag), job ownership through /proc, and the watcher firing once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from upstart.reactor.futures import sleep
from upstart.readiness import socketsrc
from upstart.readiness.socketsrc import (
    DiagProbe, SocketWatcher, inet_matches, next_delay, owned, socket_inodes, unix_matches,
)
from upstart.readiness.spec import parse_socket
from ports import free_port


def test_backoff_grows_from_5ms_to_a_50ms_cap():
    delays = []
    d = None
    for _ in range(20):
        d = next_delay(d)
        delays.append(d)
    assert delays[0] == 0.005
    assert all(b >= a for a, b in zip(delays, delays[1:]))
    assert delays[-1] == socketsrc.MAX_DELAY == 0.05
    assert sum(delays[:8]) < 0.25      # eight checks in the first quarter second
    assert delays[:3] == [0.005, 0.0075, 0.01125]


def test_row_matching():
    spec = parse_socket(("PROTO=inet", "PORT=8080"))
    assert inet_matches(spec, [("0.0.0.0", 8080, 11), ("127.0.0.1", 9, 12),
                               ("127.0.0.1", 8080, 13)]) == [11, 13]
    uspec = parse_socket(("PROTO=unix", "PATH=/run/x.sock"))
    assert unix_matches(uspec, [("/run/x.sock", False, 5), ("run/x.sock", True, 6)]) == [5]


def test_diag_probe_sees_a_real_listener_and_not_a_bound_one():
    port = free_port()
    spec = parse_socket(("PROTO=inet", "PORT=%d" % port))
    probe = DiagProbe()
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        assert probe.listeners(spec) == []          # bound is not listening
        s.listen()
        inode = os.fstat(s.fileno()).st_ino
        assert probe.listeners(spec) == [inode]
    finally:
        s.close()
        probe.close()


def test_diag_probe_unix_path_and_abstract(tmp_path):
    path = str(tmp_path / "s.sock")
    probe = DiagProbe()
    a = socket.socket(socket.AF_UNIX)
    b = socket.socket(socket.AF_UNIX)
    name = "upstart-py-test-%d" % os.getpid()
    try:
        a.bind(path)
        a.listen()
        b.bind("\0" + name)
        b.listen()
        assert probe.listeners(parse_socket(("PROTO=unix", "PATH=" + path))) == \
            [os.fstat(a.fileno()).st_ino]
        assert probe.listeners(parse_socket(("PROTO=unix", "PATH=@" + name))) == \
            [os.fstat(b.fileno()).st_ino]
        assert probe.listeners(parse_socket(("PROTO=unix", "PATH=@" + name + "x"))) == []
    finally:
        a.close()
        b.close()
        probe.close()


def test_ownership_through_proc():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    inode = os.fstat(s.fileno()).st_ino
    try:
        inodes, complete = socket_inodes([os.getpid()])
        assert inode in inodes and complete
        assert owned([inode], (os.getpid(),))
        assert owned([inode], ())                    # no pids: any listener counts
        assert not owned([], (os.getpid(),))
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                                 start_new_session=True)
        try:
            assert not owned([inode], (child.pid,))  # someone else's socket
        finally:
            child.kill()
            child.wait()
    finally:
        s.close()


def test_ownership_follows_descendants():
    port = free_port()
    code = ("import socket,time; s=socket.socket(); s.bind(('127.0.0.1',%d)); s.listen();"
            " print('up', flush=True); time.sleep(30)" % port)
    parent = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "{code}"; :'],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout.readline().strip() == "up"
        probe = DiagProbe()
        found = probe.listeners(parse_socket(("PROTO=inet", "PORT=%d" % port)))
        probe.close()
        assert found and owned(found, (parent.pid,))
    finally:
        os.killpg(parent.pid, 9)
        parent.wait()


class FakeProbe:
    def __init__(self):
        self.listening: list[int] = []
        self.calls = 0
        self.closed = 0

    def listeners(self, spec):
        self.calls += 1
        return list(self.listening)

    def close(self):
        self.closed += 1


def test_watcher_rechecks_on_backoff_and_fires_once(loop):
    probe = FakeProbe()
    w = SocketWatcher(loop, lambda p, m: None, probe=probe, owner_check=lambda c, p: bool(c),
                      listen_events=False)
    fired = []
    w.add("k", parse_socket(("PROTO=inet", "PORT=80")), (), lambda: fired.append(1))
    loop.run_until_complete(sleep(loop, 0.1))
    assert not fired and probe.calls >= 4           # 5, 7.5, 11, 17, 25 ms ...
    probe.listening = [7]
    t0 = time.monotonic()
    while not fired and time.monotonic() - t0 < 1:
        loop.run_until_complete(sleep(loop, 0.005))
    assert fired == [1] and w.keys() == [] and probe.closed
    calls = probe.calls
    loop.run_until_complete(sleep(loop, 0.1))
    assert probe.calls == calls                       # no checks after firing


def test_watcher_remove_stops_checking(loop):
    probe = FakeProbe()
    w = SocketWatcher(loop, lambda p, m: None, probe=probe, owner_check=lambda c, p: bool(c),
                      listen_events=False)
    w.add("k", parse_socket(("PROTO=inet", "PORT=80")), (), lambda: None)
    w.remove("k")
    calls = probe.calls
    loop.run_until_complete(sleep(loop, 0.05))
    assert probe.calls == calls == 1


def test_unix_path_bind_resets_backoff_through_the_file_watch(loop, tmp_path):
    from upstart.readiness.filesrc import FileWatcher
    files = FileWatcher(loop, lambda p, m: None)
    probe = FakeProbe()
    w = SocketWatcher(loop, lambda p, m: None, files=files, probe=probe,
                      owner_check=lambda c, p: bool(c),
                      listen_events=False)
    path = tmp_path / "app.sock"
    fired = []
    w.add("k", parse_socket(("PROTO=unix", "PATH=" + str(path))), (), lambda: fired.append(1))
    loop.run_until_complete(sleep(loop, 1.0))     # back-off now at its cap
    assert w._watches["k"].delay == socketsrc.MAX_DELAY
    probe.listening = [3]
    path.write_text("")                               # what bind(2) does to the directory
    loop.run_until_complete(sleep(loop, 0.03))
    assert fired == [1]
    assert files.keys() == []


def test_probe_failure_is_logged_not_raised(loop):
    class Broken(FakeProbe):
        def listeners(self, spec):
            raise OSError("no netlink here")
    logs = []
    w = SocketWatcher(loop, lambda p, m: logs.append(m), probe=Broken(), listen_events=False)
    w.add("k", parse_socket(("PROTO=inet", "PORT=80")), (), lambda: None)
    loop.run_until_complete(sleep(loop, 0.05))
    assert len(logs) == 1 and "no netlink here" in logs[0]     # once, not per re-check
    assert w._watches["k"].handle is not None                  # still re-checking
    w.close()


# ---------------------------------------------------------------- listen events

class FakeEvents:
    def __init__(self, loop, callback, fail=False):
        self.callback = callback
        self.fail = fail
        self.closed = False

    def open(self):
        if self.fail:
            raise OSError(1, "Operation not permitted")

    def close(self):
        self.closed = True


def test_listen_event_triggers_a_prompt_check_of_tcp_watches_only(loop):
    made = []
    probe = FakeProbe()
    w = SocketWatcher(loop, lambda p, m: None, probe=probe, owner_check=lambda c, p: bool(c),
                      listen_events=lambda lp, cb: made.append(FakeEvents(lp, cb)) or made[-1])
    fired = []
    w.add("tcp", parse_socket(("PROTO=inet", "PORT=80")), (), lambda: fired.append("tcp"))
    w.add("unix", parse_socket(("PROTO=unix", "PATH=@x")), (), lambda: fired.append("unix"))
    assert len(made) == 1 and w.events is made[0]
    w._watches["tcp"].delay = w._watches["unix"].delay = 10.0   # far away
    for watch in w._watches.values():
        watch.handle.cancel()
        watch.handle = loop.call_later(10.0, lambda: None)
    probe.listening = [5]
    made[0].callback()                                        # "something listened"
    loop.run_until_complete(sleep(loop, 0.02))
    assert fired == ["tcp"]                                   # unix waits for its own turn
    assert socketsrc.next_delay(1.0, w._cap(parse_socket(("PROTO=inet", "PORT=1")))) == \
        socketsrc.MAX_DELAY_WITH_EVENTS
    assert w._cap(parse_socket(("PROTO=unix", "PATH=@y"))) == socketsrc.MAX_DELAY
    w.close()
    assert made[0].closed


def test_no_listen_events_falls_back_to_the_short_backoff(loop):
    logs = []
    w = SocketWatcher(loop, lambda p, m: logs.append((p, m)), probe=FakeProbe(),
                      listen_events=lambda lp, cb: FakeEvents(lp, cb, fail=True))
    w.add("k", parse_socket(("PROTO=inet", "PORT=80")), (), lambda: None)
    assert w.events is None
    assert logs == [("debug", "readiness: no listen(2) events ([Errno 1] Operation not "
                              "permitted); socket checks back off up to 50 ms")]
    assert w._cap(parse_socket(("PROTO=inet", "PORT=80"))) == socketsrc.MAX_DELAY
    w.close()


def test_bpf_program_shape():
    from upstart.readiness.listenbpf import program
    code = program(7)
    assert len(code) == 12 * 8
    assert code[3 * 8] == 0x18 and code[3 * 8 + 1] == (1 | (1 << 4))  # ld_imm64 map fd
    assert int.from_bytes(code[3 * 8 + 4:4 * 8], "little") == 7
    assert code[-8] == 0x95                                            # exit
    assert int.from_bytes(code[12:16], "little") == 10                 # TCP_LISTEN


def test_real_listen_events_wake_the_watcher(loop):
    from upstart.readiness.listenbpf import ListenEvents
    probe_events = ListenEvents(loop, lambda: None)
    try:
        probe_events.open()
    except OSError as exc:
        pytest.skip(f"no BPF here: {exc}")
    probe_events.close()
    port = free_port()
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    w = SocketWatcher(loop, lambda p, m: None)
    fired = []
    try:
        w.add("k", parse_socket(("PROTO=inet", "PORT=%d" % port)), (os.getpid(),),
              lambda: fired.append(time.monotonic()))
        assert w.events is not None
        watch = w._watches["k"]
        watch.handle.cancel()
        watch.handle = loop.call_later(5.0, lambda: None)        # no back-off to help
        loop.run_until_complete(sleep(loop, 0.01))
        t0 = time.monotonic()
        s.listen()
        deadline = t0 + 1.0
        while not fired and time.monotonic() < deadline:
            loop.run_until_complete(sleep(loop, 0.001))
        assert fired and fired[0] - t0 < 0.5
        print(f"\nlisten -> fired {(fired[0] - t0) * 1000:.2f} ms")
    finally:
        s.close()
        w.close()
