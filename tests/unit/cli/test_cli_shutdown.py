"""shutdown's pure parts against 1.13's rules (spec 06 §8.4): arguments, TIME,
the banner, the warning schedule. The running program is tested against a real
init in tests/e2e/test_shutdown_e2e.py."""

from __future__ import annotations

import pytest

from upstart.cli.shutdown import Request, Usage, banner, parse_args, parse_time, warning, \
    warns_at


@pytest.mark.parametrize("args,level,halt", [
    (["now"], "1", None), (["-r", "now"], "6", None), (["-h", "now"], "0", None),
    (["-H", "now"], "0", "HALT"), (["-P", "now"], "0", "POWEROFF"),
    (["-hP", "now"], "0", "POWEROFF"), (["-P", "-r", "now"], "6", None),   # last wins
    (["-a", "-n", "-f", "-F", "-y", "-i", "3", "-t5", "-r", "now"], "6", None),
])
def test_targets_and_ignored_options(args, level, halt):
    req = parse_args(args)
    assert (req.level, req.halt, req.when) == (level, halt, "now")


def test_message_words_each_followed_by_a_space_then_crlf():
    assert parse_args(["-r", "+5", "new", "kernel"]).message == "new kernel \r\n"
    assert parse_args(["now"]).message == ""
    assert parse_args(["-g", "+3", "hi"]) == Request(when="+3", message="hi \r\n")
    assert parse_args(["-c", "sorry"]) == Request(cancel=True, message="sorry \r\n")


@pytest.mark.parametrize("args,message", [
    ([], "time expected"), (["-r"], "time expected"), (["-x", "now"], "invalid option: -x"),
    (["-g"], "missing argument: -g")])
def test_usage_errors(args, message):
    with pytest.raises(Usage, match=message):
        parse_args(args)


@pytest.mark.parametrize("when,delay", [
    ("now", 0), ("0", 0), ("5", 5), ("+5", 5), (" +7", 7), ("12:30", 0), ("12:45", 15),
    ("13:00", 30), ("12:29", 1439), ("0:00", 690), (":40", None), ("11:30", 1380)])
def test_time_forms(when, delay):
    if delay is None:                       # strtoul reads no hour: hour 0
        assert parse_time(when, 12, 30) == 40 - 750 + 1440
    else:
        assert parse_time(when, 12, 30) == delay


@pytest.mark.parametrize("when,message", [
    ("24:00", "illegal hour value"), ("-1:00", "illegal hour value"),
    ("x:00", "illegal hour value"), ("10:60", "illegal minute value"),
    ("10:5x", "illegal minute value"), ("+x", "illegal time value"),
    ("-5", "illegal time value"), ("5m", "illegal time value")])
def test_time_errors(when, message):
    with pytest.raises(Usage, match=message):
        parse_time(when, 12, 30)


def test_banners():
    assert banner("6", None, 2) == "The system is going down for reboot in 2 minutes!"
    assert banner("6", None, 1) == "The system is going down for reboot in 1 minute!"
    assert banner("0", None, 0) == "The system is going down for halt NOW!"
    assert banner("0", "HALT", 3) == "The system is going down for halt in 3 minutes!"
    assert banner("0", "POWEROFF", 0) == "The system is going down for power off NOW!"
    assert banner("1", None, 10) == "The system is going down for maintenance in 10 minutes!"
    assert warning(Request(level="6", message="bye \r\n"), 0) == \
        "\rThe system is going down for reboot NOW!\r\nbye \r\n"


def test_warning_schedule():
    due = [d for d in range(300, -1, -1) if warns_at(d)]
    assert due == [300, 240, 180, 150, 120, 90, 60, 45, 30, 15,
                   9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
