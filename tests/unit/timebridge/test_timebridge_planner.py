"""The planner on injected clocks: cron, intervals, delays after events, COUNT,
SPREAD, DST, catch-up after a gap (coalesced), wall-clock jumps, suspend, and
what survives a bridge restart, a new init and a reboot."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from upstart.timebridge.planner import GRACE, MAX_SLEEP, Planner
from upstart.timebridge.schedule import parse_time_match

UTC = timezone.utc
T0 = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC).timestamp()


class Clock:
    """Wall and monotonic (boottime) clocks under test control."""

    def __init__(self, wall=T0, mono=1000.0):
        self.wall, self.mono = wall, mono

    def advance(self, dt):              # time passes (also across suspend)
        self.wall += dt
        self.mono += dt

    def set_wall(self, dt):             # someone sets the clock
        self.wall += dt


def sched(*args):
    return parse_time_match(args)


def make(*schedules, clock=None, **kw):
    clock = clock or Clock()
    p = Planner(**kw)
    p.update(schedules, clock.wall, clock.mono)
    return p, clock


def run_until(p, clock, end_wall, limit=100000):
    """Sleep exactly as the loop would (MockClock style) and collect firings."""
    fires = []
    for _ in range(limit):
        fires += [(clock.wall, f) for f in p.tick(clock.wall, clock.mono)]
        wait = p.next_wakeup(clock.wall, clock.mono)
        if clock.wall + wait > end_wall:
            clock.advance(end_wall - clock.wall)
            fires += [(clock.wall, f) for f in p.tick(clock.wall, clock.mono)]
            return fires
        clock.advance(max(wait, 0.001))
    raise AssertionError("planner never slept")


def due_in(p, clock):
    """Seconds until the next planned firing (the loop itself sleeps at most MAX_SLEEP)."""
    nexts = [r.next_wall for r in p.describe(clock.wall, clock.mono) if r.next_wall is not None]
    return min(nexts) - clock.wall if nexts else None


def env_of(fire):
    return dict(item.split("=", 1) for item in fire.env)


# ------------------------------------------------------------------- cron

def test_cron_every_second():
    p, clock = make(sched("CRON=* * * * * *"))
    fires = run_until(p, clock, T0 + 5.5)
    assert [t for t, _ in fires] == [T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5]
    env = env_of(fires[2][1])
    assert env == {"CRON": "* * * * * *", "TIME_DUE": "2026-05-01T10:00:03Z",
                   "TIME_FIRED": "3", "TIME_MISSED": "0"}
    assert fires[0][1].env[0] == "CRON=* * * * * *"      # the leaf's own pair comes first


def test_cron_never_fires_retroactively_when_first_seen():
    p, clock = make(sched("CRON=0 10 * * *"), clock=Clock(wall=T0 + 30))
    assert p.tick(clock.wall, clock.mono) == []
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP


def test_cron_five_fields_and_sleep_length():
    p, clock = make(sched("CRON=*/15 * * * *"), clock=Clock(wall=T0 + 7 * 60))
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP
    clock.advance(7 * 60)
    assert p.next_wakeup(clock.wall, clock.mono) == pytest.approx(60)
    fires = run_until(p, clock, T0 + 3600)
    assert [t - T0 for t, _ in fires] == [15 * 60, 30 * 60, 45 * 60, 60 * 60]


def test_cron_in_a_zone_across_spring_forward():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=berlin).timestamp()
    p, clock = make(sched("CRON=30 2 * * *"), clock=Clock(wall=start), zone=berlin)
    fires = run_until(p, clock, start + 2 * 86400)
    assert [datetime.fromtimestamp(t, berlin).strftime("%d %H:%M %Z") for t, _ in fires] == [
        "29 03:00 CEST", "30 02:30 CEST"]


def test_cron_tz_key_overrides_the_default_zone():
    p, clock = make(sched("CRON=0 3 * * *", "TZ=Asia/Tokyo"), zone=ZoneInfo("Europe/Berlin"))
    fires = run_until(p, clock, T0 + 86400)
    # 03:00 in Tokyo is 18:00 UTC the day before
    assert [env_of(f)["TIME_DUE"] for _, f in fires] == ["2026-05-01T18:00:00Z"]
    assert fires[0][1].env[:2] == ("CRON=0 3 * * *", "TZ=Asia/Tokyo")


def test_cron_fall_back_fixed_time_once():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 25, 0, 0, tzinfo=berlin).timestamp()
    p, clock = make(sched("CRON=30 2 * * *"), sched("CRON=*/30 2 * * *"),
                    clock=Clock(wall=start), zone=berlin)
    fires = run_until(p, clock, start + 6 * 3600)
    fixed = [t for t, f in fires if f.schedule.cron == "30 2 * * *"]
    stepped = [t for t, f in fires if f.schedule.cron == "*/30 2 * * *"]
    assert len(fixed) == 1
    assert len(stepped) == 4        # 02:00 and 02:30, in both passes of the hour


# ------------------------------------------------------------------- EVERY

def test_every_interval_from_adoption():
    p, clock = make(sched("EVERY=30s"))
    fires = run_until(p, clock, T0 + 100)
    assert [t - T0 for t, _ in fires] == [30, 60, 90]
    assert [f.ordinal for _, f in fires] == [1, 2, 3]


def test_every_ignores_wall_jumps():
    p, clock = make(sched("EVERY=10s"))
    clock.advance(5)
    clock.set_wall(-3600)
    clock.advance(5)
    fires = p.tick(clock.wall, clock.mono)
    assert len(fires) == 1 and p.last_jump is not None


def test_every_after_suspend_fires_once_and_keeps_phase():
    p, clock = make(sched("EVERY=1m"))
    clock.advance(10)
    p.tick(clock.wall, clock.mono)
    clock.advance(10 * 60 + 5)      # suspended: boottime and wall both move on
    fires = p.tick(clock.wall, clock.mono)
    assert len(fires) == 1
    assert env_of(fires[0])["TIME_MISSED"] == "9"
    assert p.next_wakeup(clock.wall, clock.mono) == pytest.approx(45)


def test_every_catchup_no_skips_a_late_run():
    p, clock = make(sched("EVERY=1h", "CATCHUP=no"))
    clock.advance(3600 + GRACE + 1)
    assert p.tick(clock.wall, clock.mono) == []
    assert due_in(p, clock) == pytest.approx(3600 - GRACE - 1)   # phase kept
    clock.advance(due_in(p, clock))
    assert len(p.tick(clock.wall, clock.mono)) == 1


def test_count_caps_firings():
    p, clock = make(sched("EVERY=1s", "COUNT=3"))
    fires = run_until(p, clock, T0 + 10)
    assert [env_of(f)["TIME_FIRED"] for _, f in fires] == ["1", "2", "3"]
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP
    assert p.describe(clock.wall, clock.mono)[0].next_wall is None


def test_spread_is_a_fixed_per_host_offset():
    s = sched("EVERY=1h", "SPREAD=10m")
    a, clock = make(s, host_seed="host-a")
    b, _ = make(s, host_seed="host-b")
    a2, _ = make(s, host_seed="host-a")
    off_a = a.entries[s.key].offset
    assert 0 <= off_a < 600
    assert off_a == a2.entries[s.key].offset
    assert off_a != b.entries[s.key].offset
    fires = run_until(a, clock, T0 + 3 * 3600 + 600)
    assert [t - T0 for t, _ in fires] == pytest.approx([3600 + off_a, 7200 + off_a,
                                                        10800 + off_a])


def test_spread_shifts_cron_runs():
    s = sched("CRON=0 * * * *", "SPREAD=30m")
    p, clock = make(s, host_seed="h")
    off = p.entries[s.key].offset
    fires = run_until(p, clock, T0 + 2 * 3600)
    # 10:00 itself is still ahead once shifted by the offset
    assert [t - T0 for t, _ in fires] == pytest.approx([off, 3600 + off])
    assert env_of(fires[1][1])["TIME_DUE"] == datetime.fromtimestamp(
        T0 + 3600 + off, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------- AFTER

def test_delay_after_an_event():
    s = sched("AFTER=started foo", "DELAY=2s")
    p, clock = make(s)
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP
    clock.advance(5)
    p.observe("started", ["JOB=bar", "INSTANCE="], clock.wall, clock.mono)
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP
    p.observe("started", ["JOB=foo", "INSTANCE="], clock.wall, clock.mono)
    assert p.next_wakeup(clock.wall, clock.mono) == pytest.approx(2)
    fires = run_until(p, clock, T0 + 20)
    assert [t - T0 for t, _ in fires] == [7]
    assert fires[0][1].env[:2] == ("AFTER=started foo", "DELAY=2s")


def test_a_new_occurrence_rearms_the_delay():
    p, clock = make(sched("AFTER=started foo", "DELAY=10s"))
    p.observe("started", ["JOB=foo"], clock.wall, clock.mono)
    clock.advance(6)
    p.observe("started", ["JOB=foo"], clock.wall, clock.mono)
    fires = run_until(p, clock, T0 + 60)
    assert [t - T0 for t, _ in fires] == [16]


def test_after_is_not_rearmed_by_its_own_event():
    s = sched("AFTER=time", "DELAY=1s")
    p, clock = make(s)
    p.observe("time", ["EVERY=5s"], clock.wall, clock.mono)
    clock.advance(1)
    [fire] = p.tick(clock.wall, clock.mono)
    p.observe("time", list(fire.env), clock.wall, clock.mono)
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP


def test_after_startup_counts_from_init_start_when_the_bridge_came_late():
    clock = Clock(mono=1000.0)
    s = sched("AFTER=startup", "DELAY=15m")
    p, _ = make(s, clock=clock, init_started=400.0)       # init started 10 min ago
    assert due_in(p, clock) == pytest.approx(300)
    assert p.next_wakeup(clock.wall, clock.mono) == MAX_SLEEP
    late, _ = make(s, clock=Clock(mono=5000.0), init_started=400.0)
    assert len(late.tick(T0, 5000.0)) == 1                # long past: fires at once


def test_after_count():
    p, clock = make(sched("AFTER=ping", "COUNT=2"))
    for _ in range(4):
        p.observe("ping", [], clock.wall, clock.mono)
        clock.advance(1)
        p.tick(clock.wall, clock.mono)
    assert p.entries["AFTER=ping COUNT=2"].fired == 2


# ------------------------------------------------------------- catch-up / state

def restarted(p, clock, schedules, *, boot=True, init=True, **kw):
    """A new planner from p's snapshot, as a respawned bridge would build it."""
    q = Planner(**kw)
    q.restore(p.snapshot(), same_boot=boot, same_init=init)
    q.update(schedules, clock.wall, clock.mono)
    return q


