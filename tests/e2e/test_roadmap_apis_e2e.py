"""The small roadmap APIs of issue #26 item 5, end to end against a real init:
the override message at --verbose (RM-10), `UPSTART_FD` (RM-05), the seed's
variant form of start on/stop on (RM-09), resuming `debug` jobs (RM-15),
`initctl --global` (CT-27) and PID-1-managed user sessions (RM-07)."""

from __future__ import annotations

from init_harness import SessionInit


def test_verbose_init_says_a_run_was_modified_by_an_override():
    jobs = {"svc": "exec sleep 30\n", "svc.override": "env FROM_OVERRIDE=1\n",
            "plain": "exec sleep 30\n"}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as s:
        s.ok("start", "svc")
        s.ok("start", "plain")
        override = f"{s.conf}/svc.override"
        s.wait_for(lambda: f"svc job modified by override {override}" in s.init_log())
        log = s.init_log()
        assert "plain job modified" not in log
        # said once per run, as it enters `starting`
        assert log.count("svc job modified by override") == 1
        s.ok("restart", "svc")
        s.wait_for(lambda: s.init_log().count("svc job modified by override") == 2)


def test_override_message_is_not_logged_at_the_default_priority():
    jobs = {"svc": "exec sleep 30\n", "svc.override": "env FROM_OVERRIDE=1\n"}
    with SessionInit(jobs) as s:
        s.ok("start", "svc")
        assert "modified by override" not in s.init_log()
