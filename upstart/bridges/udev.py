"""upstart-udev-bridge: udev device events → `SUBSYSTEM-device-*` events.

Reads the udev netlink monitor through pyudev (events after udevd's
processing, spec 06 §1) and emits every device event, unfiltered, with
wait=false through the bounded emitter (a large backlog: a coldplug
`udevadm trigger` produces thousands at once). Name and env come from
`udev_env`. Exits when init disconnects. Never blocks on udev: the monitor
socket is drained without waiting.

It also emits `net-device-up` / `net-device-down` for network links going
up and down (`linkstate`, from rtnetlink through `netlink`; udev has no
such event), with wait=false, but only while some job's `start on` or
`stop on` mentions the event, and never with `--no-link-events`. The link
watch is opened the first time such a job is seen;
its initial dump announces the links already up at that moment.
"""

from __future__ import annotations

import sys

import pyudev

from upstart.bridges import common, linkstate, netlink, udev_env
from upstart.bridges.jobs import JobWatcher

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

    @staticmethod
    def properties(device) -> list[tuple[str, str]]:
        """(name, value) in libudev's order: one walk of its list (pyudev's
        mapping looks every name up again), decoded as pyudev decodes them."""
        libudev = device._libudev
        name, value, after = (libudev.udev_list_entry_get_name,
                              libudev.udev_list_entry_get_value,
                              libudev.udev_list_entry_get_next)
        enc = sys.getfilesystemencoding()
        out = []
        entry = libudev.udev_device_get_properties_list_entry(device)
        while entry:
            out.append((name(entry).decode(enc), (value(entry) or b"").decode(enc)))
            entry = after(entry)
        return out

    def forward(self, device) -> None:
        action = device.action
        subsystem = device.subsystem
        if not action or not subsystem:
            return
        props = self.properties(device)
        env = udev_env.udev_env(device.sys_name or "", device.device_path or "",
                                device.device_node, subsystem, action, props,
                                no_strip=self.no_strip)
        name = udev_env.event_name(subsystem, action)
        if not self.no_strip:
            name = udev_env.strip(name)
        self.link.emit(name, env)


class LinkEvents:
    """`net-device-up/down`: the link watch, opened once some job waits for them."""

    def __init__(self, link, log, *, no_strip: bool = False):
        self.link = link
        self.log = log
        self.clean = (lambda s: s) if no_strip else udev_env.strip
        first, *others = linkstate.EVENTS
        lead = JobWatcher(link, first, self.on_job_change, log)
        self.interest = {first: lead,
                         **{name: lead.also(name, self.on_job_change) for name in others}}
        self.watch: netlink.LinkWatch | None = None
        self.failed = False
        self.listed = False

    async def start(self) -> None:
        for watcher in self.interest.values():
            await watcher.start()
        # the watch opens only once every job is known for both names: its
        # first dump announces the links already up, and a job read later
        # (the two names are read together, jobs in any order) would miss them
        self.listed = True
        self.on_job_change()
        if self.watch is None and not self.failed:
            self.log.info("Not watching network links until a job waits for %s"
                          % " or ".join(linkstate.EVENTS))

    def wanted(self, name: str) -> bool:
        return self.interest[name].any()

    def on_job_change(self, *_args) -> None:
        if self.watch is not None or self.failed or not self.listed:
            return
        if not any(w.any() for w in self.interest.values()):
            return
        watch = netlink.LinkWatch(self.emit, self.log, self.clean)
        try:
            watch.start(self.link.loop)
        except (ImportError, OSError) as exc:
            self.failed = True
            self.log.warn("Cannot watch network links: %s" % exc)
            return
        self.watch = watch
        self.log.info("Watching network links")

    def emit(self, name: str, env: list[str]) -> None:
        if self.wanted(name):
            self.link.emit(name, env, coalesce=False)     # transitions: keep every one


async def serve(opts, log) -> int:
    link = common.connect_init(PROG, opts.user, log)
    link.window, link.backlog_size = 32, 16384
    context = pyudev.Context()
    monitor = pyudev.Monitor.from_netlink(context, source="udev")
    monitor.start()
    bridge = UdevBridge(link, log, monitor, no_strip=opts.no_strip)
    link.loop.add_reader(monitor.fileno(), bridge.on_readable)
    # from here no uevent is lost (the monitor's socket queues what comes
    # before the loop reads it): the coldplug (`start on ready
    # upstart-udev-bridge`) may replay the devices now
    common.notify_ready()
    links = None if opts.no_link_events else LinkEvents(link, log, no_strip=opts.no_strip)
    if links is not None:
        await links.start()
    if opts.daemon:
        common.daemonise()
    await link.closed
    log.warn("Disconnected from Upstart")
    return 1


def _options(p) -> None:
    p.add_argument("--no-strip", action="store_true",
                   help="Do not strip non-printable bytes from udev message")
    p.add_argument("--no-link-events", action="store_true",
                   help="Do not emit net-device-up/net-device-down for network links")


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Bridge udev events into upstart", serve, argv, _options)


if __name__ == "__main__":
    raise SystemExit(main())