def test_catch_up_after_a_gap_is_coalesced_to_one():
    s = sched("CRON=0 * * * *")
    p, clock = make(s)
    run_until(p, clock, T0 + 3600 + 1)          # fired at 11:00
    clock.advance(5 * 3600)                     # bridge down (or machine off) 5 hours
    q = restarted(p, clock, [s], boot=False, init=False)
    fires = q.tick(clock.wall, clock.mono)
    assert len(fires) == 1
    env = env_of(fires[0])
    assert env["TIME_MISSED"] == "4"            # 12:00..16:00 -> one run, 4 coalesced
    assert env["TIME_DUE"] == "2026-05-01T16:00:00Z"
    assert q.tick(clock.wall, clock.mono) == []
    assert due_in(q, clock) == pytest.approx(3599)


def test_catchup_no_drops_missed_cron_runs():
    s = sched("CRON=0 * * * *", "CATCHUP=no")
    p, clock = make(s)
    clock.advance(3 * 3600 + 600)
    q = restarted(p, clock, [s])
    assert q.tick(clock.wall, clock.mono) == []


def test_restart_in_the_same_init_keeps_counts_and_pending_delays():
    every = sched("EVERY=10s", "COUNT=5")
    after = sched("AFTER=started foo", "DELAY=30s")
    p, clock = make(every, after)
    p.observe("started", ["JOB=foo"], clock.wall, clock.mono)
    run_until(p, clock, T0 + 25)                 # EVERY fired twice, AFTER pending
    clock.advance(2)                             # bridge killed and respawned
    q = restarted(p, clock, [every, after])
    fires = run_until(q, clock, T0 + 100)
    assert [(t - T0, f.schedule.kind, f.ordinal) for t, f in fires] == [
        (30, "every", 3), (30, "after", 1), (40, "every", 4), (50, "every", 5)]


