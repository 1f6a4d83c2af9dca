"""The udev bridge's pure logic: a udev device event → event name and env.

Name (spec 06 §1): `<SUBSYSTEM>-device-added` for `add`, `-changed` for
`change`, `-removed` for `remove`, otherwise `<SUBSYSTEM>-device-<action>`.
Env order: `KERNEL=<sysname>`, `DEVPATH=`, `DEVNAME=<devnode>` (only when
the device has a node), `SUBSYSTEM=`, `ACTION=`, then every udev property
in the order libudev lists them, except the four already given. Unless
`--no-strip`, characters that are neither printable nor blank in the C
locale (so also every non-ASCII character, as upstream running in the C
locale) are removed from names and values. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

_SUFFIX = {"add": "added", "change": "changed", "remove": "removed"}
_FIXED = ("DEVPATH", "DEVNAME", "SUBSYSTEM", "ACTION")


def event_name(subsystem: str, action: str) -> str:
    return "%s-device-%s" % (subsystem, _SUFFIX.get(action, action))


def strip(text: str) -> str:
    """Drop characters C's isprint() and isblank() both reject."""
    if text.isascii() and text.isprintable():     # the usual case: nothing to drop
        return text
    return "".join(c for c in text if " " <= c <= "~" or c == "\t")


def udev_env(sysname: str, devpath: str, devnode: str | None, subsystem: str, action: str,
             properties: Iterable[tuple[str, str]], *, no_strip: bool = False) -> list[str]:
    clean = (lambda s: s) if no_strip else strip
    env = ["KERNEL=" + clean(sysname), "DEVPATH=" + clean(devpath)]
    if devnode:
        env.append("DEVNAME=" + clean(devnode))
    env += ["SUBSYSTEM=" + clean(subsystem), "ACTION=" + clean(action)]
    for key, value in properties:
        if key in _FIXED:
            continue
        env.append("%s=%s" % (clean(key), clean(value)))
    return env
