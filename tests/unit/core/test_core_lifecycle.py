"""Lifecycle scenarios replayed against the pure engine.

Each test mirrors one golden transcript (named in its docstring) and checks
the EventEmitted stream (= event finish order), replies and log lines.
"""

from core_harness import Harness, job

from upstart.core import effects as fx

S = ["JOB=svc", "INSTANCE="]


def test_service_start_stop_001():
    h = Harness(job("svc"))
    out = h.start("svc")
    assert h.replies(out) == [fx.Reply(1, "")]
    assert h.status("svc") == "start/running"
    pid = h.pid("svc")
    out = h.stop("svc")
    assert fx.Kill(pid, 15, True) in out
    assert fx.SetTimer(("svc", "", "kill"), 5) in out
    assert h.replies(out) == []                       # still waiting for the kill
    out = h.exit(pid, None, 15)
    assert h.replies(out) == [fx.Reply(2, None)]
    assert h.status("svc") == "stop/waiting"
    assert h.events() == [["starting", *S], ["started", *S],
                          ["stopping", *S, "RESULT=ok"], ["stopped", *S, "RESULT=ok"]]
    assert h.logs("warn") == [f"svc main process ({pid}) killed by TERM signal"]
    assert fx.CancelTimer(("svc", "", "kill")) in out


def test_every_state_is_signalled_including_transitional():
    h = Harness(job("svc", pre_start="p"))
    h.start("svc")
    states = [e.state for e in h.log if isinstance(e, fx.StateChanged)]
    assert states == ["starting", "security-spawning", "security", "pre-starting", "pre-start"]
    h.exit(h.pid("svc", slot="pre-start"), 0)
    states = [e.state for e in h.log if isinstance(e, fx.StateChanged)]
    assert states[5:] == ["spawning", "spawned", "post-starting", "post-start", "running"]


def test_task_start_returns_at_waiting_002():
    h = Harness(job("t", task=True))
    out = h.start("t")
    assert h.replies(out) == []
    assert h.status("t") == "start/running"
    out = h.exit(h.pid("t"), 0)
    assert h.replies(out) == [fx.Reply(1, "")]
    assert h.status("t") == "stop/waiting"
    T = ["JOB=t", "INSTANCE="]
    assert h.events() == [["starting", *T], ["started", *T],
                          ["stopping", *T, "RESULT=ok"], ["stopped", *T, "RESULT=ok"]]


def test_abstract_job_003():
    h = Harness(job("svc", main=None))
    h.start("svc")
    assert h.engine.instance_info("svc", "") == ("start", "running", [])
    out = h.stop("svc")
    assert h.replies(out) == [fx.Reply(2, None)]
    assert [e[0] for e in h.events()] == ["starting", "started", "stopping", "stopped"]


def test_pre_start_fails_033():
    h = Harness(job("j", pre_start="false", post_stop="touch"))
    h.start("j")
    out = h.exit(h.pid("j", slot="pre-start"), 1)
    assert out.index(fx.Reply(1, error=fx.upstart_error("JobFailed", "Job failed to start"))) >= 0
    assert fx.JobFailed("j", "", 1) in out
    post = h.pid("j", slot="post-stop")
    h.exit(post, 0)
    fail = ["RESULT=failed", "PROCESS=pre-start", "EXIT_STATUS=1"]
    assert h.events() == [["starting", "JOB=j", "INSTANCE="],
                          ["stopping", "JOB=j", "INSTANCE=", *fail],
                          ["stopped", "JOB=j", "INSTANCE=", *fail]]
    assert h.logs("warn") == [f"j pre-start process ({post - 1}) terminated with status 1"]


def test_pre_start_killed_gives_exit_signal_034():
    h = Harness(job("j", pre_start="p"))
    h.start("j")
    h.exit(h.pid("j", slot="pre-start"), None, 9)
    assert h.events()[-1] == ["stopped", "JOB=j", "INSTANCE=", "RESULT=failed",
                              "PROCESS=pre-start", "EXIT_SIGNAL=KILL"]


def test_main_exits_nonzero_035():
    h = Harness(job("svc"))
    h.start("svc")
    h.exit(h.pid("svc"), 3)
    fail = ["RESULT=failed", "PROCESS=main", "EXIT_STATUS=3"]
    died = ["died", *S, "PROCESS=main", "EXIT_STATUS=3", "RESPAWN=no", "DEATHS=1"]  # RM-12
    assert h.events()[2:] == [died, ["stopping", *S, *fail], ["stopped", *S, *fail]]
    assert h.status("svc") == "stop/waiting"


def test_post_start_and_pre_stop_failures_ignored_037_038():
    h = Harness(job("svc", post_start="ps", pre_stop="pp"))
    h.start("svc")
    out = h.exit(h.pid("svc", slot="post-start"), 1)
    assert h.replies(out) == [fx.Reply(1, "")]
    h.stop("svc")
    h.exit(h.pid("svc", slot="pre-stop"), 1)
    h.kill_ack("svc")
    assert h.events()[-1] == ["stopped", *S, "RESULT=ok"]


