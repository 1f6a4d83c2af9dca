"""Command construction (spec 01 §4) and the child set-up plan."""

import resource

import pytest

from upstart.jobfile.model import Process
from upstart.process.command import (
    SHELL_CHARS, build_command, env_mapping, exec_path, needs_shell,
)
from process_harness import request
from upstart.process.setup import expand_vars, oom_legacy_value, plan_for


def test_shell_chars_are_upstreams_22():
    assert len(SHELL_CHARS) == 22
    assert set(SHELL_CHARS) == set("~`!$^&*()=|\\{}[];\"'<>?")


def test_plain_exec_is_split_on_blanks_without_quoting():
    cmd = build_command(Process(False, "echo  one\ttwo\r\nthree  "))
    assert cmd.argv == ("echo", "one", "two", "three")
    assert cmd.script is None


@pytest.mark.parametrize("ch", list(SHELL_CHARS))
def test_exec_with_any_shell_char_goes_through_sh(ch):
    cmd = build_command(Process(False, f"foo a{ch}b"))
    assert cmd.argv == ("/bin/sh", "-e", "-c", f"exec foo a{ch}b", "/bin/sh")


def test_equals_sign_counts_as_shell_char():
    assert needs_shell(Process(False, "foo --x=1"))
    assert not needs_shell(Process(False, "foo --x 1"))


def test_one_line_script_uses_dash_c_and_strips_trailing_newlines():
    cmd = build_command(Process(True, "echo hi\n\n\n"))
    assert cmd.argv == ("/bin/sh", "-e", "-c", "echo hi", "/bin/sh")
    assert cmd.script is None


def test_multi_line_script_is_fed_on_fd_9():
    cmd = build_command(Process(True, "echo a\necho b\n"))
    assert cmd.argv == ("/bin/sh", "-e", "/proc/self/fd/9")
    assert cmd.script == b"exec 9<&-\necho a\necho b\n"


def test_env_mapping_keeps_order_and_drops_bare_names():
    env = env_mapping(("B=2", "A=1", "BARE", "C=x=y", "E="))
    assert list(env.items()) == [("B", "2"), ("A", "1"), ("C", "x=y"), ("E", "")]


def test_exec_path_uses_job_path_or_libc_default():
    assert exec_path({"PATH": "/x::/y"}) == ["/x", ".", "/y"]
    assert exec_path({}) == ["/bin", "/usr/bin"]


def test_expand_vars_in_apparmor_profile():
    assert expand_vars("p-$A-${B}-$C", {"A": "1", "B": "2"}) == "p-1-2-"


@pytest.mark.parametrize("score,legacy", [(-1000, -17), (1000, 15), (100, 1), (-500, -8), (0, 0)])
def test_oom_legacy_conversion(score, legacy):
    assert oom_legacy_value(score) == legacy


def _plan(session=False, **kw):
    return plan_for(request("true", **kw), session_init=session, default_console="log",
                    no_log=False, debug=False, apparmor_usable=False)


def test_plan_defaults_system_vs_session():
    system = _plan()
    assert (system.umask, system.chdir, system.console) == (0o022, "/", "log")
    session = _plan(session=True)
    assert (session.umask, session.chdir) == (None, None)
    assert _plan(session=True, umask=0o077).umask == 0o077


def test_plan_limits_in_kernel_order_with_unlimited():
    plan = _plan(limits={"nofile": (10, None), "core": (0, 0)})
    assert plan.limits == [
        ("core", resource.RLIMIT_CORE, 0, 0),
        ("nofile", resource.RLIMIT_NOFILE, 10, resource.RLIM_INFINITY),
    ]


def test_plan_no_log_turns_log_into_none():
    plan = plan_for(request("true"), session_init=False, default_console="log",
                    no_log=True, debug=False, apparmor_usable=False)
    assert plan.console == "none"


def test_fast_path_only_when_nothing_runs_in_the_child():
    assert not _plan(session=True).needs_fork()
    assert not _plan().needs_fork()
    assert not _plan(chdir="/tmp", umask=0o077).needs_fork()   # done around posix_spawn
    assert _plan(session=True, nice=5).needs_fork()
    assert _plan(session=True, setuid="nobody").needs_fork()
    assert _plan(session=True, console="owner").needs_fork()
    assert _plan(session=True, expect="fork").needs_fork()
    assert _plan(session=True, chroot="/x").needs_fork()
    assert not _plan(session=True, oom_score=0).needs_fork()


def test_security_process_skips_identity_setup():
    plan = plan_for(request("true", slot="security", nice=5, setuid="nobody"),
                    session_init=True, default_console="log", no_log=False,
                    debug=False, apparmor_usable=False)
    assert not plan.needs_fork()


def test_trace_only_for_main_and_debug_only_with_init_debug():
    pre = plan_for(request("true", slot="pre-start", expect="daemon", debug=True),
                   session_init=True, default_console="log", no_log=False,
                   debug=False, apparmor_usable=False)
    assert not pre.trace and not pre.debug
    main = plan_for(request("true", expect="daemon", debug=True), session_init=True,
                    default_console="log", no_log=False, debug=True, apparmor_usable=False)
    assert main.trace and main.debug


def test_apparmor_switch_only_for_main_and_only_when_usable():
    def plan(slot, usable):
        return plan_for(request("true", slot=slot, apparmor_switch="prof-$UPSTART_JOB"),
                        session_init=True, default_console="log", no_log=False,
                        debug=False, apparmor_usable=usable)
    assert plan("main", True).apparmor == "prof-j"
    assert plan("main", True).needs_fork()
    assert plan("main", False).apparmor is None
    assert plan("pre-start", True).apparmor is None
