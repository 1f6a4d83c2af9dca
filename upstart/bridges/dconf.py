"""upstart-dconf-bridge: dconf changes → `dconf` events (spec 06 §7).

For a Session Init only: connects to it through `UPSTART_SESSION` and to
the session bus (`DBUS_SESSION_BUS_ADDRESS`), where dconf's writer
(`dconf-service`) announces every change with the `ca.desrt.dconf.Writer`
`Notify(prefix, changes, tag)` signal. Each changed key (`prefix` joined
with each entry of `changes`) becomes

    dconf TYPE=changed KEY=<key> VALUE=<new value>

emitted with wait=false when some job mentions `dconf` (or `--always`).
VALUE is the value in GVariant text form without type annotations, as
1.13's `g_variant_print(value, FALSE)`: a string keeps its single quotes.
A reset key (no value any more) gives `VALUE=` empty, and so does a
reset directory (`dconf reset -f /a/`: KEY is the directory, ending in `/`).

The signal does not carry the value, and dconf's database is a GVDB file
read through libdconf in 1.13; here the bridge asks `dconf read KEY`
(Debian's `dconf-cli`), one key at a time in the order of the signals, so
events keep the order of the changes (`dconf read` runs as a child whose
pipes and exit, through a pidfd, the bridge's reactor watches).
`annotations_stripped` turns its annotated output into 1.13's form. Exits
when init or the bus goes away.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import deque

from upstart.bridges import common
from upstart.bridges.jobs import JobWatcher
from upstart.bridges.link import Link
from upstart.control import wire
from upstart.control.client import ConnectError
from upstart.reactor.futures import first_done

PROG = "upstart-dconf-bridge"
EVENT = "dconf"
WRITER_IFACE = "ca.desrt.dconf.Writer"
MATCH = "type='signal',interface='%s',member='Notify'" % WRITER_IFACE

# what g_variant_print(v, TRUE) puts before a value whose type the text
# would not show; `@TYPE ` before empty containers and nothings
_ANNOTATION = re.compile(r"(?:byte|int16|uint16|uint32|int64|uint64|handle|objectpath|"
                         r"signature) |@[^ ]+ ")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def changed_keys(body) -> list[str]:
    """The keys a Notify(prefix, changes, tag) body names (pure)."""
    if len(body) < 2 or not isinstance(body[0], str):
        return []
    prefix, changes = body[0], body[1]
    return [prefix + change for change in changes if isinstance(change, str)]


def annotations_stripped(text: str) -> str:
    """GVariant text without type annotations, strings left untouched (pure)."""
    out, pos = [], 0
    for m in _STRING.finditer(text):
        out.append(_ANNOTATION.sub("", text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_ANNOTATION.sub("", text[pos:]))
    return "".join(out)


def event_env(key: str, value: str) -> list[str]:
    return ["TYPE=changed", "KEY=%s" % key, "VALUE=%s" % value]


class DconfBridge:
    def __init__(self, init: Link, bus: Link, log, *, always: bool, dconf: str):
        self.init = init
        self.log = log
        self.always = always
        self.dconf = dconf
        self.queue: deque[str] = deque()    # bounded by what the bus sends us
        self.waiter = None                   # the future `run` sleeps on
        self.interest = JobWatcher(init, EVENT, lambda *a: None, log)
        bus.on_signal(self.on_signal)

    def on_signal(self, msg) -> None:
        if (msg.fields.get(wire.F_INTERFACE) != WRITER_IFACE
                or msg.fields.get(wire.F_MEMBER) != "Notify"):
            return
        self.queue.extend(changed_keys(msg.body))
        if self.queue and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def run(self) -> None:
        """Read and emit each changed key in turn (forever)."""
        while True:
            while not self.queue:
                self.waiter = self.init.loop.create_future()
                await self.waiter
            key = self.queue.popleft()
            if not self.always and not self.interest.any():
                self.log.debug("%s changed; no job waits for %s" % (key, EVENT))
                continue
            # a reset directory names no single key: nothing to read
            value = "" if key.endswith("/") else await self.read(key)
            if value is not None:
                self.log.debug("%s changed to %s" % (key, value))
                self.init.emit(EVENT, event_env(key, value), coalesce=False)

    async def read(self, key: str) -> str | None:
        """The key's value in 1.13's text form; '' when reset; None on error."""
        try:
            code, out, err = await output(self.init.loop, [self.dconf, "read", key])
        except OSError as exc:
            self.log.warn("Cannot run %s: %s" % (self.dconf, exc.strerror or exc))
            return None
        if code != 0:
            self.log.warn("dconf read %s failed: %s"
                          % (key, err.decode(errors="replace").strip()))
            return None
        return annotations_stripped(out.decode(errors="replace").rstrip("\n"))


async def output(loop, argv: list[str]) -> tuple[int, bytes, bytes]:
    """Run `argv` (stdin /dev/null) without blocking `loop`: its exit status,
    stdout and stderr. Its pipes are read as they fill; its exit is awaited
    on a pidfd. Cancelled, it kills the child. OSError when it cannot run."""
    import subprocess
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    data: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    done = loop.create_future()

    def readable(fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            data[fd].append(chunk)
            return
        loop.remove_reader(fd)
        open_fds.discard(fd)
        if not open_fds and not done.done():
            done.set_result(None)
    open_fds = set(data)
    pidfd = -1
    try:
        for fd in data:
            os.set_blocking(fd, False)
            loop.add_reader(fd, readable, fd)
        await done
        pidfd = os.pidfd_open(proc.pid)
        exited = loop.create_future()
        loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
        return proc.wait(), b"".join(data[proc.stdout.fileno()]), \
            b"".join(data[proc.stderr.fileno()])
    finally:
        for fd in open_fds:
            loop.remove_reader(fd)
        if pidfd >= 0:
            os.close(pidfd)
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


async def serve(opts, log) -> int:
    dconf = shutil.which("dconf")
    if dconf is None:
        raise common.BridgeError("dconf is not installed (the dconf-cli package)")
    init = common.connect_init(PROG, True, log)      # a Session Init's bridge
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        raise common.BridgeError("DBUS_SESSION_BUS_ADDRESS isn't set in environment")
    try:
        bus = Link.open(address, log, bus=True, label="bus")
    except ConnectError as exc:
        raise common.BridgeError("Could not connect to D-Bus: %s" % exc) from None
    bridge = DconfBridge(init, bus, log, always=opts.always, dconf=dconf)
    await bridge.interest.start()
    await bus.add_match(MATCH)
    if opts.daemon:
        common.daemonise(common.session_pidfile(PROG, os.environ))
    worker = init.loop.create_task(bridge.run())
    try:
        await first_done(init.loop, init.closed, bus.closed)
    finally:
        worker.cancel()
    log.warn("Disconnected from %s" % ("Upstart" if init.closed.done() else "D-Bus"))
    return 1


def _options(p) -> None:
    p.add_argument("--always", action="store_true",
                   help="Always emit an event on a dconf change, even if no job waits")


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Bridge dconf events into upstart", serve, argv, _options)


if __name__ == "__main__":
    raise SystemExit(main())
