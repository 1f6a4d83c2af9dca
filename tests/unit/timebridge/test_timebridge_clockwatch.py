"""The clock-set watch: opens on Linux, stays quiet while nobody sets the clock."""

import select

from upstart.timebridge.clockwatch import ClockWatch


def test_quiet_until_the_clock_is_set():
    watch = ClockWatch.open()
    assert watch is not None
    try:
        readable, _, _ = select.select([watch], [], [], 0.05)
        assert readable == []
        assert watch.acknowledge() is False
        assert watch.arm() is True
    finally:
        watch.close()
