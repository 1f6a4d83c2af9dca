"""`ready on notify` / `notify-fd`: the `process_notify` input (interfaces.md §6)."""

from core_harness import Harness, cond, job

from upstart.core import effects as fx


def notify_job(text="notify", **kw):
    return job("n", ready=True, ready_on=cond(text), **kw)


def test_ready_1_from_main_makes_ready():
    h = Harness(notify_job())
    h.start("n")
    pid = h.pid("n")
    out = h.feed(h.engine.process_notify(pid, ["STATUS=warming up"]))
    assert h.engine.instance_ready("n", "") is False
    out = h.feed(h.engine.process_notify(pid, ["READY=1", "STATUS=serving"]))
    assert h.engine.instance_ready("n", "") is True
    assert any(isinstance(e, fx.EventEmitted) and e.name == "ready" for e in out)
    inst = h.engine.registry.get("n").instances[""]
    assert inst.notify_status == "serving"
    # no file/socket/dbus leaf: nothing to watch
    assert not any(isinstance(e, (fx.WatchReady, fx.UnwatchReady)) for e in h.log)


def test_notify_fd_leaf_with_arguments():
    h = Harness(notify_job("notify-fd FD=3"))
    h.start("n")
    h.feed(h.engine.process_notify(h.pid("n"), ["READY=1"]))
    assert h.engine.instance_ready("n", "") is True


def test_notify_from_other_pid_or_other_slot_is_ignored():
    h = Harness(notify_job(post_stop="true"))
    h.start("n")
    h.feed(h.engine.process_notify(99999, ["READY=1"]))
    assert h.engine.instance_ready("n", "") is False


def test_ready_before_running_counts_when_running():
    h = Harness(notify_job(post_start="sleep 1"))
    h.start("n")
    assert h.status("n") == "start/post-start"
    h.feed(h.engine.process_notify(h.pid("n"), ["READY=1"]))
    assert h.engine.instance_ready("n", "") is False
    h.exit(h.pid("n", slot="post-start"))
    assert h.status("n") == "start/running"
    assert h.engine.instance_ready("n", "") is True


def test_notify_and_event_both_needed():
    h = Harness(notify_job("notify and started db"))
    h.start("n")
    h.feed(h.engine.process_notify(h.pid("n"), ["READY=1"]))
    assert h.engine.instance_ready("n", "") is False
    h.emit("started", "JOB=db")
    assert h.engine.instance_ready("n", "") is True


def test_mainpid_is_recorded():
    h = Harness(notify_job())
    h.start("n")
    h.feed(h.engine.process_notify(h.pid("n"), ["MAINPID=4242"]))
    assert h.engine.registry.get("n").instances[""].notify_mainpid == 4242
