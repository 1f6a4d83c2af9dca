"""The udev bridge's link logic: rtnetlink link messages → `net-device-up/down`.

A link is *up* when the kernel reports both `IFF_UP` (administratively up)
and `IFF_RUNNING`. The kernel sets `IFF_RUNNING` exactly when the device
runs and its operstate is `UP` or `UNKNOWN` (`lo`, `dummy` and other links
without carrier detection report `UNKNOWN`), so the flags alone decide;
a cable-less NIC, a veth whose peer is down or a dormant Wi-Fi link is not
up.

`step(previous, message)` is the whole rule, for one link (ifindex):

* not known or down → up: `net-device-up`;
* up → down, or up → deleted: `net-device-down` (with the name it was up
  under);
* up → up under a new name: `net-device-down` for the old name, then
  `net-device-up` for the new one;
* anything else (the many `RTM_NEWLINK`s for statistics, MTU, address or
  carrier-less changes): nothing. One event per transition, never one per
  message.

Messages whose family is not `AF_UNSPEC` (the bridge module's per-port
`AF_BRIDGE` notifications, whose `RTM_DELLINK` does not delete the link)
are ignored. `resync(table, snapshot)` reconciles the table with a full
dump (start-up, lost messages): links gone from the dump count as deleted.

Env, shaped like ifupdown's hook (which emits one event per address family
with the method used): `IFACE=<name> LOGICAL=<name> ADDRFAM=link
METHOD=none`; `ADDRFAM=link` says the event is about the link, not an
address family ifupdown configured. Pure: no I/O, no pyroute2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

UP = "net-device-up"
DOWN = "net-device-down"
EVENTS = (UP, DOWN)

IFF_UP = 0x1
IFF_RUNNING = 0x40
AF_UNSPEC = 0


class LinkMsg(NamedTuple):
    """The fields of one RTM_NEWLINK/RTM_DELLINK message the rule needs."""
    index: int
    name: str | None
    flags: int = 0
    deleted: bool = False
    family: int = AF_UNSPEC


class LinkState(NamedTuple):
    """What the bridge last knew of one link."""
    name: str
    up: bool


class Event(NamedTuple):
    name: str
    env: list[str]


def is_up(flags: int) -> bool:
    return flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING


def link_env(name: str) -> list[str]:
    return ["IFACE=" + name, "LOGICAL=" + name, "ADDRFAM=link", "METHOD=none"]


def up(name: str) -> Event:
    return Event(UP, link_env(name))


def down(name: str) -> Event:
    return Event(DOWN, link_env(name))


def step(prev: LinkState | None, msg: LinkMsg) -> tuple[LinkState | None, list[Event]]:
    """The link's new state and the events its message causes."""
    if msg.family != AF_UNSPEC:
        return prev, []
    if msg.deleted:
        return None, ([down(prev.name)] if prev is not None and prev.up else [])
    name = msg.name or (prev.name if prev is not None else "")
    if not name:
        return prev, []                       # nothing to call it by
    now = LinkState(name, is_up(msg.flags))
    was_up = prev is not None and prev.up
    events = []
    if was_up and (not now.up or prev.name != name):
        events.append(down(prev.name))
    if now.up and (not was_up or prev.name != name):
        events.append(up(name))
    return now, events


def apply(table: dict[int, LinkState], msg: LinkMsg) -> list[Event]:
    """`step` on the table entry of `msg.index`, updating `table` in place."""
    state, events = step(table.get(msg.index), msg)
    if state is None:
        table.pop(msg.index, None)
    else:
        table[msg.index] = state
    return events


def resync(table: Mapping[int, LinkState],
           snapshot: Iterable[LinkMsg]) -> tuple[dict[int, LinkState], list[Event]]:
    """A new table from a full dump, and the events since `table`.

    Links missing from the dump go down first (a link deleted and created
    again under a new index reads `down` then `up`), then the dump is
    applied in its order.
    """
    snapshot = [m for m in snapshot if m.family == AF_UNSPEC and not m.deleted]
    present = {m.index for m in snapshot}
    new = dict(table)
    events = []
    for index in sorted(set(table) - present):
        events += apply(new, LinkMsg(index, None, deleted=True))
    for msg in snapshot:
        events += apply(new, msg)
    return new, events
