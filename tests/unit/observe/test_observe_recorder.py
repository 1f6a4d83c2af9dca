"""The recorder and `why`, driven by the real engine's effects."""

from observe_harness import Observed, job

from upstart.process.notes import LogLine
from upstart.observe.recorder import failure_reason
from upstart.observe.why import events_named, explain, render


def chain3():
    """e1 starts a; `started a` starts b; `started b` and e2 start c."""
    return Observed(
        job("a", start_on="e1"),
        job("b", start_on="started a"),
        job("c", start_on="started b and e2"),
    )


def test_emitted_event_is_attributed_to_its_caller():
    h = Observed(job("a", start_on="e1"))
    h.emit_by("e1", "K=v", uid=1000, pid=77)
    queued = h.kinds("event-queued")
    assert [q["name"] for q in queued] == ["e1", "starting", "started"]
    assert queued[0]["by"] == {"type": "emit", "uid": 1000, "pid": 77,
                               "cmd": "initctl emit e1"}
    assert queued[1]["by"]["type"] == "job" and queued[1]["by"]["job"] == "a"
    finished = {r["name"]: r for r in h.kinds("event-finished")}
    assert finished["e1"]["env"] == ["K=v"]
    assert finished["started"]["env"] == ["JOB=a", "INSTANCE="]
    goal = h.kinds("goal")[0]
    assert goal["cause"] == {"type": "event", "event": queued[0]["id"], "name": "e1"}


