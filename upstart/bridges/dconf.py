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
events keep the order of the changes. `annotations_stripped` turns its
annotated output into 1.13's form. Exits when init or the bus goes away.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil

from upstart.bridges import common
from upstart.bridges.jobs import JobWatcher
from upstart.bridges.link import Link
from upstart.control import wire
from upstart.control.client import ConnectError

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
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.interest = JobWatcher(init, EVENT, lambda *a: None, log)
        bus.on_signal(self.on_signal)

    def on_signal(self, msg) -> None:
        if (msg.fields.get(wire.F_INTERFACE) != WRITER_IFACE
                or msg.fields.get(wire.F_MEMBER) != "Notify"):
            return
        for key in changed_keys(msg.body):
            self.queue.put_nowait(key)

    async def run(self) -> None:
        """Read and emit each changed key in turn (forever)."""
        while True:
            key = await self.queue.get()
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
            proc = await asyncio.create_subprocess_exec(
                self.dconf, "read", key, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
        except OSError as exc:
            self.log.warn("Cannot run %s: %s" % (self.dconf, exc.strerror or exc))
            return None
        if proc.returncode != 0:
            self.log.warn("dconf read %s failed: %s"
                          % (key, err.decode(errors="replace").strip()))
            return None
        return annotations_stripped(out.decode(errors="replace").rstrip("\n"))


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
    worker = asyncio.ensure_future(bridge.run())
    try:
        await asyncio.wait([init.closed, bus.closed], return_when=asyncio.FIRST_COMPLETED)
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
