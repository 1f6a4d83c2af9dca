"""upstart-udev-bridge: udev device events → `SUBSYSTEM-device-*` events.

Reads the udev netlink monitor through pyudev (events after udevd's
processing, spec 06 §1) and emits every device event, unfiltered, with
wait=false through the bounded emitter (a large backlog: a coldplug
`udevadm trigger` produces thousands at once). Name and env come from
`udev_env`. Exits when init disconnects. Never blocks on udev: the monitor
socket is drained without waiting.
"""

from __future__ import annotations

import asyncio

import pyudev

from upstart.bridges import common, udev_env

PROG = "upstart-udev-bridge"


class UdevBridge:
    def __init__(self, link, log, monitor, *, no_strip: bool = False):
        self.link = link
        self.log = log
        self.monitor = monitor
        self.no_strip = no_strip

    def on_readable(self) -> None:
        while True:
            try:
                device = self.monitor.poll(timeout=0)
            except (OSError, pyudev.DeviceNotFoundError) as exc:
                self.log.warn("Failed to receive device: %s" % exc)
                return
            if device is None:
                return
            self.forward(device)

    def forward(self, device) -> None:
        action = device.action
        subsystem = device.subsystem
        if not action or not subsystem:
            return
        props = [(k, str(device.properties[k])) for k in device.properties]
        env = udev_env.udev_env(device.sys_name or "", device.device_path or "",
                                device.device_node, subsystem, action, props,
                                no_strip=self.no_strip)
        name = udev_env.event_name(subsystem, action)
        if not self.no_strip:
            name = udev_env.strip(name)
        self.link.emit(name, env)


async def serve(opts, log) -> int:
    link = common.connect_init(PROG, opts.user, log)
    link.window, link.backlog_size = 32, 16384
    context = pyudev.Context()
    monitor = pyudev.Monitor.from_netlink(context, source="udev")
    monitor.start()
    bridge = UdevBridge(link, log, monitor, no_strip=opts.no_strip)
    asyncio.get_running_loop().add_reader(monitor.fileno(), bridge.on_readable)
    if opts.daemon:
        common.daemonise()
    await link.closed
    log.warn("Disconnected from Upstart")
    return 1


def main(argv: list[str] | None = None) -> int:
    p = common.parser(PROG, "Bridge udev events into upstart")
    p.add_argument("--no-strip", action="store_true",
                   help="Do not strip non-printable bytes from udev message")
    opts = p.parse_args(argv)
    log = common.Log(PROG, opts.verbose or opts.debug)
    return common.run(PROG, lambda: serve(opts, log))


if __name__ == "__main__":
    raise SystemExit(main())
