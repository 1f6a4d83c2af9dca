"""`upstart-time-bridge --list` (and later `initctl list-timers`): the timers as text.

One line per schedule, sorted by schedule text:

    time CRON="0 3 * * *"  next 2026-11-23 03:00:00 +0000  last -  fired 0  start on: backup

`next` is `-` when nothing is planned (an AFTER waiting for its event, or a
COUNT used up), `fired` counts firings in this life of init (`fired 2/3`
with COUNT=3), and the jobs are listed per stanza. Pure formatting of the
planner's `Row`s; never talks to init or reads files.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from upstart.timebridge.planner import Row
from upstart.timebridge.schedule import EVENT, Leaf


def _when(ts: float | None, zone: tzinfo) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S %z")


def _quote(pair: str) -> str:
    key, value = pair.split("=", 1)
    return '%s="%s"' % (key, value) if (" " in value or not value) else pair


def render(rows: list[Row], users: dict[str, list[Leaf]], zone: tzinfo) -> str:
    lines = []
    for row in rows:
        fired = "%d/%d" % (row.fired, row.count) if row.count else "%d" % row.fired
        by_stanza: dict[str, list[str]] = {}
        for leaf in users.get(row.key, []):
            by_stanza.setdefault(leaf.stanza, []).append(leaf.job)
        jobs = "  ".join("%s: %s" % (stanza, ",".join(sorted(set(names))))
                         for stanza, names in sorted(by_stanza.items(), reverse=True))
        lines.append("%s %s  next %s  last %s  fired %s%s" % (
            EVENT, " ".join(_quote(p) for p in row.env),
            _when(row.next_wall, zone), _when(row.last_wall, zone), fired,
            ("  " + jobs) if jobs else ""))
    return "".join(line + "\n" for line in lines)