def test_new_init_resets_counts_and_forgets_delays():
    every = sched("EVERY=10s", "COUNT=2")
    after = sched("AFTER=started foo", "DELAY=30s")
    p, clock = make(every, after)
    p.observe("started", ["JOB=foo"], clock.wall, clock.mono)
    run_until(p, clock, T0 + 25)
    q = restarted(p, clock, [every, after], init=False)
    fires = run_until(q, clock, T0 + 100)
    assert [(t - T0, f.schedule.kind, f.ordinal) for t, f in fires] == [
        (30, "every", 1), (40, "every", 2)]


def test_every_across_a_reboot_uses_the_wall_time_of_the_last_run():
    s = sched("EVERY=1h")
    p, clock = make(s)
    run_until(p, clock, T0 + 3600 + 1)                    # ran at 11:00
    rebooted = Clock(wall=T0 + 3600 + 20 * 60, mono=15.0)  # new boot 20 min later
    q = restarted(p, rebooted, [s], boot=False, init=False)
    assert due_in(q, rebooted) == pytest.approx(40 * 60)
    rebooted2 = Clock(wall=T0 + 5 * 3600, mono=15.0)
    r = restarted(p, rebooted2, [s], boot=False, init=False)
    [fire] = r.tick(rebooted2.wall, rebooted2.mono)
    assert env_of(fire)["TIME_MISSED"] == "3"


