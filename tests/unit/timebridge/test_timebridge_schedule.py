"""The `time` grammar: durations, leaf parsing, validation texts, RPN leaves,
glob escapes and cross-firing between schedules."""

import pytest

from upstart.jobfile.match import match_args
from upstart.timebridge import validate_time_match
from upstart.timebridge.durations import DurationError, format_duration, parse_duration
from upstart.timebridge.schedule import (Leaf, ScheduleError, crossfire, parse_time_match,
                                         time_leaves, unglob)


@pytest.mark.parametrize("text,seconds", [
    ("30s", 30), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("1w", 604800),
    ("90", 90), ("1.5s", 1.5), ("250ms", 0.25), ("1m30s500ms", 90.5),
])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10x", "1h 30m", "-5s", "m5"])
def test_durations_reject(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_durations_format_round_trips():
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"
    assert format_duration(0) == "0s"
    for text in ("1d2h3m4s", "45s", "1h"):
        assert format_duration(parse_duration(text)) == text


def test_cron_leaf():
    s = parse_time_match(["CRON=*/5 * * * * *"])
    assert (s.kind, s.cron, s.env) == ("cron", "*/5 * * * * *", ("CRON=*/5 * * * * *",))
    assert s.catchup and s.count is None and s.spread == 0


def test_env_is_canonical_order_whatever_the_job_wrote():
    a = parse_time_match(["COUNT=3", "SPREAD=10s", "EVERY=30s"])
    b = parse_time_match(["EVERY=30s", "COUNT=3", "SPREAD=10s"])
    assert a.env == b.env == ("EVERY=30s", "COUNT=3", "SPREAD=10s")
    assert a.key == b.key
    assert (a.every, a.count, a.spread) == (30, 3, 10)


def test_after_leaf_with_reference_args():
    s = parse_time_match(["AFTER=stopped foo RESULT=ok", "DELAY=1m"])
    assert s.after == ("stopped", ("foo", "RESULT=ok"))
    assert s.delay == 60
    assert s.matches_reference("stopped", ["JOB=foo", "INSTANCE=", "RESULT=ok"])
    assert not s.matches_reference("stopped", ["JOB=foo", "INSTANCE=", "RESULT=failed"])
    assert not s.matches_reference("started", ["JOB=foo", "INSTANCE="])


def test_after_defaults_to_no_delay_and_quoted_reference():
    s = parse_time_match(["AFTER=startup"])
    assert (s.after, s.delay) == (("startup", ()), 0)
    s = parse_time_match(["AFTER=file FILE='/a b'"])
    assert s.after == ("file", ("FILE=/a b",))


def test_glob_escapes_give_a_literal_value():
    assert unglob("0 3 [*] [*] [*]") == "0 3 * * *"
    assert unglob(r"\*/5 \* x") == "*/5 * x"
    assert unglob("[!x] [ab]") == "[!x] [ab]"
    s = parse_time_match(["CRON=0 3 [*] [*] [*]"])
    assert s.env == ("CRON=0 3 * * *",)
    # the emitted value matches the job's own (escaped) pattern ...
    assert match_args("time", ("CRON=0 3 [*] [*] [*]",), "time", s.env)
    # ... and the escaped pattern matches no other schedule text
    assert not match_args("time", ("CRON=0 3 [*] [*] [*]",), "time", ("CRON=0 3 1 * *",))


@pytest.mark.parametrize("args,error", [
    (["foo"], "time condition needs KEY=VALUE arguments: foo"),
    (["CRON!=* * * * *"], "time condition does not accept negation: CRON!=* * * * *"),
    (["WHEN=now"], "unknown time condition key: WHEN"),
    (["EVERY=1s", "EVERY=2s"], "time condition key given twice: EVERY"),
    ([], "time condition needs exactly one of CRON=, EVERY=, AFTER="),
    (["EVERY=1s", "CRON=* * * * *"], "time condition needs exactly one of CRON=, EVERY=, AFTER="),
    (["EVERY=$X"], "variables are not expanded in time conditions: EVERY=$X"),
    (["EVERY=0"], "EVERY= must be more than zero"),
    (["EVERY=soon"], "invalid duration: soon"),
    (["EVERY=1s", "TZ=UTC"], "TZ= only applies to CRON="),
    (["EVERY=1s", "DELAY=1s"], "DELAY= only applies to AFTER="),
    (["AFTER=x", "CATCHUP=no"], "CATCHUP= does not apply to AFTER="),
    (["AFTER= "], "AFTER= needs an event name:  "),
    (["EVERY=1s", "COUNT=0"], "COUNT= must be a positive integer: 0"),
    (["EVERY=1s", "COUNT=x"], "COUNT= must be a positive integer: x"),
    (["EVERY=1s", "CATCHUP=maybe"], "CATCHUP= must be yes or no"),
    (["CRON=1 2 3"], "cron expression needs 5 or 6 fields: 1 2 3"),
    (["CRON=@daily", "TZ=Nowhere/Atlantis"], None),
    (["CRON=[a-z] * * * *"], "time condition value must be literal text: CRON=[a-z] * * * *"),
])
def test_validation_messages(args, error):
    got = validate_time_match(args)
    if error is None:
        assert got is not None and got.startswith("unknown time zone Nowhere/Atlantis")
    else:
        assert got == error


def test_bad_cron_field_is_reported():
    assert validate_time_match(["CRON=61 * * * *"]).startswith("invalid cron expression")
    with pytest.raises(ScheduleError):
        parse_time_match(["CRON=* * * * * * *"])


@pytest.mark.parametrize("args", [
    ["CRON=0 3 * * *"], ["CRON=@daily", "TZ=Europe/Berlin"], ["CRON=*/10 * * * * *"],
    ["EVERY=5m", "COUNT=3"], ["EVERY=1h", "SPREAD=10m", "CATCHUP=no"],
    ["AFTER=startup", "DELAY=15m"], ["AFTER=started foo", "DELAY=30s", "COUNT=1"],
])
def test_valid_leaves(args):
    assert validate_time_match(args) is None


def test_time_leaves_from_rpn():
    start_on = [["time", "CRON=0 3 * * *"], ["started", "x"], ["/AND"]]
    stop_on = [["time", "EVERY=1h"], ["stopping", "y"], ["/OR"]]
    assert time_leaves("job", start_on, stop_on) == [
        Leaf("job", "start on", ("CRON=0 3 * * *",)), Leaf("job", "stop on", ("EVERY=1h",))]
    assert time_leaves("job", [], [["timer"]]) == []


def test_crossfire_finds_leaves_that_a_schedule_also_triggers():
    every_min = Leaf("a", "start on", ("CRON=* * * * *",))
    daily = Leaf("b", "start on", ("CRON=0 3 * * *",))
    strict = Leaf("c", "start on", ("CRON=[*] [*] [*] [*] [*]",))
    interval = Leaf("d", "start on", ("EVERY=30s",))
    capped = Leaf("e", "start on", ("EVERY=30s", "COUNT=3"))
    leaves = [every_min, daily, strict, interval, capped]
    # "* * * * *" as a glob matches the daily text: job a fires at 03:00 twice
    assert crossfire(parse_time_match(daily.args), leaves) == [every_min]
    # the strict and the lax every-minute leaves are the same schedule
    assert crossfire(parse_time_match(strict.args), leaves) == []
    # the capped schedule's events also match the uncapped leaf
    assert crossfire(parse_time_match(capped.args), leaves) == [interval]
    assert crossfire(parse_time_match(interval.args), leaves) == []
