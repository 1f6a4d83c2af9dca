"""upstart-dbus-bridge: bus signals → `dbus` events, and D-Bus activation.

Listens to every signal on the system bus (default, `--system`), the
session bus (`--session`) or `--address=ADDR`, and emits `dbus` (env from
`dbus_env`) with wait=false when some job mentions `dbus` (or `--always`);
`--bus-name=NAME` adds `BUS=NAME`. With `--user` it emits into the Session
Init.

With `--activation` it also owns `org.freedesktop.systemd1` on that bus, so
a dbus-daemon started with `--systemd-activation` sends it the
`ActivationRequest(unit)` of every service file carrying `SystemdService=`;
the bridge emits `dbus-activation NAME=<bus name> UNIT=<unit>` with
wait=true and, if no job waits for that name or the event fails, answers
with the `ActivationFailure` signal so the caller gets an error at once.
Exits when init or the bus goes away.
"""

from __future__ import annotations

import os

from upstart.bridges import common, dbus_env
from upstart.bridges.jobs import JobWatcher
from upstart.bridges.link import DBUS_NAME, DBUS_PATH, Link
from upstart.control.client import CallError, ConnectError
from upstart.reactor.futures import first_done

PROG = "upstart-dbus-bridge"


def bus_address(opts, env) -> str:
    if opts.address:
        return opts.address
    if opts.session:
        address = env.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            raise common.BridgeError("DBUS_SESSION_BUS_ADDRESS isn't set in environment")
        return address
    return env.get("DBUS_SYSTEM_BUS_ADDRESS") or "unix:path=/var/run/dbus/system_bus_socket"


class DBusBridge:
    def __init__(self, init: Link, bus: Link, log, *, always: bool, bus_name: str | None,
                 activation: bool):
        self.init = init
        self.bus = bus
        self.log = log
        self.always = always
        self.bus_name = bus_name
        self.activation = activation
        self.interest = JobWatcher(init, dbus_env.EVENT, lambda *a: None, log)
        self.activatable = self.interest.also(dbus_env.ACTIVATION_EVENT, lambda *a: None)
        bus.on_signal(self.on_signal)

    async def start(self) -> None:
        await self.interest.start()
        if self.activation:
            await self.activatable.start()

    def on_signal(self, msg) -> None:
        if self.activation and dbus_env.is_activation_request(msg.fields):
            if msg.body:
                self.activate(str(msg.body[0]))
            return
        if dbus_env.guarded(msg.fields):
            return
        if not self.always and not self.interest.any():
            return
        self.init.emit(dbus_env.EVENT, dbus_env.signal_env(msg.fields, msg.body,
                                                           self.bus_name))

    def activate(self, unit: str) -> None:
        env = dbus_env.activation_env(unit)
        wanted = any(dbus_env.leaf_accepts(args, env)
                     for _, leaves in self.activatable.jobs.values() for args in leaves)
        if not wanted:
            self.fail(unit, "org.freedesktop.DBus.Error.ServiceUnknown",
                      "No job waits for %s %s" % (dbus_env.ACTIVATION_EVENT, env[0]))
            return
        self.log.info("Activating %s" % env[0])
        fut = self.init.emit(dbus_env.ACTIVATION_EVENT, env, wait=True)

        def done(f) -> None:
            exc = f.exception()
            if exc is not None:
                self.fail(unit, "org.freedesktop.DBus.Error.Spawn.Failed",
                          getattr(exc, "message", str(exc)))
        fut.add_done_callback(done)

    def fail(self, unit: str, name: str, text: str) -> None:
        self.log.warn("Activation of %s failed: %s" % (unit, text))
        self.bus.send_signal(DBUS_PATH, dbus_env.ACTIVATOR_IFACE, "ActivationFailure", "sss",
                             (unit, name, text), destination=DBUS_NAME)


async def serve(opts, log) -> int:
    init = common.connect_init(PROG, opts.user, log)
    try:
        bus = Link.open(bus_address(opts, os.environ), log, bus=True, label="bus")
    except ConnectError as exc:
        raise common.BridgeError("Could not connect to D-Bus: %s" % exc) from None
    bridge = DBusBridge(init, bus, log, always=opts.always, bus_name=opts.bus_name,
                        activation=opts.activation)
    await bridge.start()
    await bus.add_match("type='signal'")
    if opts.activation:
        try:
            code = (await bus.request_name(dbus_env.SYSTEMD_NAME))[0]
        except CallError as exc:
            raise common.BridgeError("Could not own %s: %s"
                                     % (dbus_env.SYSTEMD_NAME, exc.message)) from None
        if code not in (1, 4):
            raise common.BridgeError("%s is already owned" % dbus_env.SYSTEMD_NAME)
    if opts.daemon:
        common.daemonise()
    await first_done(init.loop, init.closed, bus.closed)
    log.warn("Disconnected from %s" % ("Upstart" if init.closed.done() else "D-Bus"))
    return 1


def _options(p) -> None:
    p.add_argument("--always", action="store_true",
                   help="Always emit an event on a D-Bus signal")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--system", action="store_true", help="Use D-Bus system bus")
    which.add_argument("--session", action="store_true", help="Use D-Bus session bus")
    which.add_argument("--address", metavar="ADDR", help="Use the bus at ADDR")
    p.add_argument("--bus-name", metavar="NAME", help="Bus name specified in emitted events")
    p.add_argument("--activation", action="store_true",
                   help="Serve dbus-daemon's systemd-style activation requests")


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Bridge D-Bus signals into upstart", serve, argv, _options)


if __name__ == "__main__":
    raise SystemExit(main())