def test_post_stop_fails_039():
    h = Harness(job("svc", post_stop="x"))
    h.start("svc")
    h.stop("svc")
    h.kill_ack("svc")
    out = h.exit(h.pid("svc", slot="post-stop"), 2)
    assert fx.Reply(2, error=fx.upstart_error("JobFailed", "Job failed while stopping")) in out
    assert h.events()[-1] == ["stopped", *S, "RESULT=failed", "PROCESS=post-stop",
                              "EXIT_STATUS=2"]


def test_spawn_fails_main_040():
    h = Harness(job("j", main="/nonexistent"))
    h.spawner.fail["/nonexistent"] = "unable to execute: No such file or directory"
    out = h.start("j")
    assert fx.Reply(1, error=fx.upstart_error("JobFailed", "Job failed to start")) in out
    assert fx.JobFailed("j", "", -1) in out
    J = ["JOB=j", "INSTANCE="]
    assert h.events() == [["starting", *J], ["stopping", *J, "RESULT=failed", "PROCESS=main"],
                          ["stopped", *J, "RESULT=failed", "PROCESS=main"]]
    assert h.logs("warn") == [
        "Failed to spawn j main process: unable to execute: No such file or directory"]


def test_spawn_fails_pre_start_and_post_stop_041_042():
    h = Harness(job("j", pre_start="/bad"), job("k", post_stop="/bad"))
    h.spawner.fail["/bad"] = "unable to execute: No such file or directory"
    h.start("j")
    assert h.events()[-1] == ["stopped", "JOB=j", "INSTANCE=", "RESULT=failed",
                              "PROCESS=pre-start"]
    h.start("k")
    out = h.stop("k")
    out = h.kill_ack("k")
    assert h.events(out)[-1] == ["stopped", "JOB=k", "INSTANCE=", "RESULT=failed",
                                 "PROCESS=post-stop"]


def test_spawn_fails_post_start_ignored_043():
    h = Harness(job("j", post_start="/bad"))
    h.spawner.fail["/bad"] = "unable to execute: No such file or directory"
    out = h.start("j")
    assert h.replies(out) == [fx.Reply(1, "")]
    assert h.status("j") == "start/running"
    assert h.logs("warn") == [
        "Failed to spawn j post-start process: unable to execute: No such file or directory"]


def test_kill_timeout_sends_sigkill_064():
    h = Harness(job("k", kill_timeout=1))
    h.start("k")
    pid = h.pid("k")
    out = h.stop("k")
    assert fx.SetTimer(("k", "", "kill"), 1) in out
    out = h.feed(h.engine.timer_fired(("k", "", "kill")))
    assert fx.Kill(pid, 9, True) in out
    assert f"Sending KILL signal to k main process ({pid})" in h.logs("info")
    out = h.exit(pid, None, 9)
    assert h.replies(out) == [fx.Reply(2, None)]
    assert fx.CancelTimer(("k", "", "kill")) not in out    # timer already fired


def test_kill_signal_stanza_065():
    h = Harness(job("k", kill_signal=10))
    h.start("k")
    out = h.stop("k")
    assert fx.Kill(h.pid("k"), 10, True) in out
    assert f"Sending USR1 signal to k main process ({h.pid('k')})" in h.logs("info")


def test_reload_sends_reload_signal_to_pid_only_066_077():
    h = Harness(job("r", reload_signal=10), job("n"))
    h.start("r")
    out = h.feed(h.engine.instance_reload("r", "", token="t"))
    assert out == [fx.Kill(h.pid("r"), 10, False), fx.Reply("t")]
    h.start("n", wait=False)
    h.exit(h.pid("n"), 0)
    h.feed(h.engine.load({"r": job("r", reload_signal=10), "n": job("n", main=None)}))
    h.start("n")
    out = h.feed(h.engine.instance_reload("n", "", token="u"))
    assert out == [fx.Reply("u", error=fx.upstart_error("NotRunning", "Job is not running: n"))]


def test_expect_fork_waits_for_ready():
    h = Harness(job("d", expect="fork"))
    out = h.start("d")
    assert h.spawner.requests[-1].trace is True
    assert h.status("d") == "start/spawned" and h.replies(out) == []
    out = h.feed(h.engine.process_ready(h.pid("d"), 555))
    assert h.replies(out) == [fx.Reply(1, "")]
    assert h.pid("d") == 555
    h.stop("d")
    out = h.exit(555, None, 15)
    assert h.status("d") == "stop/waiting"


def test_expect_stop_flags_the_request():
    h = Harness(job("d", expect="stop"))
    h.start("d")
    assert h.spawner.requests[-1].stop_on_exec is True
    assert h.status("d") == "start/spawned"
    pid = h.pid("d")
    h.feed(h.engine.process_ready(pid, pid))
    assert h.status("d") == "start/running"


def test_unknown_pid_exit_is_ignored():
    h = Harness(job("svc"))
    assert h.exit(4242, 0) == []


