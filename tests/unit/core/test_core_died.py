"""RM-12: the `died` event for every abnormal exit of a main process
(docs/design/died-event.md), on the pure core with a fake clock."""

import json

from core_harness import FakeClock, FakeSpawner, Harness, job

from upstart.core import effects as fx
from upstart.core.engine import Engine

R = ["JOB=r", "INSTANCE="]


def died(h):
    return [e for e in h.events() if e[0] == "died"]


def test_killed_respawning_service_dies_then_respawns():
    h = Harness(job("r", respawn=True))
    h.start("r")
    first = h.pid("r")
    h.exit(first, None, 9)
    assert h.status("r") == "start/running" and h.pid("r") != first
    assert died(h) == [["died", *R, "PROCESS=main", "EXIT_SIGNAL=KILL", "RESPAWN=yes",
                        "DEATHS=1"]]
    # the event comes before the respawn's own events, which are 1.13's
    names = [e[0] for e in h.events()]
    assert names == ["starting", "started", "died", "stopping", "starting", "started"]


def test_every_death_while_respawning_has_its_event():
    h = Harness(job("r", respawn=True, respawn_limit=0))
    h.start("r")
    for code in (1, 2, 3):
        h.exit(h.pid("r"), code)
    assert [e[4:] for e in died(h)] == [
        ["EXIT_STATUS=1", "RESPAWN=yes", "DEATHS=1"], ["EXIT_STATUS=2", "RESPAWN=yes", "DEATHS=2"],
        ["EXIT_STATUS=3", "RESPAWN=yes", "DEATHS=3"]]
    assert h.engine.statistics()["jobs"]["r"]["died"] == 3


def test_respawn_limit_reached_dies_without_respawn():
    h = Harness(job("r", respawn=True, respawn_limit=2, respawn_interval=5))
    h.start("r")
    for _ in range(3):
        h.exit(h.pid("r"), 1)
    assert h.status("r") == "stop/waiting"
    assert [e[-2:] for e in died(h)] == [["RESPAWN=yes", "DEATHS=1"],
                                         ["RESPAWN=yes", "DEATHS=2"], ["RESPAWN=no", "DEATHS=3"]]
    # 1.13's failure is unchanged: PROCESS=respawn on stopping/stopped
    assert h.events()[-1] == ["stopped", *R, "RESULT=failed", "PROCESS=respawn"]
    assert h.events()[-3][0] == "died"


def test_backoff_giving_up_dies_without_respawn():
    h = Harness(job("r", respawn=True, respawn_limit=1, respawn_delay=(1.0, 1.0, 1.0)))
    h.start("r")
    h.exit(h.pid("r"), 1)
    h.feed(h.engine.timer_fired(("r", "", "respawn")))
    h.exit(h.pid("r"), 1)
    assert h.status("r") == "stop/waiting"
    assert [e[-2] for e in died(h)] == ["RESPAWN=yes", "RESPAWN=no"]


def test_failed_service_without_respawn_dies():
    h = Harness(job("svc"))
    h.start("svc")
    h.exit(h.pid("svc"), 3)
    assert died(h) == [["died", "JOB=svc", "INSTANCE=", "PROCESS=main", "EXIT_STATUS=3",
                        "RESPAWN=no", "DEATHS=1"]]


def test_failed_task_dies_and_its_emitter_still_learns_the_failure():
    h = Harness(job("t", task=True, start_on="ev"))
    h.emit("ev")
    out = h.exit(h.pid("t"), 1)
    assert [r.error.name for r in h.replies(out) if r.error] == [
        "com.ubuntu.Upstart0_6.Error.EventFailed"]
    assert died(h) == [["died", "JOB=t", "INSTANCE=", "PROCESS=main", "EXIT_STATUS=1",
                        "RESPAWN=no", "DEATHS=1"]]


def test_respawning_service_exiting_zero_dies():
    # 1.13 respawns a service whose main exits 0: it was meant to run
    h = Harness(job("r", respawn=True))
    h.start("r")
    h.exit(h.pid("r"), 0)
    assert died(h) == [["died", *R, "PROCESS=main", "EXIT_STATUS=0", "RESPAWN=yes",
                        "DEATHS=1"]]


