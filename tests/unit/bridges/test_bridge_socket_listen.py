"""The socket bridge's I/O shell with real sockets and a real control
server: listening, emitting with the listening fd, sharing, closing, and
not spinning when nobody accepts."""

import os
import socket

from waiting import pause, until
from upstart.bridges import socket as sockbridge
from upstart.bridges.common import Log
from upstart.bridges.link import Link
from upstart.reactor.loop import run


def at_eof(c: socket.socket) -> bool:
    """The other end has closed `c` (read without blocking)."""
    try:
        return c.recv(10, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False


def sockets(backend):
    return [(env, fd) for name, env, fd in backend.emitted if name == "socket"]


def test_connection_emits_socket_event_with_fd_and_is_paced(server, backend, tmp_path):
    path = tmp_path / "s.sock"

    async def scenario():
        link = Link.open(server.address, Log("t"), unix_fd=True)
        bridge = sockbridge.SocketBridge(link, Log("t"))
        bridge.on_job_change("/j/a", "a", [("PROTO=unix", "SOCKET_PATH=%s" % path)])
        bridge.on_job_change("/j/b", "b", [("PROTO=unix", "PATH=%s" % path)])
        assert len(bridge.listeners) == 1 and path.exists()
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(path))                # never accepted: stays readable
        await until(lambda: sockets(backend))
        await pause(0.3)
        assert len(sockets(backend)) == 1        # at most one emit per MIN_INTERVAL
        await until(lambda: len(sockets(backend)) == 2, timeout=3)
        bridge.on_job_change("/j/a", "a", [])
        assert len(bridge.listeners) == 1        # b still wants it
        bridge.on_job_change("/j/b", "b", [])
        assert bridge.listeners == {} and not path.exists()
        client.close()
        link.close()

    run(scenario())
    env, fd = sockets(backend)[0]
    assert env == ["PROTO=unix", "SOCKET_PATH=%s" % path]
    assert fd is not None


def test_bind_failure_is_reported_with_upstreams_text(server, backend, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]

    async def scenario():
        link = Link.open(server.address, Log("t"), unix_fd=True)
        bridge = sockbridge.SocketBridge(link, Log("t"))
        bridge.on_job_change("/j/a", "a", [("PROTO=inet", "PORT=%d" % port,
                                            "ADDR=127.0.0.1")])
        assert bridge.listeners == {}
        link.close()

    try:
        run(scenario())
    finally:
        taken.close()
    assert "t: Failed to bind socket in a: Address already in use\n" in capsys.readouterr().err


def test_accept_mode_emits_one_event_per_connection_and_closes_its_copy(server, backend,
                                                                        tmp_path):
    path = tmp_path / "inetd.sock"

    async def scenario():
        link = Link.open(server.address, Log("t"), unix_fd=True)
        bridge = sockbridge.SocketBridge(link, Log("t"))
        bridge.on_job_change("/j/a", "a", [("PROTO=unix", "SOCKET_PATH=%s" % path,
                                            "ACCEPT=y", "MODE=0600")])
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        clients = []
        for _ in range(3):
            c = socket.socket(socket.AF_UNIX)
            c.connect(str(path))
            clients.append(c)
        await until(lambda: len(sockets(backend)) == 3, timeout=3)   # no pacing
        for _env, fd in sockets(backend):
            os.close(fd)                 # init's copy: the real engine closes it later
        for c in clients:                # EOF: the bridge closed its copy too
            await until(lambda c=c: at_eof(c), timeout=3)
            c.close()
        bridge.close()
        link.close()

    run(scenario())
    envs = [env for env, _fd in sockets(backend)]
    me = os.getpid()
    for n, env in enumerate(envs, 1):
        assert env[:4] == ["PROTO=unix", "SOCKET_PATH=%s" % path, "ACCEPT=y", "MODE=0600"]
        assert "REMOTE_PID=%d" % me in env and "REMOTE_UID=%d" % os.getuid() in env
        assert env[-1] == "CONNECTION=%d" % n
    assert all(fd is not None for _env, fd in sockets(backend))


def test_datagram_socket_is_bound_and_passed_when_a_datagram_waits(server, backend):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def scenario():
        link = Link.open(server.address, Log("t"), unix_fd=True)
        bridge = sockbridge.SocketBridge(link, Log("t"))
        bridge.on_job_change("/j/a", "a", [("PROTO=inet", "PORT=%d" % port,
                                            "ADDR=127.0.0.1", "TYPE=dgram")])
        (listener,) = bridge.listeners.values()
        assert listener.sock.type == socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.sendto(b"ping", ("127.0.0.1", port))
            await until(lambda: sockets(backend))
        bridge.close()
        link.close()

    run(scenario())
    env, fd = sockets(backend)[0]
    assert env == ["PROTO=inet", "PORT=%d" % port, "ADDR=127.0.0.1", "TYPE=dgram"]
    assert fd is not None