def test_confirm_delay_defers_exec_news_to_a_timer_108():
    from core_harness import FakeClock, FakeSpawner

    from upstart.core.engine import Engine
    eng = Engine(FakeClock(), FakeSpawner(), session_init=True, job_env=[], init_env={},
                 confirm_delay=0.02)
    eng.load({"svc": job("svc"), "t": job("t", task=True, start_on="session-end")})
    eng.job_start("svc", [], wait=False, token=1)
    eng.timer_fired(Engine.CONFIRM_TIMER)
    svc_pid = eng.instance_info("svc", "")[2][0][1]
    eng.instance_stop("svc", "", wait=False, token=2)
    out = eng.emit("session-end", ["TYPE=shutdown"], wait=False, token=3)
    assert fx.SetTimer(Engine.CONFIRM_TIMER, 0.02) in out
    assert eng.instance_info("t", "")[1] == "spawned"
    out = eng.process_exited(svc_pid, None, 15)          # svc dies before t's exec is known
    out += eng.timer_fired(Engine.CONFIRM_TIMER)
    got = [e.name + " " + e.env[0] for e in out if isinstance(e, fx.EventEmitted)]
    assert got == ["stopped JOB=svc", "started JOB=t"]


def test_confirmation_is_delivered_before_the_exit_of_the_same_process():
    from core_harness import FakeClock, FakeSpawner

    from upstart.core.engine import Engine
    eng = Engine(FakeClock(), FakeSpawner(), session_init=True, job_env=[], init_env={},
                 confirm_delay=1)
    eng.load({"svc": job("svc"), "t": job("t", task=True)})
    eng.job_start("svc", [], wait=False, token=1)
    eng.instance_stop("svc", "", wait=False, token=2)    # a kill on its way: delay applies
    out = eng.job_start("t", [], wait=True, token=3)
    assert fx.SetTimer(Engine.CONFIRM_TIMER, 1) in out
    pid = eng.instance_info("t", "")[2][0][1]
    out = eng.process_exited(pid, 0, None)
    assert [e.name for e in out if isinstance(e, fx.EventEmitted)] == [
        "started", "stopping", "stopped"]
    assert fx.Reply(3, "") in out
    assert eng.timer_fired(Engine.CONFIRM_TIMER) == []


def test_with_no_kill_on_its_way_a_spawn_is_confirmed_in_the_same_input():
    from core_harness import FakeClock, FakeSpawner

    from upstart.core.engine import Engine
    eng = Engine(FakeClock(), FakeSpawner(), session_init=True, job_env=[], init_env={},
                 confirm_delay=1)
    eng.load({"svc": job("svc")})
    out = eng.job_start("svc", [], wait=True, token=1)
    assert not [e for e in out if isinstance(e, fx.SetTimer)]
    assert [e.name for e in out if isinstance(e, fx.EventEmitted)] == ["starting", "started"]
    assert [e.error for e in out if isinstance(e, fx.Reply) and e.token == 1] == [None]
    assert eng.instance_info("svc", "")[:2] == ("start", "running")


def test_lines_below_the_log_threshold_are_not_built_but_the_recorders_are():
    # the shell's threshold (log_enabled) keeps the engine from building lines
    # nobody would see; the lines the event recorder reads come at any priority
    from core_harness import FakeClock, FakeSpawner

    from upstart.core.engine import Engine
    asked = []

    def enabled(priority):
        asked.append(priority)
        return priority not in ("debug", "info")
    eng = Engine(FakeClock(), FakeSpawner(), session_init=True, job_env=[], init_env={},
                 confirm_delay=0, log_enabled=enabled)
    eng.load({"svc": job("svc")})
    out = eng.job_start("svc", [], wait=False, token=1)
    out += eng.job_stop("svc", [], wait=False, token=2)
    out += eng.process_exited(eng.instance_info("svc", "")[2][0][1], None, 15)
    lines = [e.message for e in out if isinstance(e, fx.Log)]
    traces = [(e.kind, e.name) for e in out if isinstance(e, fx.Trace)]
    # the recorder's structured traces come whatever the threshold; their lines do not
    assert ("queued", "starting") in traces and ("handling", "started") in traces
    assert ("finished", "stopped") in traces
    assert ("spawned", "svc") in traces
    assert not any(line.startswith(("Pending", "Handling", "Finished", "svc main process (1"))
                   and "killed" not in line for line in lines)
    assert "svc main process (101) killed by TERM signal" in lines     # warn: shown
    assert not any("changed from" in line or "instance" in line or line.startswith("Sending")
                   for line in lines)
    assert "info" in asked and "debug" in asked
    # without a threshold every line is built, as before
    eng = Engine(FakeClock(), FakeSpawner(), session_init=True, job_env=[], init_env={},
                 confirm_delay=0)
    eng.load({"svc": job("svc")})
    lines = [e.message for e in eng.job_start("svc", [], wait=False, token=1)
             if isinstance(e, fx.Log)]
    assert "svc goal changed from stop to start" in lines
    assert "svc state changed from waiting to starting" in lines
