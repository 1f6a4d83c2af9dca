"""Respawn, the runaway window on a fake clock, normal exit (03 §5-6)."""

from core_harness import Harness, job

from upstart.core import effects as fx

R = ["JOB=r", "INSTANCE="]


def test_respawn_after_kill_no_stopped_057():
    h = Harness(job("r", respawn=True, pre_start="p", post_stop="q"))
    h.start("r")
    h.exit(h.pid("r", slot="pre-start"), 0)
    first = h.pid("r")
    h.exit(first, None, 11)
    assert h.logs("warn") == [f"r main process ({first}) killed by SEGV signal",
                              "r main process ended, respawning"]
    assert h.status("r") == "start/post-stop"
    h.exit(h.pid("r", slot="post-stop"), 0)
    assert h.status("r") == "start/pre-start"
    h.exit(h.pid("r", slot="pre-start"), 0)
    assert h.status("r") == "start/running" and h.pid("r") != first
    names = [e[0] for e in h.events()]
    assert names == ["starting", "started", "died", "stopping", "starting", "started"]
    assert h.events()[2] == ["died", *R, "PROCESS=main", "EXIT_SIGNAL=SEGV", "RESPAWN=yes",
                            "DEATHS=1"]
    assert h.events()[3] == ["stopping", *R, "RESULT=ok"]


def test_respawn_limit_058():
    h = Harness(job("r", respawn=True, respawn_limit=2, respawn_interval=5))
    h.start("r")
    for _ in range(2):
        h.exit(h.pid("r"), 1)
        assert h.status("r") == "start/running"
    out = h.exit(h.pid("r"), 1)
    assert fx.JobFailed("r", "", 0) in out
    assert h.status("r") == "stop/waiting"
    fail = ["RESULT=failed", "PROCESS=respawn"]
    assert h.events()[-2:] == [["stopping", *R, *fail], ["stopped", *R, *fail]]
    warns = [w.split(" (")[0] if "terminated" in w else w for w in h.logs("warn")]
    assert warns == ["r main process", "r main process ended, respawning"] * 2 + [
        "r main process", "r respawning too fast, stopped"]


def test_respawn_window_restarts_after_interval():
    h = Harness(job("r", respawn=True, respawn_limit=2, respawn_interval=5))
    h.start("r")
    for _ in range(10):
        h.exit(h.pid("r"), 1)
        h.clock.now += 3       # each respawn falls in a fresh window pair
    assert h.status("r") == "start/running"


def test_respawn_limit_zero_is_unlimited():
    h = Harness(job("r", respawn=True, respawn_limit=0))
    h.start("r")
    for _ in range(30):
        h.exit(h.pid("r"), 1)
    assert h.status("r") == "start/running"


def test_respawn_exit_zero_service_059():
    h = Harness(job("r", respawn=True))
    h.start("r")
    h.exit(h.pid("r"), 0)
    assert h.status("r") == "start/running"
    assert h.logs("warn") == ["r main process ended, respawning"]


def test_respawn_task_exit_zero_is_success_060():
    h = Harness(job("t", respawn=True, task=True))
    h.start("t")
    out = h.exit(h.pid("t"), 0)
    assert h.replies(out) == [fx.Reply(1, "")]
    assert h.events()[-1] == ["stopped", "JOB=t", "INSTANCE=", "RESULT=ok"]


def test_respawn_during_post_start_061():
    h = Harness(job("r", respawn=True, post_start="ps"))
    h.start("r")
    main = h.pid("r")
    h.exit(main, None, 9)
    assert h.status("r") == "respawn/post-start"
    assert h.engine.instance_info("r", "")[2] == [("post-start", h.pid("r", slot="post-start"))]
    h.exit(h.pid("r", slot="post-start"), 0)
    assert h.status("r") == "start/post-start"
    out = h.exit(h.pid("r", slot="post-start"), 0)
    assert h.replies(out) == [fx.Reply(1, "")]
    assert [e[0] for e in h.events()] == ["starting", "died", "stopping", "starting", "started"]


def test_normal_exit_062_063():
    h = Harness(job("r", respawn=True, normal_exit=[3, 10 << 8]), job("s", normal_exit=[3]))
    h.start("r")
    h.exit(h.pid("r"), 5)
    assert h.status("r") == "start/running"
    h.exit(h.pid("r"), 3)
    assert h.status("r") == "stop/waiting"
    assert h.events()[-1] == ["stopped", *R, "RESULT=ok"]
    assert "r main process (%d) terminated with status 3" % (h.spawner.next_pid) in h.logs("info")
    h.start("s")
    pid = h.pid("s")
    h.exit(pid, None, 10)
    assert h.events()[-1] == ["stopped", "JOB=s", "INSTANCE=", "RESULT=failed", "PROCESS=main",
                              "EXIT_SIGNAL=USR1"]
    assert f"s main process ({pid}) killed by USR1 signal" in h.logs("warn")


def test_respawn_disabled_stops_instead():
    h = Harness(job("r", respawn=True))
    h.start("r")
    h.engine.disable_respawn()
    h.exit(h.pid("r"), 1)
    assert h.status("r") == "stop/waiting"
