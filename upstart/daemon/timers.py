"""One engine's timers on the event loop.

The engine asks for timers by key (`SetTimer`/`CancelTimer` effects) and
learns of them through `timer_fired(key)`; this table holds the loop handles
for one engine (the global one, or a chroot session's), so two engines never
share a key. Delays are the engine's: when the spawn confirmation waits at all
is the engine's rule (`Dispatch._settle`, CONFIRM_DELAY in daemon.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from collections.abc import Callable

from upstart.core.effects import timer_kind

if TYPE_CHECKING:
    from upstart.reactor.loop import Reactor, Handle


def reaps_first(key: object) -> bool:
    """Must dead children be reaped before this engine timer fires?
    (`effects.TIMER_KINDS`: the spawn confirmation timer)."""
    kind = timer_kind(key)
    return kind is not None and kind.reap_first


class Timers:
    def __init__(self, loop: Reactor, guard: Callable[..., None],
                 fire: Callable[[object], None]):
        self.loop = loop
        self._guard = guard          # runs fire(key), logging rather than raising
        self._fire = fire
        self.handles: dict[object, Handle] = {}

    def set(self, key, delay: float) -> None:
        self.cancel(key)
        self.handles[key] = self.loop.call_later(max(0.0, delay), self._guard, self._fired, key)

    def cancel(self, key) -> None:
        old = self.handles.pop(key, None)
        if old is not None:
            old.cancel()

    def close(self) -> None:
        for handle in self.handles.values():
            handle.cancel()
        self.handles.clear()

    def _fired(self, key) -> None:
        self.handles.pop(key, None)
        self._fire(key)
