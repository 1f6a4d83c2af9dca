"""The planner: which `time` schedules are due, given two injected clocks.

It owns one `Entry` per schedule (cron cursor, monotonic deadline, last
firing, firings in this life of init) and answers four questions: what fires
now (`tick`), how long the loop may sleep (`next_wakeup`), what the state
file should hold (`snapshot`) and what `--list` shows (`describe`). Observed
events arm `AFTER=` schedules (`observe`).

Clocks. Every call takes `wall` (POSIX seconds, may jump) and `mono`, a clock
that never jumps and keeps counting across suspend (the loop passes
CLOCK_BOOTTIME). CRON follows the wall clock; EVERY and AFTER/DELAY follow
`mono`, so suspend counts as elapsed time and a wall jump does not move them.

Rules (docs/design/timebridge.md):
* Catch-up: runs missed while the bridge was down, the machine was off or the
  wall clock jumped forward are coalesced into one firing with
  `TIME_MISSED=<n>`; `CATCHUP=no` drops a run more than `GRACE` late instead.
* Wall-clock jumps are seen by comparing the wall and `mono` deltas between
  ticks. Backward by less than `BACKWARD_REPLAN`: runs already made are not
  made again. Backward by more: the calendar is re-planned from the new time.
* `COUNT=n`: at most n firings per life of init; `SPREAD=d`: a fixed per-host
  offset in [0, d) from a hash of the host seed and the schedule.
* `AFTER=`: each occurrence of the reference (re)arms the delay. `AFTER=startup`
  that nothing armed in this life of init is armed from init's start time.

Pure: no I/O, no clock reads, no randomness beyond the injected host seed.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timezone, tzinfo
from typing import Iterable

from upstart.records import dataclass
from upstart.timebridge.cron import CronRule
from upstart.timebridge.schedule import EVENT, Schedule

JUMP_TOLERANCE = 1.0
BACKWARD_REPLAN = 3 * 3600.0
GRACE = 60.0
MAX_SLEEP = 60.0
DORMANT_KEEP = 256


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Fire:
    """One `time` event to emit."""

    schedule: Schedule
    env: tuple[str, ...]
    due_wall: float
    missed: int
    ordinal: int


@dataclass(frozen=True)
class Jump:
    """The wall clock moved by `delta` seconds more than elapsed time did."""

    delta: float
    replanned: bool


@dataclass
class Entry:
    schedule: Schedule
    offset: float = 0.0
    cursor: float | None = None      # cron: occurrences up to here are accounted (shifted)
    due: float | None = None         # every/after: monotonic deadline
    last: float | None = None        # wall time of the last firing
    fired: int = 0                   # firings in this life of init
    memo: tuple[float, float] | None = None   # cron: (cursor, next occurrence after it)

    @property
    def exhausted(self) -> bool:
        return self.schedule.count is not None and self.fired >= self.schedule.count


@dataclass(frozen=True)
class Row:
    """One line of `--list`."""

    key: str
    env: tuple[str, ...]
    kind: str
    next_wall: float | None
    last_wall: float | None
    fired: int
    count: int | None


class Planner:
    def __init__(self, *, zone: tzinfo | None = None, host_seed: str = "",
                 init_started: float | None = None):
        self.zone = zone or timezone.utc
        self.host_seed = host_seed
        self.init_started = init_started
        self.entries: dict[str, Entry] = {}
        self.dormant: dict[str, dict] = {}
        self.rules: dict[str, CronRule] = {}
        self.dirty = False
        self.last_jump: Jump | None = None
        self._ref: tuple[float, float] | None = None

    # ------------------------------------------------------------- set-up

    def restore(self, saved: dict[str, dict], *, same_boot: bool, same_init: bool) -> None:
        """Load entry states from the state file (before `update`).

        Monotonic deadlines only survive within one boot; AFTER deadlines and
        firing counts only within one life of init."""
        for key, data in saved.items():
            data = dict(data)
            if not same_boot:
                data["due"] = None
            if not same_init:
                data["fired"] = 0
                if data.get("kind") == "after":
                    data["due"] = None
            self.dormant[key] = data

    def update(self, schedules: Iterable[Schedule], wall: float, mono: float) -> None:
        """Make the active set exactly `schedules` (jobs added, removed, reloaded)."""
        if self._ref is None:
            self._ref = (wall, mono)
        wanted = {s.key: s for s in schedules}
        for key in list(self.entries):
            if key not in wanted:
                self.dormant[key] = self._dump(self.entries.pop(key))
                self.dirty = True
        for key, sched in wanted.items():
            if key not in self.entries:
                self.entries[key] = self._adopt(sched, self.dormant.pop(key, None), wall, mono)
                self.dirty = True

    def _offset(self, sched: Schedule) -> float:
        if sched.spread <= 0:
            return 0.0
        digest = hashlib.sha256((self.host_seed + "\0" + sched.key).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0 ** 64 * sched.spread

    def _adopt(self, sched: Schedule, saved: dict | None, wall: float, mono: float) -> Entry:
        entry = Entry(sched, self._offset(sched))
        if saved:
            entry.cursor = saved.get("cursor")
            entry.due = saved.get("due")
            entry.last = saved.get("last")
            entry.fired = int(saved.get("fired") or 0)
        if sched.kind == "cron":
            if entry.cursor is None:
                entry.cursor = wall - entry.offset
        elif sched.kind == "every":
            if entry.due is None:
                if entry.last is not None:
                    entry.due = mono + (entry.last + sched.every - wall)
                else:
                    entry.due = mono + sched.every + entry.offset
        elif (entry.due is None and entry.fired == 0 and sched.after[0] == "startup"
              and self.init_started is not None):
            entry.due = self.init_started + sched.delay + entry.offset
        return entry

    def _next_cron(self, entry: Entry) -> float:
        """Next occurrence after the cursor (shifted time), memoised per cursor."""
        if entry.memo is None or entry.memo[0] != entry.cursor:
            entry.memo = (entry.cursor, self._rule(entry.schedule).next_after(entry.cursor))
        return entry.memo[1]

    def _rule(self, sched: Schedule) -> CronRule:
        rule = self.rules.get(sched.key)
        if rule is None:
            zone = self.zone
            if sched.zone:
                from zoneinfo import ZoneInfo
                zone = ZoneInfo(sched.zone)
            rule = self.rules[sched.key] = CronRule(sched.cron, zone)
        return rule

    # ------------------------------------------------------------- events

    def observe(self, name: str, env, wall: float, mono: float) -> None:
        """An event finished in init: arm every AFTER schedule it refers to."""
        for entry in self.entries.values():
            sched = entry.schedule
            if sched.kind != "after" or entry.exhausted:
                continue
            if name == EVENT and tuple(env[:len(sched.env)]) == sched.env:
                continue                      # never re-armed by its own event
            if sched.matches_reference(name, env):
                entry.due = mono + sched.delay + entry.offset
                self.dirty = True

    def _check_jump(self, wall: float, mono: float) -> None:
        self.last_jump = None
        if self._ref is not None:
            ref_wall, ref_mono = self._ref
            delta = (wall - ref_wall) - (mono - ref_mono)
            if abs(delta) > JUMP_TOLERANCE:
                replan = delta < -BACKWARD_REPLAN
                if replan:
                    for entry in self.entries.values():
                        if entry.schedule.kind == "cron":
                            entry.cursor = min(entry.cursor, wall - entry.offset)
                    self.dirty = True
                self.last_jump = Jump(delta, replan)
        self._ref = (wall, mono)

    def tick(self, wall: float, mono: float) -> list[Fire]:
        """Everything due at (wall, mono), each schedule at most once."""
        self._check_jump(wall, mono)
        fires = []
        for entry in self.entries.values():
            if entry.exhausted:
                continue
            kind = entry.schedule.kind
            if kind == "cron":
                fire = self._tick_cron(entry, wall)
            elif kind == "every":
                fire = self._tick_every(entry, wall, mono)
            else:
                fire = self._tick_after(entry, wall, mono)
            if fire is not None:
                fires.append(fire)
        return fires

    def _fire(self, entry: Entry, due_wall: float, missed: int, wall: float) -> Fire:
        entry.fired += 1
        entry.last = wall
        self.dirty = True
        env = entry.schedule.env + ("TIME_DUE=" + iso(due_wall), "TIME_FIRED=%d" % entry.fired,
                                    "TIME_MISSED=%d" % missed)
        return Fire(entry.schedule, env, due_wall, missed, entry.fired)

    def _tick_cron(self, entry: Entry, wall: float) -> Fire | None:
        rule = self._rule(entry.schedule)
        shifted = wall - entry.offset
        nxt = self._next_cron(entry)
        if nxt > shifted:
            return None
        count, latest = 1, nxt
        while count < 1000:
            after = rule.next_after(latest)
            if after > shifted:
                break
            count, latest = count + 1, after
        entry.cursor = shifted
        self.dirty = True
        if not entry.schedule.catchup and shifted - latest > GRACE:
            return None
        return self._fire(entry, latest + entry.offset, count - 1, wall)

    def _tick_every(self, entry: Entry, wall: float, mono: float) -> Fire | None:
        every = entry.schedule.every
        if entry.due > mono:
            return None
        late = int(math.floor((mono - entry.due) / every))
        latest = entry.due + late * every
        entry.due = latest + every
        self.dirty = True
        if not entry.schedule.catchup and mono - latest > GRACE:
            return None
        return self._fire(entry, wall - (mono - latest), late, wall)

    def _tick_after(self, entry: Entry, wall: float, mono: float) -> Fire | None:
        if entry.due is None or entry.due > mono:
            return None
        due = entry.due
        entry.due = None
        return self._fire(entry, wall - (mono - due), 0, wall)

    # ------------------------------------------------------------- queries

    def _next(self, entry: Entry, wall: float, mono: float) -> float | None:
        """Wall time of the next firing, None if none is planned."""
        if entry.exhausted:
            return None
        if entry.schedule.kind == "cron":
            return self._next_cron(entry) + entry.offset
        if entry.due is None:
            return None
        return wall + (entry.due - mono)

    def next_wakeup(self, wall: float, mono: float) -> float:
        """Seconds the loop may sleep before the next `tick`."""
        wait = MAX_SLEEP
        for entry in self.entries.values():
            nxt = self._next(entry, wall, mono)
            if nxt is not None:
                wait = min(wait, nxt - wall)
        return max(0.0, wait)

    def _dump(self, entry: Entry) -> dict:
        return {"kind": entry.schedule.kind, "cursor": entry.cursor, "due": entry.due,
                "last": entry.last, "fired": entry.fired}

    def snapshot(self) -> dict[str, dict]:
        """What the state file holds: active entries and recently dormant ones."""
        out = dict(list(self.dormant.items())[-DORMANT_KEEP:])
        for key, entry in self.entries.items():
            out[key] = self._dump(entry)
        return out

    def describe(self, wall: float, mono: float) -> list[Row]:
        return [Row(key, e.schedule.env, e.schedule.kind, self._next(e, wall, mono), e.last, e.fired,
                    e.schedule.count)
                for key, e in sorted(self.entries.items())]
