"""The event bridge's pure logic: a system init signal → a session event.

`EventEmitted(name, env)` from the system init becomes `:sys:<name>` with
the same env; `Restarted` (the system init re-executed) becomes
`:sys:restarted` (spec 06 §5). Events already named `:sys:…` are never
forwarded again, so a bridge pointed at its own init cannot loop. Pure.
"""

from __future__ import annotations

from upstart.control import client, wire

PREFIX = ":sys:"
RESTARTED = PREFIX + "restarted"


def session_event(fields: dict, body) -> tuple[str, list[str]] | None:
    """(name, env) to emit in the Session Init, or None to ignore."""
    if fields.get(wire.F_INTERFACE) != client.MANAGER_IFACE:
        return None
    member = fields.get(wire.F_MEMBER)
    if member == "Restarted":
        return RESTARTED, []
    if member == "EventEmitted" and body and len(body) >= 2:
        name, env = body[0], body[1]
        if not isinstance(name, str) or name.startswith(PREFIX):
            return None
        return PREFIX + name, [str(e) for e in env]
    return None
