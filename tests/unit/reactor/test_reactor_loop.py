"""init's reactor (upstart/reactor/loop.py) on real descriptors, real signals
and the monotonic clock: timers in deadline order and cancellable,
`call_soon` first in first out, readers and writers, signals run from the
loop, a callback that raises reported and the loop going on, the socket
helpers the bus client uses."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from upstart.reactor.futures import sleep
from upstart.reactor.loop import Reactor, get_running_loop, run


def _run_for(loop, seconds: float) -> None:
    loop.run_until_complete(sleep(loop, seconds))


def test_timers_fire_in_deadline_order_and_equal_deadlines_in_call_order(loop):
    seen: list = []
    loop.call_later(0.03, seen.append, "c")
    loop.call_later(0.01, seen.append, "a")
    now = loop.time()
    loop.call_at(now + 0.02, seen.append, "b1")
    loop.call_at(now + 0.02, seen.append, "b2")
    _run_for(loop, 0.05)
    assert seen == ["a", "b1", "b2", "c"]


def test_a_timer_does_not_fire_before_its_deadline(loop):
    fired: list = []
    start = loop.time()
    loop.call_later(0.05, lambda: fired.append(loop.time()))
    _run_for(loop, 0.1)
    assert fired and fired[0] - start >= 0.05


def test_a_cancelled_timer_never_fires_and_the_heap_stays_small(loop):
    seen: list = []
    handle = loop.call_later(0.01, seen.append, "cancelled")
    loop.call_later(0.01, seen.append, "kept")
    handle.cancel()
    handle.cancel()                               # twice: still once
    assert handle.cancelled()
    # many cancelled timers far in the future: the heap is rebuilt without them
    for _ in range(1000):
        loop.call_later(3600, seen.append, "never").cancel()
    assert len(loop._timers) < 300
    _run_for(loop, 0.03)
    assert seen == ["kept"]


def test_call_soon_is_first_in_first_out_and_what_it_schedules_runs_next_turn(loop):
    seen: list = []

    def first():
        seen.append(1)
        loop.call_soon(seen.append, 4)            # the next turn, after 2 and 3
    loop.call_soon(first)
    loop.call_soon(seen.append, 2)
    loop.call_soon(seen.append, 3)
    _run_for(loop, 0)
    assert seen == [1, 2, 3, 4]


def test_a_callback_that_raises_is_reported_and_the_loop_goes_on(loop):
    seen: list = []

    def boom():
        raise ValueError("boom")
    loop.call_soon(boom)
    loop.call_soon(seen.append, "after")
    loop.call_later(0.01, boom)
    loop.call_later(0.02, seen.append, "later")
    _run_for(loop, 0.05)
    assert seen == ["after", "later"]
    assert [type(exc) for _, exc in loop.errors] == [ValueError, ValueError]
    assert "boom" in repr(loop.errors[0][0]) or "boom" in loop.errors[0][0]


def test_a_reader_runs_while_data_waits_and_not_after_removal(loop):
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        got: list = []

        def readable():
            got.append(a.recv(100))
            if got[-1] == b"stop":
                loop.remove_reader(a.fileno())
        loop.add_reader(a.fileno(), readable)
        b.send(b"one")
        _run_for(loop, 0.02)
        b.send(b"stop")
        _run_for(loop, 0.02)
        b.send(b"unread")
        _run_for(loop, 0.02)
        assert got == [b"one", b"stop"]
        assert loop.remove_reader(a.fileno()) is False      # already removed
    finally:
        a.close()
        b.close()


def test_a_reader_added_again_replaces_the_first(loop):
    a, b = socket.socketpair()
    try:
        got: list = []
        loop.add_reader(a, lambda: got.append("first"))         # a file object works too
        loop.add_reader(a.fileno(), lambda: got.append(a.recv(10)))
        b.send(b"x")
        _run_for(loop, 0.02)
        assert got == [b"x"]
    finally:
        loop.remove_reader(a)
        a.close()
        b.close()


def test_a_writer_runs_when_writable_and_reader_and_writer_share_a_descriptor(loop):
    a, b = socket.socketpair()
    try:
        seen: list = []

        def writable():
            seen.append("w")
            loop.remove_writer(a.fileno())
            a.send(b"ping")
        loop.add_writer(a.fileno(), writable)
        loop.add_reader(a.fileno(), lambda: (seen.append(a.recv(10)), loop.remove_reader(a)))
        loop.add_reader(b.fileno(), lambda: (b.send(b.recv(10)), loop.remove_reader(b)))
        _run_for(loop, 0.05)
        assert seen == ["w", b"ping"]
    finally:
        a.close()
        b.close()


def test_a_descriptor_closed_while_registered_can_be_removed_and_its_number_reused(loop):
    a, b = socket.socketpair()
    fd = a.fileno()
    loop.add_reader(fd, lambda: None)
    a.close()
    b.close()
    assert loop.remove_reader(fd) is True        # epoll forgot it: no error
    c, d = socket.socketpair()
    try:
        got: list = []
        loop.add_reader(c.fileno(), lambda: got.append(c.recv(10)))
        d.send(b"new")
        _run_for(loop, 0.02)
        assert got == [b"new"]
    finally:
        loop.remove_reader(c)
        c.close()
        d.close()


def test_a_bad_descriptor_is_refused_and_not_kept(loop):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        loop.add_reader(r, lambda: None)
    assert loop.remove_reader(r) is False


def test_signals_are_handled_from_the_loop_once_per_delivery(loop):
    seen: list = []
    loop.add_signal_handler(signal.SIGUSR1, seen.append, "usr1")
    loop.add_signal_handler(signal.SIGUSR2, seen.append, "usr2")
    loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR2)
    _run_for(loop, 0.05)
    assert seen == ["usr1", "usr2"]
    assert loop.remove_signal_handler(signal.SIGUSR2) is True
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR2) is False


def test_a_signal_wakes_a_loop_waiting_with_no_timer(loop):
    """Nothing else to do: the loop sleeps in epoll until the signal's byte
    arrives on the wake-up socket (a child's exit: SIGCHLD, as init reaps)."""
    done = loop.create_future()
    pids: list = []

    def child():
        if not done.done() and os.waitpid(pids[0], os.WNOHANG)[0] == pids[0]:
            done.set_result(pids[0])
    loop.add_signal_handler(signal.SIGCHLD, child)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    pids.append(pid)
    assert loop.run_until_complete(done) == pid


def test_a_signal_handler_that_raises_is_reported(loop):
    def boom():
        raise RuntimeError("in handler")
    loop.add_signal_handler(signal.SIGUSR1, boom)
    loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    _run_for(loop, 0.02)
    assert [type(e) for _, e in loop.errors] == [RuntimeError]


def test_close_gives_the_signals_back():
    reactor = Reactor()
    reactor.add_signal_handler(signal.SIGUSR1, lambda: None)
    reactor.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1


def test_run_until_complete_returns_the_result_and_raises_the_exception(loop):
    async def value():
        return 42

    async def fails():
        raise KeyError("x")
    assert loop.run_until_complete(value()) == 42
    with pytest.raises(KeyError):
        loop.run_until_complete(fails())
    assert not loop.is_running()


def test_the_socket_helpers_connect_send_and_receive_without_blocking(loop, tmp_path):
    path = str(tmp_path / "sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.setblocking(False)
    big = b"x" * (4 << 20)                        # more than a socket buffer

    async def talk():
        await loop.sock_connect(client, path)
        peer, _ = server.accept()
        peer.setblocking(False)
        got = bytearray()

        def drain():
            try:
                got.extend(peer.recv(1 << 20))
            except BlockingIOError:
                pass
        loop.add_reader(peer.fileno(), drain)
        await loop.sock_sendall(client, big)
        while len(got) < len(big):
            await sleep(loop, 0.001)
        loop.remove_reader(peer.fileno())
        loop.call_later(0.01, peer.send, b"reply")
        answer = await loop.sock_recv(client, 100)
        peer.close()
        return len(got), answer
    try:
        assert loop.run_until_complete(talk()) == (len(big), b"reply")
        assert loop._readers.keys() <= {loop._wake[0].fileno()} if loop._wake else \
            not loop._readers
        assert not loop._writers
    finally:
        client.close()
        server.close()


def test_sock_connect_reports_a_refused_connection(loop, tmp_path):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.setblocking(False)
    try:
        with pytest.raises(OSError):
            loop.run_until_complete(loop.sock_connect(client, str(tmp_path / "none")))
    finally:
        client.close()


def test_get_running_loop_is_the_reactor_running_here_and_run_closes_it():
    with pytest.raises(RuntimeError):
        get_running_loop()
    seen: list = []

    async def main():
        loop = get_running_loop()
        inner = Reactor()                       # one run inside another's callback
        try:
            seen.append(inner.run_until_complete(_current(inner)) is inner)
        finally:
            inner.close()
        seen.append(get_running_loop() is loop)  # the outer one again
        await sleep(loop, 0)
        return loop
    loop = run(main())
    assert seen == [True, True]
    with pytest.raises(RuntimeError):
        get_running_loop()
    with pytest.raises(ValueError):             # closed: its epoll descriptor is gone
        loop._ep.fileno()


async def _current(expected):
    return get_running_loop() is expected and expected

