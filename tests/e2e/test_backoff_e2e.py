"""`respawn delay` seen from outside (issue #14): while a job waits between a
death and its respawn, `initctl status` keeps its first line and says when."""

from __future__ import annotations

import re

from init_harness import SessionInit


def test_status_shows_the_pending_respawn():
    jobs = {"flap": "respawn\nrespawn delay 2 8\nexec sh -c 'sleep 0.2; exit 1'\n"}
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "flap").returncode == 0

        def paused():
            out = init.initctl("status", "flap").stdout
            return out if "\trespawn" in out else None

        out = init.wait_for(paused, timeout=10)
        first, second = out.rstrip("\n").split("\n")
        assert re.fullmatch(r"flap start/[a-z-]+(, process \d+)?", first)
        assert re.fullmatch(r"\trespawn 1 in [0-2]\.\ds", second)
        # it does come back, on its own
        init.wait_for(lambda: "\trespawn" not in init.initctl("status", "flap").stdout,
                      timeout=10)
        assert init.initctl("stop", "flap").stdout == "flap stop/waiting\n"
