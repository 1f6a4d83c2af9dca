"""upstart-monitor: a live stream of init's events and job changes (CLI only).

Connects as spec 04 §9 says (`-d/--destination system-bus|session-bus|
system-socket|session-socket`; default the session socket when
`UPSTART_SESSION` is set, else the system bus), listens to the D-Bus
signals every connection receives (`EventEmitted` when an event finishes;
the Instance `GoalChanged`, `StateChanged` and `Failed` signals) and prints
one line each as they come. Event lines are upstream's
(`YYYY-MM-DD HH:MM:SS.ffffff<sep>name KEY='VALUE'...`, but values keep any
`=` they contain); job lines are `time<sep>[goal|state|failed] job
[(instance)] value`. `--json` prints one JSON object per line instead;
`--job` and `--event` (shell patterns, repeatable) filter; `--count N`
exits after N lines. `-n/--no-gui` is accepted (there is no GUI).

Owns: formatting and filtering (pure functions below) and one blocking read
loop. Never: calls a method that changes init.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import sys
import time

DESTINATIONS = ("system-bus", "session-bus", "system-socket", "session-socket")
SYSTEM_SOCKET = "unix:abstract=/com/ubuntu/upstart"
MANAGER_IFACE = "com.ubuntu.Upstart0_6"
INSTANCE_IFACE = "com.ubuntu.Upstart0_6.Instance"
INSTANCE_SIGNALS = {"GoalChanged": "goal", "StateChanged": "state", "Failed": "failed"}


# ------------------------------------------------------------------ pure part

def timestamp(when: float) -> str:
    return datetime.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S.%f")


def describe(sig_path: str, member: str, iface: str, body: list) -> dict | None:
    """A D-Bus signal as a monitor item, or None if it is not one we show."""
    if iface == MANAGER_IFACE and member == "EventEmitted" and len(body) >= 2:
        return {"type": "event", "name": body[0], "env": list(body[1])}
    if iface == INSTANCE_IFACE and member in INSTANCE_SIGNALS and body:
        from upstart.control.paths import parse
        where = parse(sig_path)
        if not where or where[0] != "instance":
            return None
        return {"type": INSTANCE_SIGNALS[member], "job": where[1], "instance": where[2],
                "value": body[0]}
    return None


def wanted(item: dict, jobs: list[str], events: list[str]) -> bool:
    if not jobs and not events:
        return True
    if item["type"] == "event":
        if any(fnmatch.fnmatchcase(item["name"], pat) for pat in events):
            return True
        job = next((e[4:] for e in item["env"] if e.startswith("JOB=")), None)
        return job is not None and any(fnmatch.fnmatchcase(job, pat) for pat in jobs)
    return any(fnmatch.fnmatchcase(item["job"], pat) for pat in jobs)


def format_line(item: dict, when: float, sep: str = "\t", as_json: bool = False) -> str:
    if as_json:
        return json.dumps(dict(item, time=when), separators=(",", ":"))
    stamp = timestamp(when)
    if item["type"] == "event":
        parts = [item["name"]]
        for entry in item["env"]:
            key, _, value = entry.partition("=")
            parts.append(f"{key}='{value}'")
        return f"{stamp}{sep}{' '.join(parts)}"
    who = item["job"] + (f" ({item['instance']})" if item["instance"] else "")
    return f"{stamp}{sep}[{item['type']}] {who} {item['value']}"


def header(description: str) -> str:
    return ("# Upstart Event Monitor (console mode)\n#\n"
            f"# Connected to {description}\n#\n"
            "# Columns: time, event and environment\n\n")


# ------------------------------------------------------------------ I/O part

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="upstart-monitor",
                                description="Show Upstart events and job changes live.")
    p.add_argument("-d", "--destination", choices=DESTINATIONS,
                   help="where to connect (default: session-socket when UPSTART_SESSION "
                        "is set, else system-bus)")
    p.add_argument("-n", "--no-gui", action="store_true", help="accepted; always CLI")
    p.add_argument("-s", "--separator", default="\t", help="column separator (default TAB)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--job", action="append", default=[], metavar="PATTERN",
                   help="only changes of matching jobs (and their lifecycle events)")
    p.add_argument("--event", action="append", default=[], metavar="PATTERN",
                   help="only matching events")
    p.add_argument("--count", type=int, default=0, metavar="N", help="exit after N lines")
    from upstart.version import add_version_option
    add_version_option(p, "upstart-monitor")
    return p


def _connect(dest: str):
    from upstart.control import client
    env = os.environ
    if dest == "session-socket":
        address = env.get("UPSTART_SESSION")
        if not address:
            raise client.ConnectError("UPSTART_SESSION isn't set in the environment")
        return client.Connection(address), f"Upstart session socket ({address})"
    if dest == "system-socket":
        return client.Connection(SYSTEM_SOCKET), f"Upstart system socket ({SYSTEM_SOCKET})"
    if dest == "system-bus":
        address = env.get("DBUS_SYSTEM_BUS_ADDRESS") or \
            "unix:path=/var/run/dbus/system_bus_socket"
        label = "D-Bus system bus"
    else:
        address = env.get("DBUS_SESSION_BUS_ADDRESS") or ""
        label = "D-Bus session bus"
        if not address:
            raise client.ConnectError("DBUS_SESSION_BUS_ADDRESS isn't set")
    conn = client.Connection(address, bus=True, destination="com.ubuntu.Upstart")
    conn.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
              ("type='signal',sender='com.ubuntu.Upstart'",),
              destination="org.freedesktop.DBus")
    return conn, label


def main(argv: list[str] | None = None) -> int:
    from upstart.control import client, wire
    args = _parser().parse_args(argv)
    dest = args.destination or ("session-socket" if os.environ.get("UPSTART_SESSION")
                                else "system-bus")
    try:
        conn, description = _connect(dest)
    except (client.ConnectError, client.CallError) as exc:
        sys.stderr.write(f"upstart-monitor: unable to connect: {exc}\n")
        return 1
    out = sys.stdout
    if not args.json:
        out.write(header(description))
    out.flush()
    shown = 0
    try:
        while True:
            try:
                msg = conn.next_signal()
            except client.CallError:
                return 0                      # init went away
            item = describe(msg.fields.get(wire.F_PATH, ""), msg.fields.get(wire.F_MEMBER, ""),
                            msg.fields.get(wire.F_INTERFACE, ""), list(msg.body or ()))
            if item is None or not wanted(item, args.job, args.event):
                continue
            out.write(format_line(item, time.time(), args.separator, args.json) + "\n")
            out.flush()
            shown += 1
            if args.count and shown >= args.count:
                return 0
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
