"""init's command line (spec 05 §1): both value forms, unknown options ignored."""

from __future__ import annotations

import pytest

from upstart.daemon.options import OptionError, parse_options


def test_defaults():
    o = parse_options([])
    assert (o.startup_event, o.priority, o.default_console, o.user) == \
        ("startup", "message", "log", False)


def test_values_in_both_forms_and_repeatable_confdirs():
    o = parse_options(["--confdir", "/a", "--confdir=/b", "--logdir=/l",
                       "--append-confdir", "/z", "--prepend-confdir=/p",
                       "--startup-event=my-boot", "--state-fd", "7"])
    assert o.confdirs == ["/a", "/b"] and o.append_confdirs == ["/z"]
    assert o.prepend_confdirs == ["/p"] and o.logdir == "/l"
    assert o.startup_event == "my-boot" and o.state_fd == 7


@pytest.mark.parametrize("flag,attr,value", [
    ("--user", "user", True), ("--no-startup-event", "startup_event", None),
    ("--no-dbus", "no_dbus", True), ("--no-inherit-env", "no_inherit_env", True),
    ("-v", "priority", "info"), ("--quiet", "priority", "error"),
    ("--restart", "restart", True), ("--no-log", "no_log", True),
])
def test_flags(flag, attr, value):
    assert getattr(parse_options([flag]), attr) == value


def test_debug_enables_the_stanza_and_lowers_the_priority():
    o = parse_options(["--debug"])
    assert o.debug and o.priority == "debug"


def test_unknown_options_are_ignored_as_on_a_kernel_command_line():
    o = parse_options(["splash", "--frobnicate", "ro", "--user"])
    assert o.user and o.ignored == ["splash", "--frobnicate", "ro"]


def test_bad_console_and_missing_value_are_errors():
    with pytest.raises(OptionError, match="invalid console type specified: bogus"):
        parse_options(["--default-console=bogus"])
    with pytest.raises(OptionError, match="missing argument: --confdir"):
        parse_options(["--confdir"])
