"""What every bridge shares: options, finding init, logging, the run loop.

Owns the common command line (`--daemon`, `--debug`, `--verbose`, `--user`,
spec 06 intro), the choice of init's address (the same rule as initctl:
`$UPSTART_SESSION` when set, fatal `UPSTART_SESSION isn't set in
environment` for `--user` without it, otherwise PID 1's private socket),
stderr logging as `prog: message`, detaching for `--daemon`, and running a
bridge coroutine on the project's reactor (`upstart.reactor`, not asyncio:
docs/design/reactor.md) until it finishes, init goes away, or SIGTERM/SIGINT
arrives. Never decides what a bridge watches or emits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping

SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"


class BridgeError(Exception):
    """A fatal start-up problem; its text is printed as `prog: text`."""


def init_address(user: bool, env: Mapping[str, str]) -> str:
    """Where init listens, by spec 06 / 04 §1 (pure)."""
    session = env.get("UPSTART_SESSION")
    if session:
        return session
    if user:
        raise BridgeError("UPSTART_SESSION isn't set in environment")
    return SYSTEM_ADDRESS


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options all bridges accept."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--daemon", action="store_true", help="Detach and run in the background")
    p.add_argument("--debug", action="store_true", help="enable debugging messages")
    p.add_argument("-v", "--verbose", action="store_true", help="increase output")
    p.add_argument("--user", action="store_true",
                   help="Connect to the Session Init ($UPSTART_SESSION)")
    from upstart.version import add_version_option
    add_version_option(p, prog)
    return p


def main(prog: str, description: str, serve, argv: list[str] | None,
         add_options: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """A bridge's whole `main`: parse the common options (and the bridge's
    own, from `add_options`), make the log, and `run(serve(opts, log))`."""
    p = parser(prog, description)
    if add_options is not None:
        add_options(p)
    opts = p.parse_args(argv)
    log = Log(prog, opts.verbose or opts.debug)
    return run(prog, lambda: serve(opts, log))


class Log:
    """`prog: message` lines on stderr; `debug` only with --debug/--verbose."""

    def __init__(self, prog: str, verbose: bool = False, stream=None):
        self.prog = prog
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stderr

    def _write(self, text: str) -> None:
        try:
            self.stream.write("%s: %s\n" % (self.prog, text))
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def warn(self, text: str) -> None:
        self._write(text)

    def info(self, text: str) -> None:
        if self.verbose:
            self._write(text)

    debug = info


def notify_ready(environ=os.environ) -> bool:
    """Tell init the bridge is listening: `READY=1` on `$NOTIFY_SOCKET` (the
    job's `ready on notify`; systemd's protocol, an abstract name starting
    with `@`). Without the variable (no `ready on notify`, another init) it
    does nothing. True when the datagram went out. Never raises: a bridge
    that cannot say so still works, and init's job stays `waiting for ready`."""
    import socket
    path = environ.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(b"READY=1\n", path)
    except OSError:
        return False
    return True


def daemonise(pidfile: str | None = None) -> None:
    """Detach from the terminal and the parent (double fork), as `--daemon`."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    if pidfile:
        try:
            with open(pidfile, "w") as f:
                f.write("%d\n" % os.getpid())
        except OSError:
            pass


def run(prog: str, body: Callable[[], Awaitable[int | None]]) -> int:
    """Run `body()` on a fresh loop; SIGTERM/SIGINT end it with status 0.

    `body` returns when its source or init goes away; its value (default 1:
    the supervising job's `respawn` restarts us) becomes the exit status.
    A BridgeError, or a failed call to init during start-up, is printed as
    `prog: text` and exits 1.
    """
    from upstart.reactor.futures import CancelledError
    from upstart.reactor.loop import get_running_loop
    from upstart.reactor.loop import run as run_loop

    async def main() -> int:
        loop = get_running_loop()
        task = loop.create_task(body())
        stop = {"by_signal": False}

        def on_signal() -> None:
            stop["by_signal"] = True
            task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            result = await task
        except CancelledError:
            if stop["by_signal"]:
                return 0
            raise
        return 1 if result is None else int(result)

    from upstart.control.client import CallError

    try:
        return run_loop(main())
    except BridgeError as exc:
        sys.stderr.write("%s: %s\n" % (prog, exc))
        return 1
    except CallError as exc:          # init refused or vanished during start-up
        sys.stderr.write("%s: %s\n" % (prog, exc.message))
        return 1


def connect_init(prog: str, user: bool, log, *, unix_fd: bool = False):
    """The Link to init chosen by `init_address`; BridgeError when it fails."""
    from upstart.bridges.link import Link
    from upstart.control.client import ConnectError

    address = init_address(user, os.environ)
    try:
        return Link.open(address, log, unix_fd=unix_fd, label="init")
    except ConnectError as exc:
        raise BridgeError("Could not connect to Upstart: %s" % exc) from None


def session_pidfile(prog: str, env: Mapping[str, str]) -> str | None:
    """`$XDG_RUNTIME_DIR/<prog>.<init-pid>.pid` for `--daemon --user`."""
    runtime = env.get("XDG_RUNTIME_DIR")
    session = env.get("UPSTART_SESSION", "")
    pid = session.rsplit("/", 1)[-1]
    if not runtime or not pid.isdigit():
        return None
    return os.path.join(runtime, "%s.%s.pid" % (prog, pid))
