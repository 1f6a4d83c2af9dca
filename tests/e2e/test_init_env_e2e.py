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


def _session_job_sees(tmp_path, args: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The umask and environment a job of a Session Init started with umask
    077 and FOO=bar in its environment gets."""
    out = tmp_path / "out"
    jobs = {"probe": f"task\nexec sh -c 'umask > {out}.umask; env > {out}.env'\n"}
    old = os.umask(0o077)
    try:
        init = SessionInit(jobs, args=("--no-startup-event",) + args, env={"FOO": "bar"})
    finally:
        os.umask(old)
    with init:
        assert init.initctl("start", "probe").returncode == 0
        init.wait_for(lambda: os.path.exists(f"{out}.env") and init.state("probe")
                      == "probe stop/waiting")
        with open(f"{out}.env") as f:
            env = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
        with open(f"{out}.umask") as f:
            return f.read().strip(), env


def test_session_init_jobs_inherit_its_umask_and_environment(tmp_path):
    umask, env = _session_job_sees(tmp_path, ())
    assert umask == "0077"
    assert env["FOO"] == "bar" and "UPSTART_SESSION" in env


def test_no_inherit_env_gives_jobs_umask_022_and_only_path_and_term(tmp_path):
    umask, env = _session_job_sees(tmp_path, ("--no-inherit-env",))
    assert umask == "0022"
    assert "FOO" not in env and "HOME" not in env
    assert env["PATH"] and "UPSTART_SESSION" in env


def test_pid1_reads_jobs_from_upstart_confdir_without_the_option():
    with Pid1Init(JOB, confdir_option=False, setup="export UPSTART_CONFDIR=$T/conf") as init:
        assert init.initctl("start", "hello").returncode == 0
        init.wait_for(lambda: "hello from the job" in (
            open(os.path.join(init.logdir, "hello.log")).read()
            if os.path.exists(os.path.join(init.logdir, "hello.log")) else ""))
