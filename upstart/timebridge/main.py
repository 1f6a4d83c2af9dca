"""`upstart-time-bridge`: command line, wiring of the real clocks, exit codes.

    upstart-time-bridge [--user] [--daemon] [--state-file PATH] [--verbose|--debug]
    upstart-time-bridge [--user] [--state-file PATH] --list

Connects to init (as initctl does), builds the planner with the real clocks
(wall = time.time, monotonic = CLOCK_BOOTTIME), the host facts and the state
file, then runs the bridge until init disconnects (exit 1, so the job's
`respawn` restarts it). `--list` prints the timers and exits. Owns no logic
beyond that wiring.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from upstart.timebridge import host
from upstart.timebridge import state as state_file
from upstart.timebridge.bridge import Bridge, collect
from upstart.timebridge.clockwatch import ClockWatch
from upstart.timebridge.link import Link, LinkError, choose_address
from upstart.timebridge.listing import render
from upstart.timebridge.planner import Planner

PROG = "upstart-time-bridge"


def _options(argv):
    p = argparse.ArgumentParser(
        prog=PROG, description="Emit `time` events for jobs that ask for them "
        "(start on time CRON=..., EVERY=..., AFTER=... DELAY=...).")
    p.add_argument("--daemon", action="store_true", help="detach and run in the background")
    p.add_argument("--user", action="store_true",
                   help="connect to the Session Init ($UPSTART_SESSION)")
    p.add_argument("--state-file", metavar="PATH", help="where to keep catch-up state")
    p.add_argument("--list", action="store_true", help="print the timers and exit")
    p.add_argument("--verbose", action="store_true", help="log every event emitted")
    p.add_argument("--debug", action="store_true", help="as --verbose")
    from upstart.version import add_version_option
    add_version_option(p, PROG)
    return p.parse_args(argv)


def _daemonise() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def build_bridge(user_opt: bool, state_path: str | None, log, watch: bool) -> Bridge:
    """A loaded bridge on the real clocks (raises LinkError)."""
    address = choose_address(user_opt)
    link = Link(address)
    boot = host.boot_id()
    ident, started = host.init_identity(host.init_pid(address))
    user = user_opt or address != "unix:abstract=/com/ubuntu/upstart"
    planner = Planner(zone=host.local_zone(), host_seed=host.host_seed(),
                      init_started=started)
    bridge = Bridge(link, planner,
                    state_path=state_path or state_file.default_path(user),
                    boot=boot, init="%s/%s" % (boot, ident), log=log, wall=time.time,
                    mono=host.boottime, clockwatch=ClockWatch.open() if watch else None)
    bridge.load()
    return bridge


def list_timers(user: bool = False, state_path: str | None = None) -> str:
    """The `--list` text (for `initctl list-timers`); raises LinkError.

    Connects as initctl does (`$UPSTART_SESSION`, else init's private socket),
    reads the jobs and the state file, never emits and never writes."""
    bridge = build_bridge(user, state_path, lambda text: None, watch=False)
    try:
        _, users = collect([leaf for leaves in bridge.leaves.values() for leaf in leaves])
        return render(bridge.planner.describe(time.time(), host.boottime()), users,
                      bridge.planner.zone)
    finally:
        bridge.link.close()


def main(argv: list[str] | None = None) -> int:
    opts = _options(sys.argv[1:] if argv is None else argv)
    chatty = opts.verbose or opts.debug

    def log(text: str) -> None:
        if chatty or not text.startswith("Emitting"):
            sys.stderr.write("%s: %s\n" % (PROG, text))
            sys.stderr.flush()

    try:
        if opts.list:
            sys.stdout.write(list_timers(opts.user, opts.state_file))
            return 0
        bridge = build_bridge(opts.user, opts.state_file, log, watch=True)
    except LinkError as exc:
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return 1
    if opts.daemon:
        _daemonise()
    try:
        bridge.run()
    except LinkError as exc:
        log(str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
