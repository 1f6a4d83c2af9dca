"""Respawn backoff: `respawn delay MIN [MAX [FACTOR]]` (issue #14).

`Backoff` is a mixin of `Engine`; the rules are written in
docs/design/backoff.md. In short:

* a class **without** the stanza respawns exactly as 1.13 (the runaway
  window of `respawn limit`, `Lifecycle._runaway`);
* with the stanza, each respawn pauses before `starting`: the instance rests
  in `post-stop` with goal `start` (no process) while the core timer
  `(job, instance, "respawn")` runs. The n-th consecutive respawn waits
  `min(MAX, MIN * FACTOR**(n-1))`, jittered down by up to `JITTER` (never
  below MIN) when MAX > MIN, using the injected random source;
* a main process that ran at least `reset_after(jc)` seconds was a clean
  run: the count (and so the delay) starts again from MIN;
* with `respawn limit COUNT ...` (COUNT > 0) the job gives up after COUNT
  consecutive respawns: 1.13's failure (`RESULT=failed PROCESS=respawn`),
  a warning naming the count, and a record on the class entry
  (`ClassEntry.gave_up`) that `respawn_state` reports until the next start;
* during the pause `stop` ends it at once (post-stop -> waiting); a `start`
  cuts it short and clears the count; a restart clears the count.

It owns no state of its own (instances carry theirs) and never performs I/O:
time comes from the injected clock, jitter from the injected random source.
"""

from __future__ import annotations

import math
from typing import Any

from upstart.core import effects as fx
from upstart.core.job import Instance
from upstart.jobfile.model import JobClass

# largest fraction a delay is shortened by (growing backoffs only)
JITTER = 0.2
# a run at least this long resets the backoff, whatever MAX and the interval
MIN_RESET = 1.0


def reset_after(jc: JobClass) -> float:
    """Seconds a main process must run for its death to count as a fresh
    failure: the longest pause (MAX) or the limit's interval, whichever is longer."""
    assert jc.respawn_delay is not None
    return max(MIN_RESET, float(jc.respawn_delay[1]), float(jc.respawn_interval or 0))


def base_delay(spec: tuple[float, float, float], count: int) -> float:
    """Delay before the `count`-th consecutive respawn (1-based), before jitter:
    `min(MAX, MIN * FACTOR**(count-1))`, in constant time for any count."""
    low, high, factor = (float(x) for x in spec)
    if factor <= 1.0 or low <= 0.0 or count <= 1:
        return min(high, low)
    exponent = math.log(low) + (count - 1) * math.log(factor)
    if exponent >= math.log(high):
        return high                   # capped
    if (count - 1) * math.log(factor) < 700:
        return min(high, low * factor ** (count - 1))    # exact for ordinary specs
    return min(high, math.exp(exponent))   # a tiny MIN: in logs, no overflow


def jittered(spec: tuple[float, float, float], base: float, r: float) -> float:
    """`base` shortened by up to JITTER (r in [0, 1)), never below MIN; a
    fixed delay (MAX == MIN) is exact."""
    low, high = float(spec[0]), float(spec[1])
    if high <= low:
        return base
    return max(low, base * (1.0 - JITTER * min(max(r, 0.0), 1.0)))


class Backoff:
    """Mixin: respawn pauses (see module doc).

    Uses the Engine's `clock`, `random`, `registry`, `_out`, `_log`,
    `_change_state`, `_next`.
    """

    @staticmethod
    def _respawn_key(instance: Instance) -> fx.TimerKey:
        return fx.TimerKey(instance.job, instance.name, "respawn")

    def _backoff_main_started(self, instance: Instance) -> None:
        """Main was spawned: remember when, to recognise a clean run."""
        if instance.entry.job_class.respawn_delay is not None:
            instance.run_since = self.clock.monotonic()

    def _backoff_gives_up(self, instance: Instance) -> bool:
        """Main died and should respawn: count it, choose the pause; True
        when `respawn limit` is exhausted (the caller fails the job)."""
        jc = instance.entry.job_class
        spec = jc.respawn_delay
        assert spec is not None
        now = self.clock.monotonic()
        if instance.run_since is not None and now - instance.run_since >= reset_after(jc):
            instance.backoff_count = 0
        instance.backoff_count += 1
        if jc.respawn_limit and instance.backoff_count > jc.respawn_limit:
            count = instance.backoff_count - 1
            self._log("warn", f"{instance.display} respawning too fast "
                              f"({count} respawns without a clean run), stopped")
            instance.entry.gave_up[instance.name] = count
            instance.backoff_count = 0
            instance.backoff_pending = False
            return True
        delay = jittered(spec, base_delay(spec, instance.backoff_count), self.random())
        instance.backoff_delay = delay
        instance.backoff_pending = delay > 0
        return False

    def _backoff_pause(self, instance: Instance) -> bool:
        """post-stop -> starting of a respawn: pause there (arm the timer); True
        when paused (the caller stops moving the instance)."""
        if instance.backoff_timer:
            return True
        if not instance.backoff_pending:
            return False
        instance.backoff_pending = False
        instance.backoff_timer = True
        instance.backoff_due = self.clock.monotonic() + instance.backoff_delay
        self._log("info", f"{instance.display} respawning in {instance.backoff_delay:.3f}s "
                          f"(respawn {instance.backoff_count})")
        self._out.append(fx.SetTimer(self._respawn_key(instance), instance.backoff_delay))
        return True

    def _backoff_unpause(self, instance: Instance) -> bool:
        """Leave a pause (stop or start during it); True if there was one."""
        instance.backoff_pending = False
        if not instance.backoff_timer:
            return False
        instance.backoff_timer = False
        instance.backoff_due = None
        self._out.append(fx.CancelTimer(self._respawn_key(instance)))
        return True

    def _backoff_clear(self, instance: Instance) -> None:
        """An operator start/restart: forget the count (and any pending pause)."""
        instance.backoff_count = 0
        instance.backoff_pending = False
        instance.entry.gave_up.pop(instance.name, None)

    def _backoff_timer_fired(self, key: Any) -> None:
        entry = self.registry.get(key[0])
        instance = entry.instances.get(key[1]) if entry else None
        if instance is None or not instance.backoff_timer:
            return
        instance.backoff_timer = False
        instance.backoff_due = None
        if instance.state == "post-stop" and instance.goal == "start":
            self._change_state(instance, "starting")

    # ---- query

    def respawn_state(self, job: str, inst: str) -> dict[str, Any] | None:
        """What `initctl status` may show about backoff: None for a class
        without `respawn delay`; else `paused` (bool), `due_in` (seconds
        left, or None), `count` (consecutive respawns) and `gave_up` (the
        count it gave up after, or None)."""
        entry = self.registry.get(job)
        if entry is None or entry.job_class.respawn_delay is None:
            return None
        instance = entry.instances.get(inst)
        gave_up = entry.gave_up.get(inst)
        if instance is None:
            return {"paused": False, "due_in": None, "count": 0, "gave_up": gave_up}
        due_in = None
        if instance.backoff_timer and instance.backoff_due is not None:
            due_in = max(0.0, instance.backoff_due - self.clock.monotonic())
        return {"paused": instance.backoff_timer, "due_in": due_in,
                "count": instance.backoff_count, "gave_up": gave_up}


__all__ = ["Backoff", "JITTER", "base_delay", "jittered", "reset_after"]
