"""utmp/wtmp as 1.13 keeps them (upstart/sysv/utmp.py): a login's entry is
closed with DEAD_PROCESS when its process exits; boot and runlevel records
for `runlevel` and `last`. Checked with the system's own `who` and `last`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from upstart.sysv import utmp


def _login(path: str, pid: int, line: bytes, user: bytes) -> None:
    e = utmp.Utmpx()
    e.ut_type = utmp.USER_PROCESS
    e.ut_pid = pid
    e.ut_line = line
    e.ut_id = line[-4:]
    e.ut_user = user
    e.ut_tv.tv_sec = 1_700_000_000
    assert utmp._utmp_write(path, e)


def test_a_login_entry_becomes_dead_process_and_who_drops_it(tmp_path):
    u, w = str(tmp_path / "utmp"), str(tmp_path / "wtmp")
    open(w, "w").close()
    _login(u, 4242, b"ttyS0", b"root")
    _login(u, 4343, b"tty1", b"alice")
    if shutil.which("who"):
        assert "root" in subprocess.run(["who", u], capture_output=True, text=True).stdout
    assert utmp.mark_dead(4242, code=0, utmp=u, wtmp=w) is True
    assert utmp.mark_dead(4242, utmp=u, wtmp=w) is False      # already dead
    assert utmp.mark_dead(9999, utmp=u, wtmp=w) is False      # no entry of that pid
    if shutil.which("who"):
        out = subprocess.run(["who", u], capture_output=True, text=True).stdout
        assert "root" not in out and "alice" in out
    # the dead record, once, in wtmp: the log-out `last` shows
    size = os.path.getsize(w)
    assert size == 384                                         # one struct utmpx
    with open(w, "rb") as f:
        rec = utmp.Utmpx.from_buffer_copy(f.read())
    assert (rec.ut_type, rec.ut_pid, rec.ut_line, rec.ut_user) == (
        utmp.DEAD_PROCESS, 4242, b"ttyS0", b"")


def test_no_utmp_file_is_no_error(tmp_path):
    assert utmp.mark_dead(1, utmp=str(tmp_path / "none"), wtmp=str(tmp_path / "w")) is False
    assert not (tmp_path / "w").exists()


@pytest.mark.skipif(not shutil.which("last"), reason="util-linux last not installed")
def test_boot_and_runlevel_records_read_by_runlevel_and_last(tmp_path):
    u, w = str(tmp_path / "utmp"), str(tmp_path / "wtmp")
    open(w, "w").close()
    assert utmp.write_runlevel("2", "N", utmp=u, wtmp=w)
    assert utmp.read_runlevel(u) == ("N", "2")
    out = subprocess.run(["last", "-x", "-f", w], capture_output=True, text=True).stdout
    assert "reboot   system boot" in out and "runlevel (to lvl 2)" in out
