"""The checks behind `make vm-debian` (vm/debian.py), without booting: the
parsers of the console output, the timings from init's event log, and the
disk check on real ext4 images (clean, and marked not clean)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vm import debian

LISTING = """\
cron start/running, process 316
dbus start/running, process 220
\tready
failsafe stop/waiting
network-interface (dummy0) start/running
networking start/running
rsyslog start/running, process 203
\twaiting for ready
"""


def test_initctl_list_and_status_lines_are_read():
    jobs = debian._jobs(LISTING)
    assert jobs["cron"] == jobs["dbus"] == jobs["networking"] == "start/running"
    assert jobs["failsafe"] == "stop/waiting"
    assert jobs["network-interface (dummy0)"] == "start/running"     # an instance
    assert debian._pids(LISTING) == {"cron": 316, "dbus": 220, "rsyslog": 203}


def test_timings_come_from_the_first_boot_of_the_event_log():
    boot = [{"mono": 3.1, "kind": "event-queued", "name": "startup"}]
    for i, job in enumerate(debian.SERVICES):
        boot.append({"mono": 5.0 + i, "kind": "state", "job": job, "state": "running"})
    # ssh's socket listens later than its process runs: `ready` counts
    boot.append({"mono": 12.5, "kind": "event-queued", "name": "ready",
                 "env": ["JOB=ssh", "INSTANCE="]})
    second = [{"mono": 2.0, "kind": "event-queued", "name": "startup"},
              {"mono": 99.0, "kind": "state", "job": "cron", "state": "running"}]
    assert debian.boot_timings(boot + second) == {"startup": 3.1, "services": 12.5}
    # the recorder names a `ready` event's job in its event-finished record
    # (the queued one has no env): counted too
    finished = [{"mono": 12.6, "kind": "event-finished", "name": "ready",
                 "env": ["JOB=udev", "INSTANCE="]},
                {"mono": 13.0, "kind": "event-finished", "name": "ready",
                 "env": ["JOB=dbus", "INSTANCE="]}]
    assert debian.boot_timings(boot + finished + second) == {"startup": 3.1, "services": 13.0}
    # a service that never ran: no services figure at all
    assert debian.boot_timings(boot[:3]) == {"startup": 3.1}


@pytest.mark.skipif(not shutil.which("mke2fs") or not shutil.which("debugfs"),
                    reason="e2fsprogs not installed")
def test_the_disk_check_passes_a_clean_image_and_catches_a_dirty_one(tmp_path):
    img = str(tmp_path / "disk.img")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "hello").write_text("hi\n")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(tmp_path / "root"), img,
                    "16M"], check=True)
    assert debian.fsck_problems(img) == []
    assert debian.read_file(img, "/hello") == b"hi\n"
    assert debian.read_file(img, "/missing") is None
    # what a power cut leaves: state not clean, the journal to replay
    subprocess.run(["debugfs", "-w", "-R", "ssv state 0", img], check=True,
                   capture_output=True)
    subprocess.run(["debugfs", "-w", "-R", "feature needs_recovery", img], check=True,
                   capture_output=True)
    problems = debian.fsck_problems(img)
    assert any("superblock state" in p for p in problems), problems
    assert "the journal needs recovery" in problems


def test_the_timings_line_names_every_figure():
    line = debian.timings_line({"startup": 3.0, "services": 9.25, "login": 15.0,
                                "poweroff": 2.5})
    assert line == ("upstart-py timings: kernel start -> startup 3.0 s, -> services running "
                    "9.2 s, -> login: 15.0 s; power-off 2.5 s")
    assert "-> login: ?" in debian.timings_line({})


def test_device_events_are_counted_in_the_first_boot_only():
    boot = [{"mono": 1.0, "kind": "event-queued", "name": "startup"},
            {"mono": 2.0, "kind": "event-queued", "name": "pci-device-added"},
            {"mono": 2.1, "kind": "event-finished", "name": "pci-device-added"},
            {"mono": 2.2, "kind": "event-queued", "name": "net-device-added"},
            {"mono": 2.3, "kind": "event-queued", "name": "block-device-changed"}]
    second = [{"mono": 0.5, "kind": "event-queued", "name": "tty-device-added"}]
    assert debian.device_events(boot + second) == 2
