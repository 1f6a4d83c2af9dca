"""The environment variables 1.13's init reads (DM-25), against the real
daemon: as PID 1, `UPSTART_LOGDIR` wins even over `--logdir` for job logs
(1.13's log path override); a Session Init ignores it."""

from __future__ import annotations

import os

from init_harness import Pid1Init, SessionInit

JOB = {"hello": "task\nconsole log\nexec echo hello from the job\n"}


def test_pid1_writes_job_logs_to_upstart_logdir_over_the_option(tmp_path):
    envlog = tmp_path / "envlog"
    envlog.mkdir()
    os.chmod(tmp_path, 0o755)
    with Pid1Init(JOB, env={"UPSTART_LOGDIR": str(envlog)}) as init:
        assert init.initctl("start", "hello").returncode == 0
        init.wait_for(lambda: (envlog / "hello.log").exists()
                      and "hello from the job" in (envlog / "hello.log").read_text())
        assert not os.path.exists(os.path.join(init.logdir, "hello.log"))


def test_a_session_init_ignores_upstart_logdir(tmp_path):
    envlog = tmp_path / "envlog"
    envlog.mkdir()
    with SessionInit(JOB, env={"UPSTART_LOGDIR": str(envlog)}) as init:
        assert init.initctl("start", "hello").returncode == 0
        log = os.path.join(init.log, "hello.log")
        init.wait_for(lambda: os.path.exists(log) and "hello from the job" in open(log).read())
        assert not (envlog / "hello.log").exists()
