"""Respawn backoff `respawn delay MIN [MAX [FACTOR]]` on a fake clock (issue #14)."""

from core_harness import Harness, job

from upstart.core import effects as fx
from upstart.core.backoff import base_delay, jittered, reset_after
from upstart.core.engine import Engine
from upstart.core.snapshot import resume_effects


def timers(effects, kind="respawn"):
    return [e.delay for e in effects if isinstance(e, fx.SetTimer) and e.key[2] == kind]


def fire(h, name="r", inst=""):
    return h.feed(h.engine.timer_fired((name, inst, "respawn")))


def backoff_job(**kw):
    kw.setdefault("respawn", True)
    kw.setdefault("respawn_limit", 0)
    return job("r", **kw)


def test_base_delay_grows_by_factor_up_to_max():
    spec = (1.0, 10.0, 2.0)
    assert [base_delay(spec, n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert base_delay((0.5, 0.5, 1.0), 50) == 0.5
    assert base_delay((1.0, 60.0, 3.0), 10_000) == 60     # no overflow, capped
    assert base_delay((1.0, 10.0, 1.0), 10**9) == 1.0     # factor 1: fixed, in O(1)
    assert base_delay((0.0, 10.0, 2.0), 10**9) == 0.0     # MIN 0: no pause ever
    assert base_delay((1.0, 10.0, 1.0000001), 10**9) == 10.0   # tiny factor: still O(1)
    # found by tests/fuzz: a tiny MIN made FACTOR**(n-1) overflow before the cap
    assert 0 < base_delay((1.1125369292536007e-308, 2.0, 3.0), 647) <= 2.0


def test_jitter_shortens_growing_delays_only_and_never_below_min():
    assert jittered((1.0, 10.0, 2.0), 8.0, 0.5) == 8.0 * (1 - 0.1)
    assert jittered((1.0, 10.0, 2.0), 1.0, 0.99) == 1.0
    assert jittered((3.0, 3.0, 1.0), 3.0, 0.99) == 3.0


def test_reset_after_is_longest_of_max_and_interval():
    assert reset_after(job("r", respawn_delay=(1, 60, 2))) == 60
    assert reset_after(job("r", respawn_delay=(1, 2, 2), respawn_interval=5)) == 5


def test_respawn_pauses_in_post_stop_then_starts():
    h = Harness(backoff_job(respawn_delay=(2.0, 2.0, 1.0)))
    h.start("r")
    first = h.pid("r")
    out = h.exit(first, 1)
    assert timers(out) == [2.0]
    assert h.status("r") == "start/post-stop"
    assert h.engine.instance_info("r", "")[2] == []        # no process while paused
    state = h.engine.respawn_state("r", "")
    assert state["paused"] and state["due_in"] == 2.0 and state["count"] == 1
    names = [e[0] for e in h.events()]
    assert names == ["starting", "started", "died", "stopping"]   # no starting yet
    h.clock.now += 2
    fire(h)
    assert h.status("r") == "start/running" and h.pid("r") != first
    assert [e[0] for e in h.events()][-2:] == ["starting", "started"]


def test_delays_grow_by_factor_and_cap_with_injected_jitter():
    h = Harness()
    h.engine = Engine(h.clock, h.spawner, session_init=True, job_env=[], init_env={},
                      confirm_delay=0, random=lambda: 0.0)
    h.feed(h.engine.load({"r": backoff_job(respawn_delay=(1.0, 5.0, 2.0))}))
    h.start("r")
    seen = []
    for _ in range(5):
        seen += timers(h.exit(h.pid("r"), 1))
        fire(h)
    assert seen == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_comes_from_injected_source():
    h = Harness()
    h.engine = Engine(h.clock, h.spawner, session_init=True, job_env=[], init_env={},
                      confirm_delay=0, random=lambda: 0.5)
    h.feed(h.engine.load({"r": backoff_job(respawn_delay=(1.0, 8.0, 2.0))}))
    h.start("r")
    seen = []
    for _ in range(3):
        seen += timers(h.exit(h.pid("r"), 1))
        fire(h)
    assert seen == [1.0, 1.8, 3.6]


def test_clean_run_resets_the_backoff():
    h = Harness(backoff_job(respawn_delay=(1.0, 4.0, 2.0)))
    h.engine.random = lambda: 0.0
    h.start("r")
    for _ in range(3):
        h.exit(h.pid("r"), 1)
        fire(h)
        h.clock.now += 5                        # ran max(MAX, interval 5) s: clean
    assert timers(h.exit(h.pid("r"), 1)) == [1.0]


def test_stop_during_pause_ends_it():
    h = Harness(backoff_job(respawn_delay=(5.0,) * 2 + (1.0,)))
    h.start("r")
    h.exit(h.pid("r"), 1)
    out = h.stop("r")
    assert fx.CancelTimer(("r", "", "respawn")) in out
    assert h.status("r") == "stop/waiting"
    assert h.events()[-1][0] == "stopped"
    assert fire(h) == []                      # a late timer is ignored
    assert h.status("r") == "stop/waiting"


def test_start_during_pause_respawns_now_and_answers():
    h = Harness(backoff_job(respawn_delay=(30.0, 30.0, 1.0)))
    h.start("r")
    h.exit(h.pid("r"), 1)
    out = h.start("r")
    assert fx.CancelTimer(("r", "", "respawn")) in out
    assert h.status("r") == "start/running"
    assert fx.Reply(h.tokens, "") in h.replies(out)
    assert h.engine.respawn_state("r", "")["count"] == 0


def test_restart_during_pause_respawns_now():
    h = Harness(backoff_job(respawn_delay=(30.0, 30.0, 1.0)))
    h.start("r")
    first = h.pid("r")
    h.exit(first, 1)
    h.restart("r")
    assert h.status("r") == "start/running" and h.pid("r") != first


def test_limit_gives_up_visibly_and_start_clears_it():
    h = Harness(backoff_job(respawn_delay=(1.0, 1.0, 1.0), respawn_limit=2))
    h.start("r")
    for _ in range(2):
        h.exit(h.pid("r"), 1)
        fire(h)
    out = h.exit(h.pid("r"), 1)
    assert fx.JobFailed("r", "", 0) in out
    assert h.status("r") == "stop/waiting"
    assert h.events()[-1] == ["stopped", "JOB=r", "INSTANCE=", "RESULT=failed",
                              "PROCESS=respawn"]
    assert h.logs("warn")[-1] == "r respawning too fast (2 respawns without a clean run), stopped"
    assert h.engine.respawn_state("r", "")["gave_up"] == 2
    h.start("r")
    assert h.status("r") == "start/running"
    assert h.engine.respawn_state("r", "")["gave_up"] is None


def test_without_stanza_no_pause():
    h = Harness(job("r", respawn=True))
    h.start("r")
    out = h.exit(h.pid("r"), 1)
    assert timers(out) == [] and h.status("r") == "start/running"
    assert h.engine.respawn_state("r", "") is None


def test_pause_survives_snapshot_restore():
    h = Harness(backoff_job(respawn_delay=(10.0, 10.0, 1.0)))
    h.start("r")
    h.exit(h.pid("r"), 1)
    h.clock.now += 4
    snap = h.engine.snapshot()
    eng = Engine.restore(snap, h.clock, h.spawner, session_init=True, job_env=[],
                         init_env={}, confirm_delay=0)
    assert fx.SetTimer(("r", "", "respawn"), 6.0) in resume_effects(eng)
    eng.timer_fired(("r", "", "respawn"))
    assert eng.instance_info("r", "")[:2] == ("start", "running")
