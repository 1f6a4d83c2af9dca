"""The D-Bus bridge's pure logic: a bus signal → the `dbus` event's env.

Env order (spec 06 §4): `SIGNAL=<member>`, `BUS=<--bus-name>` if given,
`INTERFACE=`, `OBJPATH=`, `SENDER=`, `DESTINATION=` when present, then
`ARG<n>=` for each basic argument: booleans `TRUE`/`FALSE`, integers in
decimal, doubles as C's `%f`, strings/object paths/signatures verbatim.
Container arguments (and unix fds) are skipped but still use up a number.
The feedback guard drops signals sent by `com.ubuntu.Upstart` or on init's
own interfaces (`com.ubuntu.Upstart0_6` and its `.Job`/`.Instance`).

Also the D-Bus activation decisions (spec 07 §8, see docs/design/bridges.md):
the bus name carried by dbus-daemon's systemd-style `ActivationRequest`
(its `SystemdService=` unit: `NAME.service` or `dbus-NAME.service`) and
whether some job could answer it. Pure; never touches a bus.
"""

from __future__ import annotations

import fnmatch

from upstart.bridges.conditions import split_arg
from upstart.control import wire

EVENT = "dbus"
ACTIVATION_EVENT = "dbus-activation"
GUARD_SENDER = "com.ubuntu.Upstart"
GUARD_IFACE = "com.ubuntu.Upstart0_6"
ACTIVATOR_IFACE = "org.freedesktop.systemd1.Activator"
SYSTEMD_NAME = "org.freedesktop.systemd1"
_INTEGERS = "ynqiuxt"


def guarded(fields: dict) -> bool:
    """True for signals that must never become events (init's own)."""
    iface = fields.get(wire.F_INTERFACE) or ""
    return (fields.get(wire.F_SENDER) == GUARD_SENDER or iface == GUARD_IFACE
            or iface.startswith(GUARD_IFACE + "."))


def format_arg(code: str, value) -> str | None:
    """The text of one basic argument, None for a skipped one."""
    if code == "b":
        return "TRUE" if value else "FALSE"
    if code in _INTEGERS:
        return str(int(value))
    if code == "d":
        return "%f" % value
    if code in "sog":
        return str(value)
    return None


def signal_env(fields: dict, body, bus_name: str | None = None) -> list[str]:
    env = ["SIGNAL=%s" % fields.get(wire.F_MEMBER, "")]
    if bus_name:
        env.append("BUS=%s" % bus_name)
    for key, field in (("INTERFACE", wire.F_INTERFACE), ("OBJPATH", wire.F_PATH),
                       ("SENDER", wire.F_SENDER), ("DESTINATION", wire.F_DESTINATION)):
        value = fields.get(field)
        if value:
            env.append("%s=%s" % (key, value))
    sig = fields.get(wire.F_SIGNATURE) or ""
    for n, (code, value) in enumerate(zip(wire.split_signature(sig), body or ())):
        text = format_arg(code, value) if len(code) == 1 else None
        if text is not None:
            env.append("ARG%d=%s" % (n, text))
    return env


def is_activation_request(fields: dict) -> bool:
    return (fields.get(wire.F_INTERFACE) == ACTIVATOR_IFACE
            and fields.get(wire.F_MEMBER) == "ActivationRequest"
            and fields.get(wire.F_SENDER) == "org.freedesktop.DBus")


def activation_name(unit: str) -> str:
    """Bus name from a SystemdService unit: `[dbus-]NAME[.service]`."""
    name = unit[:-len(".service")] if unit.endswith(".service") else unit
    return name[len("dbus-"):] if name.startswith("dbus-") else name


def activation_env(unit: str) -> list[str]:
    return ["NAME=%s" % activation_name(unit), "UNIT=%s" % unit]


def leaf_accepts(args, env: list[str]) -> bool:
    """Whether one `dbus-activation` leaf could match the event env: the
    same positional/named rules init applies (02 §3), values as globs."""
    values = dict(e.split("=", 1) for e in env)
    ordered = [e.split("=", 1)[1] for e in env]
    pos = 0
    for text in args:
        arg = split_arg(text)
        if arg.key is None:
            if pos >= len(ordered) or not fnmatch.fnmatchcase(ordered[pos], arg.value):
                return False
            pos += 1
            continue
        if arg.key not in values:
            return False
        if fnmatch.fnmatchcase(values[arg.key], arg.value) == arg.negated:
            return False
    return True
