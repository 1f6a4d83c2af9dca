"""init-checkconf checks the time bridge's arguments of `time` events."""

from __future__ import annotations

import os
import subprocess
import sys

CHECKCONF = os.path.join(os.path.dirname(sys.executable), "init-checkconf")


def run(tmp_path, text):
    path = tmp_path / "j.conf"
    path.write_text(text)
    return subprocess.run([CHECKCONF, "-s", str(path)], capture_output=True, text=True)


def test_bad_time_event_is_a_warning(tmp_path):
    res = run(tmp_path, "start on time EVERY=0s\nexec true\n")
    assert res.returncode == 0
    assert "syntax ok" in res.stdout
    assert "WARNING:" in res.stderr and "start on time: EVERY= must be more than zero" in res.stderr


def test_good_time_event_is_quiet(tmp_path):
    res = run(tmp_path, 'start on time CRON="*/5 * * * *"\nexec true\n')
    assert res.returncode == 0 and res.stderr == ""
