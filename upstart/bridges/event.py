"""upstart-event-bridge: system init events → the Session Init (spec 06 §5).

Subscribes to the system init's `EventEmitted` and `Restarted` signals and
re-emits them into the Session Init (`$UPSTART_SESSION`) as `:sys:<name>`
and `:sys:restarted` (mapping in `sysevents`), with wait=false: the system
event's blocking is not carried over. The source is the system bus with a
match on `com.ubuntu.Upstart` (upstream), or with `--system-address=ADDR`
a peer connection to a system init's private socket (our addition; used
when there is no system bus, and by the tests). A re-executing init hands
its connections to the new process, which sends `Restarted` on them; when
a peer connection is lost instead (an init that cannot hand it over, such
as C Upstart), getting the socket back within ten seconds is what emits
`:sys:restarted`. Exits when either side goes away for good.
"""

from __future__ import annotations

import os

from upstart.bridges import common, sysevents
from upstart.bridges.link import Link
from upstart.control import client
from upstart.reactor.futures import first_done, sleep
from upstart.reactor.loop import get_running_loop

PROG = "upstart-event-bridge"
MATCH = "type='signal',sender='%s',interface='%s'" % (client.BUS_NAME, client.MANAGER_IFACE)


RECONNECT_FOR = 10.0       # seconds a re-executing system init may take
RECONNECT_EVERY = 0.1


async def reconnect(address: str, log) -> Link | None:
    """Peer mode: the system init's socket went away; if it comes back
    within RECONNECT_FOR seconds (a re-exec), return the new Link."""
    loop = get_running_loop()
    deadline = loop.time() + RECONNECT_FOR
    while loop.time() < deadline:
        await sleep(loop, RECONNECT_EVERY)
        try:
            return Link.open(address, log, label="system")
        except client.ConnectError:
            continue
    return None


async def serve(opts, log) -> int:
    init = common.connect_init(PROG, True, log)
    try:
        if opts.system_address:
            source = Link.open(opts.system_address, log, label="system")
        else:
            address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or \
                "unix:path=/var/run/dbus/system_bus_socket"
            source = Link.open(address, log, bus=True, label="system")
    except client.ConnectError as exc:
        raise common.BridgeError("Could not connect to system init: %s" % exc) from None

    def forward(msg) -> None:
        mapped = sysevents.session_event(msg.fields, msg.body)
        if mapped is not None:
            init.emit(*mapped)

    source.on_signal(forward)
    if not opts.system_address:
        await source.add_match(MATCH)
    if opts.daemon:
        common.daemonise()
    while True:
        await first_done(init.loop, init.closed, source.closed)
        if init.closed.done():
            log.warn("Disconnected from Upstart")
            return 1
        if opts.system_address:
            source = await reconnect(opts.system_address, log)
            if source is not None:
                source.on_signal(forward)
                init.emit(sysevents.RESTARTED, [])
                continue
        log.warn("Disconnected from system init")
        return 1


def _options(p) -> None:
    p.add_argument("--system-address", metavar="ADDR",
                   help="Listen to the system init at this private address, not the bus")


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Bridge system upstart events into session upstart", serve, argv, _options)


if __name__ == "__main__":
    raise SystemExit(main())