def test_normal_exits_do_not_die():
    h = Harness(job("t", task=True), job("svc"),
                job("n", respawn=True, normal_exit=[3, 15 << 8]))
    h.start("t", wait=False)
    h.exit(h.pid("t"), 0)                  # a task's success
    h.start("svc", wait=False)
    h.exit(h.pid("svc"), 0)                # a service that ends with status 0
    h.start("n", wait=False)
    h.exit(h.pid("n"), 3)                  # listed in `normal exit`
    h.start("n", wait=False)
    h.exit(h.pid("n"), None, 15)           # a listed signal
    assert died(h) == []
    assert h.status("n") == "stop/waiting"


def test_stop_kills_without_dying():
    h = Harness(job("r", respawn=True))
    h.start("r")
    h.stop("r", wait=False)
    h.kill_ack("r")
    assert h.status("r") == "stop/waiting"
    assert died(h) == []


def test_other_processes_do_not_die():
    h = Harness(job("svc", pre_start="p"))
    h.start("svc", wait=False)
    h.exit(h.pid("svc", slot="pre-start"), 1)
    assert h.status("svc") == "stop/waiting"
    assert died(h) == []
    assert h.events()[-1][3:] == ["RESULT=failed", "PROCESS=pre-start", "EXIT_STATUS=1"]


def test_instance_and_exported_variables():
    h = Harness(job("w", instance="$N", export=["N"], respawn=True))
    h.start("w", ["N=1"])
    h.exit(h.pid("w", "1"), 2)
    assert died(h) == [["died", "JOB=w", "INSTANCE=1", "PROCESS=main", "EXIT_STATUS=2",
                        "RESPAWN=yes", "DEATHS=1", "N=1"]]


def test_respawn_disabled_at_shutdown_dies_without_respawn():
    h = Harness(job("r", respawn=True))
    h.start("r")
    h.engine.disable_respawn()
    h.exit(h.pid("r"), 1)
    assert died(h)[-1][-2:] == ["RESPAWN=no", "DEATHS=1"]
    assert h.status("r") == "stop/waiting"


def test_a_watcher_starts_on_died_and_does_not_hold_the_respawn():
    h = Harness(job("r", respawn=True),
                job("watch", task=True, instance="$EXIT_SIGNAL",
                    start_on="died JOB=r"))
    h.start("r")
    out = h.exit(h.pid("r"), None, 11)
    assert h.status("r") == "start/running"         # respawned, not held by watch
    assert h.status("watch", "SEGV") == "start/running"
    env = next(r.env for r in h.spawner.requests if r.job == "watch")
    assert "RESPAWN=yes" in env and "UPSTART_EVENTS=died" in env
    # the recorder learns whose death it was from the trace
    queued = [e for e in out if isinstance(e, fx.Trace) and e.kind == "queued"
              and e.name == "died"]
    assert [e.data for e in queued] == [("JOB=r", "INSTANCE=", "PROCESS=main",
                                         "EXIT_SIGNAL=SEGV", "RESPAWN=yes", "DEATHS=1")]
    assert queued[0].event > 0                      # the engine's id of the event


def test_deaths_count_lets_a_watcher_see_every_death():
    # `instance $JOB-$DEATHS`: a death while the last alert still runs is not lost
    h = Harness(job("r", respawn=True, respawn_limit=0),
                job("alert", task=True, instance="$JOB-$DEATHS", start_on="died"))
    h.start("r")
    for _ in range(3):
        h.exit(h.pid("r"), 1)
    assert h.engine.instances("alert") == ["r-1", "r-2", "r-3"]
    assert h.status("r") == "start/running"


def test_deaths_after_a_reexec_from_an_init_without_the_counter():
    h = Harness(job("r", respawn=True))
    h.start("r")
    h.exit(h.pid("r"), 1)
    snap = json.loads(json.dumps(h.engine.snapshot()))
    assert snap["classes"]["r"]["counters"]["died"] == 1       # kept across re-exec
    del snap["classes"]["r"]["counters"]["died"]               # an older init's snapshot
    h.engine = Engine.restore(snap, FakeClock(), FakeSpawner(), session_init=True,
                              job_env=[], init_env={}, confirm_delay=0)
    h.spawner = h.engine.spawner
    h.exit(h.pid("r"), 1)
    assert died(h)[-1][-2:] == ["RESPAWN=yes", "DEATHS=1"]
    assert h.status("r") == "start/running"