def test_removed_then_readded_schedule_keeps_its_state():
    s = sched("EVERY=10s")
    p, clock = make(s)
    run_until(p, clock, T0 + 15)
    p.update([], clock.wall, clock.mono)
    assert p.entries == {} and s.key in p.snapshot()
    p.update([s], clock.wall, clock.mono)
    assert p.entries[s.key].fired == 1
    assert p.next_wakeup(clock.wall, clock.mono) == pytest.approx(5)


# ------------------------------------------------------------- wall-clock jumps

def test_small_backward_jump_does_not_repeat_runs():
    p, clock = make(sched("CRON=* * * * *"))
    fires = run_until(p, clock, T0 + 120.5)
    assert len(fires) == 2
    clock.set_wall(-90)                          # back 90 s: 10:01 comes again
    assert p.tick(clock.wall, clock.mono) == []
    assert p.last_jump.delta == pytest.approx(-90) and not p.last_jump.replanned
    fires = run_until(p, clock, clock.wall + 150)
    assert [env_of(f)["TIME_DUE"] for _, f in fires] == ["2026-05-01T10:03:00Z"]


def test_large_backward_jump_replans_from_the_new_time():
    p, clock = make(sched("CRON=0 * * * *"))
    run_until(p, clock, T0 + 5 * 3600 + 1)       # ran 11:00 .. 15:00
    clock.set_wall(-4 * 3600)                    # now 11:00:01 again
    p.tick(clock.wall, clock.mono)
    assert p.last_jump.replanned
    fires = run_until(p, clock, clock.wall + 3600)
    assert [env_of(f)["TIME_DUE"] for _, f in fires] == ["2026-05-01T12:00:00Z"]


def test_forward_jump_fires_skipped_runs_once():
    p, clock = make(sched("CRON=*/10 * * * *"))
    clock.advance(60)
    p.tick(clock.wall, clock.mono)
    clock.set_wall(3600)
    fires = p.tick(clock.wall, clock.mono)
    assert p.last_jump.delta == pytest.approx(3600)
    assert len(fires) == 1 and env_of(fires[0])["TIME_MISSED"] == "5"


def test_small_drift_is_not_a_jump():
    p, clock = make(sched("EVERY=1h"))
    clock.advance(10)
    clock.set_wall(0.5)
    p.tick(clock.wall, clock.mono)
    assert p.last_jump is None


# ------------------------------------------------------------------- queries

def test_describe_and_dirty_flag():
    cron = sched("CRON=0 12 * * *")
    after = sched("AFTER=x", "COUNT=1")
    p, clock = make(cron, after)
    assert p.dirty
    p.dirty = False
    p.tick(clock.wall, clock.mono)
    assert not p.dirty
    rows = {r.key: r for r in p.describe(clock.wall, clock.mono)}
    assert rows["CRON=0 12 * * *"].next_wall == T0 + 2 * 3600
    assert rows["AFTER=x COUNT=1"].next_wall is None
    assert rows["AFTER=x COUNT=1"].count == 1
