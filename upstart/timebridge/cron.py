"""Calendar rules: when a cron expression next matches, in a given time zone.

A `CronRule` wraps croniter and fixes the rules cron(8) users expect:

* 5 fields (`min hour dom mon dow`) or 6 fields with **seconds first**
  (`sec min hour dom mon dow`), or a name: `@yearly` `@annually` `@monthly`
  `@weekly` `@daily` `@midnight` `@hourly`.
* Times are local to the rule's zone. Spring forward: a time inside the
  skipped hour runs once, at the change (02:30 -> 03:00). Fall back: a rule
  with a fixed minute and hour (no `*` in either) runs once, in the first
  pass of the repeated hour; a rule with `*` in the minute or hour follows
  elapsed time and runs in both passes (as ISC cron does).

Pure: instants in, instants out (POSIX seconds); never reads a clock.
croniter is imported on first use so that merely validating a job stays cheap.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

NAMES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """Not a usable cron expression."""


class CronRule:
    """One cron expression in one zone."""

    def __init__(self, expr: str, zone: tzinfo | None = None):
        text = " ".join(expr.split())
        text = NAMES.get(text.lower(), text)
        fields = text.split(" ")
        if len(fields) not in (5, 6):
            raise CronError("cron expression needs 5 or 6 fields: %s" % expr)
        self.expr = expr
        self.text = text
        self.seconds = len(fields) == 6
        minute, hour = (fields[1], fields[2]) if self.seconds else (fields[0], fields[1])
        self.fixed_time = "*" not in minute and "*" not in hour
        self.zone = zone or timezone.utc
        try:
            self._iter(0.0).get_next(float)
        except Exception as exc:  # croniter's own exception classes
            raise CronError("invalid cron expression %s: %s" % (expr, exc)) from None

    def _iter(self, ts: float):
        from croniter import croniter
        start = datetime.fromtimestamp(ts, self.zone)
        return croniter(self.text, start, second_at_beginning=self.seconds)

    def _second_pass(self, when: datetime) -> bool:
        """Is `when` the repeat of a local time that already occurred (fall back)?"""
        first = when.replace(tzinfo=None).replace(tzinfo=self.zone, fold=0)
        return first.timestamp() < when.timestamp()

    def next_after(self, ts: float) -> float:
        """The first matching instant strictly after `ts`."""
        it = self._iter(ts)
        for _ in range(1000):
            when = it.get_next(datetime)
            if when.timestamp() <= ts:
                continue
            if self.fixed_time and self._second_pass(when):
                continue
            return when.timestamp()
        raise CronError("no next time for %s" % self.expr)

    def count_between(self, start: float, end: float, cap: int = 1000) -> int:
        """How many instants fall in (start, end], counting at most `cap`."""
        n, t = 0, start
        while n < cap:
            t = self.next_after(t)
            if t > end:
                break
            n += 1
        return n
