"""The console-log file writer: naming, lazy open, mode, re-creation, buffering."""

import errno
import os
import stat

import pytest

from upstart.reactor.loop import Reactor
from upstart.process.joblog import BUFFER_LIMIT, JobLog, LogHub, log_path


def test_log_path_names():
    assert log_path("/l", "foo", "") == "/l/foo.log"
    assert log_path("/l", "foo/bar", "wibble") == "/l/foo_bar-wibble.log"
    assert log_path("/l", "i", "a/b") == "/l/i-a_b.log"


@pytest.fixture
def hub():
    loop = Reactor()
    notes = []
    h = LogHub(loop, notes.append)
    h.notes = notes
    yield h
    h.close_all()
    loop.close()


def _log(hub, path):
    master, slave = os.openpty()
    log = JobLog(hub, str(path), master)
    return log, slave


def test_lazy_open_mode_and_crlf(hub, tmp_path):
    path = tmp_path / "j.log"
    log, slave = _log(hub, path)
    assert not path.exists()
    os.write(slave, b"a\nb\n")
    os.close(slave)
    assert log.drain() is True           # EIO after the slave closed
    assert path.read_bytes() == b"a\r\nb\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_silent_process_creates_no_file(hub, tmp_path):
    log, slave = _log(hub, tmp_path / "q.log")
    os.close(slave)
    assert log.drain() is True
    assert not (tmp_path / "q.log").exists()


def test_deleted_file_is_recreated(hub, tmp_path):
    path = tmp_path / "r.log"
    log, slave = _log(hub, path)
    os.write(slave, b"one\n")
    assert log.drain() is False          # slave still open
    path.unlink()
    os.write(slave, b"two\n")
    os.close(slave)
    log.drain()
    assert path.read_bytes() == b"two\r\n"


def test_refuses_to_follow_symlink(hub, tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"")
    (tmp_path / "s.log").symlink_to(target)
    log, slave = _log(hub, tmp_path / "s.log")
    os.write(slave, b"x\n")
    os.close(slave)
    log.drain()
    assert target.read_bytes() == b""
    assert hub.unflushed == []        # ELOOP is not a "disk not ready" error: dropped


def test_buffer_is_bounded_and_drops_oldest(hub, tmp_path):
    log, slave = _log(hub, tmp_path / "b.log")
    os.close(slave)
    log._keep(b"a" * BUFFER_LIMIT)
    log._keep(b"bc")
    assert len(log.buffer) == BUFFER_LIMIT and log.buffer.endswith(b"abc")
    assert len([n for n in hub.notes if "dropping" in n.message]) == 1


def test_missing_directory_buffers_while_the_process_lives(hub, tmp_path):
    logdir = tmp_path / "later"
    log, slave = _log(hub, logdir / "m.log")
    os.write(slave, b"one\n")
    assert log.drain() is False
    assert bytes(log.buffer) == b"one\r\n"
    logdir.mkdir()                     # e.g. /var mounted meanwhile
    os.write(slave, b"two\n")
    os.close(slave)
    log.drain()
    assert (logdir / "m.log").read_bytes() == b"one\r\ntwo\r\n"


def test_unflushed_buffer_written_on_notify(hub, tmp_path):
    # a log whose file could not be opened (read-only disk) keeps its data
    path = tmp_path / "u.log"
    log, slave = _log(hub, path)
    log._keep(b"early\r\n")
    log.open_errno = errno.EROFS
    os.close(slave)
    log.drain()
    assert hub.unflushed == [log] and not path.exists()
    hub.notify_disk_writeable()
    assert path.read_bytes() == b"early\r\n"
    assert hub.unflushed == []


def test_readonly_directory_buffers_until_writeable(hub, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.system(f"mount -t tmpfs -o ro none {ro} 2>/dev/null") != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        log, slave = _log(hub, ro / "j.log")
        os.write(slave, b"before\n")
        os.close(slave)
        log.drain()
        assert bytes(log.buffer) == b"before\r\n"
        assert hub.unflushed == [log]
        assert os.system(f"mount -o remount,rw {ro}") == 0
        hub.notify_disk_writeable()
        assert (ro / "j.log").read_bytes() == b"before\r\n"
    finally:
        os.system(f"umount {ro}")


def test_enospc_is_discarded_with_one_warning(hub, tmp_path):
    log, slave = _log(hub, "/dev/full")      # every write fails with ENOSPC
    os.write(slave, b"x\n")
    log.drain()
    os.write(slave, b"y\n")
    os.close(slave)
    log.drain()
    assert not log.buffer and hub.unflushed == []
    assert [n.message for n in hub.notes] == ["Failed to write to log file /dev/full"]
