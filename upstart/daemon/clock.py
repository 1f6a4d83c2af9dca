"""The clock init gives its engines, and the spawn-confirmation delay.

The core reads time only through an injected clock (docs/design/architecture.md);
this is the real one, monotonic, shared by the global engine and every chroot
session's.
"""

from __future__ import annotations

import time

# Upstream learns that an exec succeeded on a later main-loop turn (EOF on the
# child's status pipe, once the child has exec'd), and on that turn it reaps dead
# children before it reads pipes. We emulate both: the engine confirms a spawn on
# a short timer (about the time a fork+exec takes), and before the confirmation
# the shell reaps whatever died meanwhile. Measured against golden 108 (a killed
# service's `stopped` must come before a new task's `started`): 0 reorders events,
# 2 ms matches (with the reaping first). The engine uses the delay only while one
# of its kill timers is armed (the case it orders); otherwise it confirms at the
# end of the same input (upstart/core/dispatch.py, `_settle`).
CONFIRM_DELAY = 0.002


class MonotonicClock:
    def monotonic(self) -> float:
        return time.monotonic()
