"""Calendar arithmetic: 5 and 6 fields, names, zones and both DST changes."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from upstart.timebridge.cron import CronError, CronRule

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def ts(*args, tz=UTC, fold=0):
    return datetime(*args, tzinfo=tz, fold=fold).timestamp()


def local(t, tz=BERLIN):
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def walk(rule, start, n):
    out, t = [], start
    for _ in range(n):
        t = rule.next_after(t)
        out.append(t)
    return out


def test_five_fields_minute_resolution():
    rule = CronRule("*/15 * * * *")
    assert walk(rule, ts(2026, 1, 1, 10, 7), 3) == [
        ts(2026, 1, 1, 10, 15), ts(2026, 1, 1, 10, 30), ts(2026, 1, 1, 10, 45)]


def test_six_fields_put_seconds_first():
    rule = CronRule("*/5 * * * * *")
    start = ts(2026, 1, 1, 10, 0, 2)
    assert walk(rule, start, 3) == [start + 3, start + 8, start + 13]
    every_second = CronRule("* * * * * *")
    assert walk(every_second, start + 0.4, 2) == [start + 1, start + 2]


def test_next_is_strictly_after():
    rule = CronRule("0 3 * * *")
    at = ts(2026, 5, 1, 3, 0)
    assert rule.next_after(at) == ts(2026, 5, 2, 3, 0)
    assert rule.next_after(at - 0.5) == at


@pytest.mark.parametrize("name,first", [
    ("@daily", (2026, 5, 2, 0, 0)), ("@midnight", (2026, 5, 2, 0, 0)),
    ("@hourly", (2026, 5, 1, 11, 0)), ("@weekly", (2026, 5, 3, 0, 0)),
    ("@monthly", (2026, 6, 1, 0, 0)), ("@yearly", (2027, 1, 1, 0, 0)),
    ("@annually", (2027, 1, 1, 0, 0)),
])
def test_names(name, first):
    assert CronRule(name).next_after(ts(2026, 5, 1, 10, 30)) == ts(*first)


def test_zone_is_local_time_of_the_rule():
    rule = CronRule("0 3 * * *", BERLIN)
    assert rule.next_after(ts(2026, 1, 10, 0, 0)) == ts(2026, 1, 10, 2, 0)   # CET = UTC+1
    assert rule.next_after(ts(2026, 7, 10, 0, 0)) == ts(2026, 7, 10, 1, 0)   # CEST = UTC+2


def test_spring_forward_runs_a_skipped_time_once_at_the_change():
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that night
    rule = CronRule("30 2 * * *", BERLIN)
    runs = walk(rule, ts(2026, 3, 28, 12, 0, tz=BERLIN), 3)
    assert [local(t) for t in runs] == [
        "2026-03-29 03:00:00 CEST", "2026-03-30 02:30:00 CEST", "2026-03-31 02:30:00 CEST"]


def test_spring_forward_wildcard_hours_lose_the_missing_hour():
    rule = CronRule("0 * * * *", BERLIN)
    runs = walk(rule, ts(2026, 3, 29, 0, 30, tz=BERLIN), 3)
    assert [local(t) for t in runs] == [
        "2026-03-29 01:00:00 CET", "2026-03-29 03:00:00 CEST", "2026-03-29 04:00:00 CEST"]
    assert runs[1] - runs[0] == 3600


def test_fall_back_fixed_time_runs_once():
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice
    rule = CronRule("30 2 * * *", BERLIN)
    assert rule.fixed_time
    runs = walk(rule, ts(2026, 10, 24, 12, 0, tz=BERLIN), 2)
    assert [local(t) for t in runs] == ["2026-10-25 02:30:00 CEST", "2026-10-26 02:30:00 CET"]


def test_fall_back_wildcard_follows_elapsed_time():
    rule = CronRule("*/30 * * * *", BERLIN)
    assert not rule.fixed_time
    runs = walk(rule, ts(2026, 10, 25, 1, 45, tz=BERLIN), 5)
    assert [b - a for a, b in zip(runs, runs[1:])] == [1800] * 4
    assert [local(t) for t in runs] == [
        "2026-10-25 02:00:00 CEST", "2026-10-25 02:30:00 CEST", "2026-10-25 02:00:00 CET",
        "2026-10-25 02:30:00 CET", "2026-10-25 03:00:00 CET"]


def test_count_between():
    rule = CronRule("0 * * * *")
    start = ts(2026, 1, 1, 0, 0)
    assert rule.count_between(start, start + 5 * 3600) == 5
    assert rule.count_between(start, start + 3599) == 0
    assert rule.count_between(start, start + 10 ** 7, cap=7) == 7


@pytest.mark.parametrize("expr", ["", "* * *", "* * * * * * *", "61 * * * *", "x * * * *",
                                  "@sometimes"])
def test_invalid(expr):
    with pytest.raises(CronError):
        CronRule(expr)
