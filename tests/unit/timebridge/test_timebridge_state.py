"""State file round trip, damaged files, locations; host facts from a fake /proc."""

import json
import os
from datetime import timezone

from upstart.timebridge import host
from upstart.timebridge import state as state_file
from upstart.timebridge.state import State


def test_round_trip(tmp_path):
    path = str(tmp_path / "sub" / "timebridge.state")
    entries = {"CRON=0 3 * * *": {"kind": "cron", "cursor": 1.5, "due": None, "last": 1.0,
                                  "fired": 2}}
    state_file.save(path, State("boot-1", "boot-1/1:8", entries))
    got = state_file.load(path)
    assert (got.boot, got.init, got.schedules) == ("boot-1", "boot-1/1:8", entries)
    assert os.listdir(tmp_path / "sub") == ["timebridge.state"]     # no temporary left


def test_missing_damaged_or_foreign_files_are_an_empty_state(tmp_path):
    assert state_file.load(str(tmp_path / "none")) == State()
    bad = tmp_path / "bad"
    bad.write_text("{not json")
    assert state_file.load(str(bad)) == State()
    other = tmp_path / "other"
    other.write_text(json.dumps({"version": 99, "schedules": {"x": {}}}))
    assert state_file.load(str(other)) == State()
    odd = tmp_path / "odd"
    odd.write_text(json.dumps({"version": 1, "schedules": {"x": 3, "y": {"fired": 1}}}))
    assert state_file.load(str(odd)).schedules == {"y": {"fired": 1}}


def test_default_paths():
    assert state_file.default_path(False) == "/var/lib/upstart/timebridge.state"
    assert state_file.default_path(True, {"XDG_STATE_HOME": "/x", "HOME": "/h"}) == \
        "/x/upstart/timebridge.state"
    assert state_file.default_path(True, {"HOME": "/h"}) == \
        "/h/.local/state/upstart/timebridge.state"


def test_init_pid_from_the_address():
    assert host.init_pid("unix:abstract=/com/ubuntu/upstart-session/1000/4242") == 4242
    assert host.init_pid("unix:abstract=/com/ubuntu/upstart") == 1
    assert host.init_pid(None) == 1


def test_init_identity_from_proc(tmp_path):
    (tmp_path / "77").mkdir()
    # comm may hold spaces and parentheses; field 22 is the start time
    fields = ["S"] + [str(n) for n in range(4, 22)] + ["12345", "0"]
    (tmp_path / "77" / "stat").write_text("77 (my (init) x) " + " ".join(fields) + "\n")
    ident, started = host.init_identity(77, proc=str(tmp_path))
    assert ident == "77:12345"
    assert started == 12345 / os.sysconf("SC_CLK_TCK")
    assert host.init_identity(78, proc=str(tmp_path)) == ("78:?", None)


def test_real_init_started_before_now():
    ident, started = host.init_identity(os.getpid())
    assert ident.startswith("%d:" % os.getpid())
    assert 0 <= started <= host.boottime() + 0.5


def test_boot_id_and_zone(tmp_path):
    kernel = tmp_path / "sys" / "kernel" / "random"
    kernel.mkdir(parents=True)
    (kernel / "boot_id").write_text("abc-123\n")
    assert host.boot_id(str(tmp_path)) == "abc-123"
    assert host.boot_id(str(tmp_path / "nothing")) == ""
    assert str(host.local_zone({"TZ": "Europe/Berlin"})) == "Europe/Berlin"
    assert str(host.local_zone({"TZ": ":Asia/Tokyo"})) == "Asia/Tokyo"
    assert host.local_zone({"TZ": "Not/AZone"}) == timezone.utc
