"""The socket bridge's I/O shell with real sockets and a real control
server: listening, emitting with the listening fd, sharing, closing, and
not spinning when nobody accepts."""

import asyncio
import socket

from bridge_peer import until
from upstart.bridges import socket as sockbridge
from upstart.bridges.common import Log
from upstart.bridges.link import Link


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
        await asyncio.sleep(0.3)
        assert len(sockets(backend)) == 1        # at most one emit per MIN_INTERVAL
        await until(lambda: len(sockets(backend)) == 2, timeout=3)
        bridge.on_job_change("/j/a", "a", [])
        assert len(bridge.listeners) == 1        # b still wants it
        bridge.on_job_change("/j/b", "b", [])
        assert bridge.listeners == {} and not path.exists()
        client.close()
        link.close()

    asyncio.run(scenario())
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
        asyncio.run(scenario())
    finally:
        taken.close()
    assert "t: Failed to bind socket in a: Address already in use\n" in capsys.readouterr().err
