"""A live control endpoint without a daemon: ControlServer in a thread.

`ServerThread(backend, address)` runs a `ControlServer` for `backend` on a
private asyncio loop in a background thread, wires `backend.on_effect` (if
the backend has it) to `server.broadcast`, and stops cleanly. It is for
tests, benchmarks and tools that need a real socket to talk to (initctl,
dbus-send); the daemon runs its server on its own loop and never uses this.
`call(fn)` runs a function on the server's loop and returns its result, so
a test can change the backend without racing the server.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading

from upstart.control import address as addr
from upstart.control.server import ControlServer


def unique_address(tag: str = "test") -> str:
    """A fresh abstract address for this process."""
    unique_address.counter += 1
    return "unix:abstract=/upstart-py/%s/%d/%d" % (tag, os.getpid(), unique_address.counter)


unique_address.counter = 0


class ServerThread:
    def __init__(self, backend, address: str | None = None, *, handover: dict | None = None,
                 **server_kwargs):
        self.backend = backend
        self.handover = handover      # re-exec: what an old server's export_for_exec gave
        self.address = address or unique_address()
        self.server_kwargs = server_kwargs
        self.loop = asyncio.new_event_loop()
        self.server: ControlServer | None = None
        self._thread = threading.Thread(target=self._run, name="control-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.server = ControlServer(self.backend, self.address, loop=self.loop,
                                        **self.server_kwargs)
            if hasattr(self.backend, "on_effect"):
                self.backend.on_effect = self.server.broadcast
            self.loop.run_until_complete(self.server.start(
                fd=self.handover["listen"] if self.handover else None))
            if self.handover:
                self.server.adopt(self.handover)
        except BaseException as exc:  # report to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn, *args):
        """Run `fn(*args)` on the server loop; return its result."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def raw_connect(address: str, auth: bool = True, timeout: float = 10) -> socket.socket:
    """A bare socket to a control address, SASL EXTERNAL done when `auth`:
    for tests that write raw (or broken) D-Bus bytes themselves."""
    sockaddr, _ = addr.parse(address)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sockaddr)
    if auth:
        s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        assert s.recv(100).startswith(b"OK")
        s.sendall(b"BEGIN\r\n")
    return s
