"""Idle means asleep (issue #23 item 6): voluntary context switches of an idle
Session Init over 20 s (a few jobs running, nothing happening), with its log
directory and without one. C Upstart 1.13 in the same setting: 0.

    .venv/bin/python bench/idle.py [--window 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from common import emit, error
from idle import JOBS, idle_wakeups
from init_harness import SessionInit

OURS = "upstart-py"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=20.0)
    window = ap.parse_args().window
    for logdir in ("present", "missing"):
        args = ("--no-startup-event",)
        tmp = tempfile.mkdtemp(prefix="upstart-idle-")
        if logdir == "missing":
            args += ("--logdir", os.path.join(tmp, "not-yet", "upstart"))
        try:
            with SessionInit(JOBS, args=args) as init:
                emit("m", f"idle_wakeups_logdir_{logdir}", OURS, idle_wakeups(init, window),
                     f"wake-ups in {window:g} s")
        except Exception as exc:     # a bench reports, it does not fail
            error("m", f"idle_wakeups_logdir_{logdir}", OURS, exc)


if __name__ == "__main__":
    main()