def test_every_record_has_both_clocks_and_increasing_seq():
    h = Observed(job("a", start_on="e1"))
    h.emit_by("e1")
    seqs = [r["seq"] for r in h.rec.records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all("mono" in r and "wall" in r and r["wall"] > r["mono"] for r in h.rec.records)


def test_event_without_caller_is_from_init():
    h = Observed(job("a", start_on="startup"))
    h.emit("startup", wait=False)
    first = h.kinds("event-queued")[0]
    assert first["by"] == {"type": "init"}
    tree = explain(h.rec, "a", "", "start", None, h.conditions())
    assert "emitted by init at boot" in render(tree)


def test_why_names_a_chain_of_three_events_and_the_emitter():
    h = chain3()
    h.emit_by("e2", uid=0, pid=11)
    h.emit_by("e1", uid=1000, pid=4242, cmd="initctl emit e1")
    assert h.status("c") == "start/running"
    env = h.engine.env_list(["c", ""])
    tree = explain(h.rec, "c", "", "start", env, h.conditions())
    text = render(tree)
    assert events_named(tree) == ["started", "started", "e1", "e2"]
    assert "matched start on \"started b\"" in text
    assert "emitted by job b as it became running" in text
    assert "emitted by job a as it became running" in text
    assert "matched start on \"e1\"" in text
    assert "emitted by `initctl emit` (uid 1000, pid 4242: initctl emit e1)" in text
    assert "matched start on \"e2\"" in text
    assert "(uid 0, pid 11: initctl emit e2)" in text


def test_why_of_a_command_start_names_the_caller():
    h = Observed(job("a"))
    h.rec.command({"type": "command", "command": "start", "uid": 5, "pid": 6, "cmd": "start a"})
    h.start("a")
    tree = explain(h.rec, "a", "", "start", None, h.conditions())
    assert "asked for by `initctl start` (uid 5, pid 6: start a)" in render(tree)


def test_stopped_event_chain_includes_why_the_job_ran():
    h = Observed(job("t", task=True, start_on="go"), job("after", start_on="stopped t"))
    h.emit_by("go")
    h.exited(h.pid("t"), 0)
    text = render(explain(h.rec, "after", "", "start", None, h.conditions()))
    assert "emitted by job t as it became stopped" in text
    assert "t: goal start (when it was started)" in text
    assert "initctl emit go" in text


def test_failed_pre_start_is_recorded_with_reason_and_failed_event():
    h = Observed(job("svc", pre_start="check", start_on="go"))
    h.emit_by("go")
    h.exited(h.pid("svc", slot="pre-start"), 3)
    assert h.status("svc") == "stop/waiting"
    failure = h.rec.failures[("svc", "")]
    assert failure["reason"] == "pre-start process ended with status 3"
    finished = {r["name"]: r for r in h.kinds("event-finished")}
    assert finished["go"]["failed"] is True
    go_failed = [q for q in h.kinds("event-queued") if q["name"] == "go/failed"][0]
    assert go_failed["by"] == {"type": "failure", "event": finished["go"]["id"], "name": "go"}
    assert h.kinds("job-failed")[0]["status"] == 3
    stop_goal = [g for g in h.kinds("goal") if g["goal"] == "stop"][0]
    assert stop_goal["cause"] == {"type": "failed", "status": 3}


def test_failure_cleared_when_the_job_starts_again():
    h = Observed(job("svc", pre_start="check", start_on="go"))
    h.emit_by("go")
    h.exited(h.pid("svc", slot="pre-start"), 1)
    assert ("svc", "") in h.rec.failures
    h.emit_by("go")
    assert ("svc", "") not in h.rec.failures


def test_spawn_and_exit_records_name_the_process():
    h = Observed(job("a", start_on="e1"))
    h.emit_by("e1")
    pid = h.pid("a")
    spawn = h.kinds("spawn")[0]
    assert spawn == dict(spawn, job="a", instance="", slot="main", pid=pid)
    state_seq = [r["seq"] for r in h.kinds("state") if r["state"] == "spawned"][0]
    assert spawn["seq"] < state_seq          # recorded where the engine logged it
    h.exited(pid, None, 9)
    exit_rec = h.kinds("exit")[0]
    assert exit_rec == dict(exit_rec, job="a", slot="main", pid=pid, code=None, signal=9)


def test_debug_pause_note_is_kept_until_exit():
    h = Observed(job("a", start_on="e1"))
    h.emit_by("e1")
    pid = h.pid("a")

    h.rec.note(LogLine("info", "whatever the text says", paused=pid, job="a"))
    assert h.rec.pauses[pid]["job"] == "a"
    h.exited(pid, 0)
    assert pid not in h.rec.pauses


def test_sink_receives_every_record():
    got = []
    h = Observed(job("a", start_on="e1"))
    h.rec.sink = got.append
    h.emit_by("e1")
    assert got and got == list(h.rec.records)[-len(got):]


def test_memory_is_bounded():
    h = Observed(job("a", start_on="tick"))
    h.rec = type(h.rec)(monotonic=h.ticker, wall=h.ticker, keep_events=50,
                        keep_bytes=16 * 1024)
    for n in range(500):
        h.emit_by("tick", f"N={n}")
    h.rec.records.seal()
    assert h.rec.records.size <= 16 * 1024 and h.rec.records.dropped > 0
    assert 16 * 1024 - h.rec.records.size < 1024     # full, less one record at most
    assert len(h.rec.events) == 50
    assert h.rec.records[-1]["seq"] == h.rec.seq
    assert not h.rec._open                     # every event finished and left the index


def test_failure_reasons():
    assert failure_reason({"PROCESS": "respawn"}) == "respawning too fast (respawn limit reached)"
    assert failure_reason({"PROCESS": "main", "EXIT_SIGNAL": "SEGV"}) == \
        "main process killed by SEGV signal"
    assert failure_reason({"PROCESS": "main"}) == "main process failed to start"


def test_respawn_limit_failure():
    h = Observed(job("r", start_on="go", respawn=True, respawn_limit=2, respawn_interval=5))
    h.emit_by("go")
    for _ in range(3):
        h.exited(h.pid("r"), 1)
    assert h.status("r") == "stop/waiting"
    assert h.rec.failures[("r", "")]["reason"] == "respawning too fast (respawn limit reached)"


def test_log_query_is_paged():
    from upstart.observe import service

    h = Observed(job("a", start_on="tick"))
    for n in range(30):
        h.emit_by("tick", f"N={n}")
    obs = service.Observer(logdir=None, events_path=None, loop=None, log=lambda prio, msg: None)
    obs.recorder = h.rec
    old, service.LOG_PAGE = service.LOG_PAGE, 50
    try:
        first = obs.query(h.engine, "log", [])
        second = obs.query(h.engine, "log", [str(first[-1]["seq"])])
    finally:
        service.LOG_PAGE = old
    assert len(first) == 50 and second[0]["seq"] == first[-1]["seq"] + 1
    assert [r["seq"] for r in first + second] == [r["seq"] for r in h.rec.records][:len(first) + len(second)]


def test_states_only_passed_through_are_not_recorded():
    # the `-ing` states start a process and are left in the same input: not
    # recorded; every state an instance can rest or wait in is
    h = Observed(job("a", start_on="e1", pre_start="check"))
    h.emit_by("e1")
    h.exited(h.pid("a", slot="pre-start"), 0)
    assert [r["state"] for r in h.kinds("state")] == \
        ["starting", "security", "pre-start", "spawned", "post-start", "running"]
    h.stop("a")
    h.kill_ack("a")
    assert [r["state"] for r in h.kinds("state")][6:] == \
        ["pre-stop", "stopping", "killed", "post-stop", "waiting"]


def test_died_event_is_attributed_to_the_job_whose_main_died():
    # RM-12: `why` of a job started by `died` names the job that died and why it ran
    h = Observed(job("r", respawn=True, start_on="go"),
                 job("alert", task=True, start_on="died JOB=r"))
    h.emit_by("go", cmd="initctl emit go")
    h.exited(h.pid("r"), None, 9)
    queued = [q for q in h.kinds("event-queued") if q["name"] == "died"]
    assert queued[0]["by"]["type"] == "died" and queued[0]["by"]["job"] == "r"
    assert h.status("r") == "start/running"         # respawned meanwhile
    text = render(explain(h.rec, "alert", "", "start", None, h.conditions()))
    assert "matched start on \"died JOB=r\"" in text
    assert "emitted by init as the main process of job r died" in text
    assert "initctl emit go" in text
    h.exited(h.pid("alert"), 0)                     # the task held its event
    finished = [r for r in h.kinds("event-finished") if r["name"] == "died"]
    assert finished[0]["env"] == ["JOB=r", "INSTANCE=", "PROCESS=main", "EXIT_SIGNAL=KILL",
                                  "RESPAWN=yes", "DEATHS=1"]


def test_each_instance_keeps_its_last_death_and_a_count():
    h = Observed(job("r", respawn=True, respawn_limit=2, respawn_interval=5), job("ok"))
    h.start("r")
    h.exited(h.pid("r"), None, 9)
    h.exited(h.pid("r"), 3)
    death = h.rec.deaths[("r", "")]
    assert (death["count"], death["reason"], death["respawn"]) == \
        (2, "main process ended with status 3", True)
    h.exited(h.pid("r"), 3)                       # the limit: no respawn this time
    assert h.rec.deaths[("r", "")]["respawn"] is False
    assert h.rec.deaths[("r", "")]["count"] == 3
    h.start("ok")
    h.stop("ok")
    h.kill_ack("ok")                               # a stop is no death
    assert list(h.rec.deaths) == [("r", "")]


def test_two_events_of_one_name_finishing_out_of_order_keep_their_own_ids():
    """`ev A=1` waits for the task it started; `ev A=2`, queued later, finishes
    first: each finished record belongs to its own event (the engine's id),
    not to the oldest open event of that name."""
    h = Observed(job("slow", start_on="ev A=1", task=True))
    h.emit("ev", "A=1", wait=False)
    h.emit("ev", "A=2", wait=False)
    queued = {tuple(r["env"]): r["id"] for r in h.kinds("event-queued") if r["name"] == "ev"}
    assert set(queued) == {("A=1",), ("A=2",)}       # each queued with its env
    first = [(r["id"], r["env"]) for r in h.kinds("event-finished") if r["name"] == "ev"]
    assert first == [(queued[("A=2",)], ["A=2"])]
    h.exited(h.pid("slow"))
    done = {r["id"]: r["env"] for r in h.kinds("event-finished") if r["name"] == "ev"}
    assert done == {queued[("A=1",)]: ["A=1"], queued[("A=2",)]: ["A=2"]}
    assert h.rec.event(queued[("A=1",)])["finished"] > h.rec.event(queued[("A=2",)])["finished"]


def test_stats_query_reports_the_engines_counters_and_control_when_listening():
    import json

    from upstart.observe import service

    h = Observed(job("a", start_on="tick"))
    h.emit_by("tick")
    obs = service.Observer(logdir=None, events_path=None, loop=None, log=lambda prio, msg: None)
    obs.recorder = h.rec
    answer = json.loads(obs.answer(h.engine, "stats", []))
    assert answer["engine"] == json.loads(json.dumps(h.engine.statistics()))
    assert answer["engine"]["jobs"]["a"]["starts"] == 1
    assert answer["control"] is None                  # init not listening yet
    obs.control_status = {"connections": 0, "calls_fast": 3, "calls_full": 2}.copy
    assert json.loads(obs.answer(h.engine, "stats", []))["control"]["calls_fast"] == 3
