"""One engine's timers on the event loop.

The engine asks for timers by key (`SetTimer`/`CancelTimer` effects) and
learns of them through `timer_fired(key)`; this table holds the loop handles
for one engine (the global one, or a chroot session's), so two engines never
share a key. It also owns the rule for the spawn confirmation timer (see
CONFIRM_DELAY in daemon.py): the engine's delay only orders a death already on
its way, so it applies only while some job's main process is being killed
(its kill timer armed, key `(job, instance, "kill")`); otherwise the
confirmation comes on the next loop turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

SPAWN_CONFIRM_KEY = ("spawn", "", "confirm")


class Timers:
    def __init__(self, loop: asyncio.AbstractEventLoop, guard: Callable[..., None],
                 fire: Callable[[object], None]):
        self.loop = loop
        self._guard = guard          # runs fire(key), logging rather than raising
        self._fire = fire
        self.handles: dict[object, asyncio.TimerHandle] = {}

    def set(self, key, delay: float) -> None:
        self.cancel(key)
        if key == SPAWN_CONFIRM_KEY and not self.kill_pending():
            delay = 0.0
        self.handles[key] = self.loop.call_later(max(0.0, delay), self._guard, self._fired, key)

    def cancel(self, key) -> None:
        old = self.handles.pop(key, None)
        if old is not None:
            old.cancel()

    def kill_pending(self) -> bool:
        """Is some job's main process being killed (its kill timer armed)?"""
        return any(isinstance(k, tuple) and len(k) == 3 and k[2] == "kill"
                   for k in self.handles)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.cancel()
        self.handles.clear()

    def _fired(self, key) -> None:
        self.handles.pop(key, None)
        self._fire(key)
