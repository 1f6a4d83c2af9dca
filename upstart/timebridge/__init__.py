"""upstart-time-bridge: cron-like and delayed `time` events for init (roadmap 07 §5).

A separate process (never inside init) that reads the `time` leaves of every
job's `start on`/`stop on`, decides when each schedule is due and emits a
`time` event whose environment repeats the leaf's own `KEY=VALUE` arguments,
so that plain event matching starts or stops the job. See
docs/design/timebridge.md for the grammar and the clock rules.

Layout: `durations` and `schedule` (grammar, pure), `cron` (calendar
arithmetic, pure), `planner` (what fires when, pure, injected clocks),
`state` (the catch-up file), `host` (boot and init identity from /proc),
`link` (D-Bus to init), `listing` (`--list`), `bridge` (the glue, run on the
project's reactor), `main` (options and the real clocks).
"""

from upstart.timebridge.schedule import validate_time_match

__all__ = ["validate_time_match"]
