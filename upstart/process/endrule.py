"""The end rule: what becomes of a job instance's leftover processes.

What it is: the one decision (docs/design/tracking.md, "At `waiting`") taken
when a tracked instance reaches `waiting` and then again at each re-check
while its leftovers are waited for. Both trackers apply it: the automatic
cgroups (`cgroups/manager.py`) and the proc-connector fallback
(`process/proctrack.py`); each owns its I/O (signal, release, removal,
timers) and asks `next_step` what to do.

The rule, from the facts (anything left; this run's main process spawned;
when init first signalled the instance; now; `kill timeout`):

* nothing left                                -> CLEANUP
* main process seen and never signalled       -> RELEASE (a natural end: 1.13)
* not signalled yet                           -> SIGNAL_AND_WAIT (kill signal)
* signalled less than `kill timeout` ago      -> WAIT (re-check after `delay`)
* signalled `kill timeout` ago or more        -> KILL (SIGKILL, then clean up)

Pure: no I/O and no clock (`now` is passed in, from the caller's loop).
"""

from __future__ import annotations

from upstart.records import dataclass

RECHECK = 0.05      # seconds between looks at the leftovers while they are waited for

CLEANUP = "cleanup"                   # nothing is left: forget the instance
RELEASE = "release"                   # leave the leftovers alone (no longer tracked)
SIGNAL_AND_WAIT = "signal-and-wait"   # send the job's kill signal, then wait
WAIT = "wait"                         # look again after `delay`
KILL = "kill"                         # SIGKILL what is left, then clean up


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    delay: float = 0.0      # WAIT: seconds until the next look


def next_step(*, left: bool, main_seen: bool, signalled_at: float | None,
              now: float, kill_timeout: float) -> Step:
    """What to do with an ended instance's leftovers (the module's table)."""
    if not left:
        return Step(CLEANUP)
    if signalled_at is None:
        return Step(RELEASE) if main_seen else Step(SIGNAL_AND_WAIT)
    if now < signalled_at + kill_timeout:
        return Step(WAIT, RECHECK)
    return Step(KILL)


__all__ = ["CLEANUP", "KILL", "RECHECK", "RELEASE", "SIGNAL_AND_WAIT", "WAIT", "Step",
           "next_step"]
