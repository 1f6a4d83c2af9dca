"""PID 1's /dev and console (DM-03), as 1.13 leaves them, against the real daemon.

Init runs as PID 1 in its own mount namespace (init_harness.Pid1Init) whose
/dev the test replaces before init starts (the harness's `setup`):

* an empty /dev (a bare tmpfs): init mounts devtmpfs on it and devpts on
  /dev/pts;
* a /dev with /dev/ptmx and /dev/pts but nothing else: no devtmpfs (1.13 mounts
  it only when one of those two is missing), devpts mounted, and /dev/null,
  /dev/tty, /dev/console and /dev/kmsg made with 1.13's numbers and modes;
* a console left raw (a pty bound on /dev/console): init resets its line
  settings to sane ones.
"""

from __future__ import annotations

import os
import termios
import tty

import pytest
from init_harness import Pid1Init

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def _mounts(init) -> dict[str, str]:
    """Mount point -> filesystem type, in init's mount namespace (last mount wins)."""
    out = init.run("cat", "/proc/1/mountinfo").stdout
    mounts = {}
    for line in out.splitlines():
        fields = line.split()
        sep = fields.index("-")
        mounts[fields[4]] = fields[sep + 1]
    return mounts


def _node(init, path: str) -> tuple[str, int, int, str]:
    """(type, major, minor, octal mode) of `path` in init's mount namespace."""
    out = init.run("stat", "-c", "%F %t %T %a", path).stdout.split()
    assert out, f"{path} missing"
    kind = " ".join(out[:-3])
    return kind, int(out[-3], 16), int(out[-2], 16), out[-1]


def test_an_empty_dev_gets_devtmpfs_and_devpts():
    with Pid1Init(setup="mount -t tmpfs tmpfs /dev") as init:
        mounts = _mounts(init)
        assert mounts["/dev"] == "devtmpfs"
        assert mounts["/dev/pts"] == "devpts"
        assert _node(init, "/dev/null")[:3] == ("character special file", 1, 3)
        assert _node(init, "/dev/ptmx")[:3] == ("character special file", 5, 2)


def test_missing_nodes_are_made_without_mounting_devtmpfs():
    setup = "mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/ptmx c 5 2 && mkdir /dev/pts"
    with Pid1Init(setup=setup) as init:
        mounts = _mounts(init)
        assert mounts["/dev"] == "tmpfs"          # ptmx and pts were there: no devtmpfs
        assert mounts["/dev/pts"] == "devpts"
        assert _node(init, "/dev/null") == ("character special file", 1, 3, "666")
        assert _node(init, "/dev/tty") == ("character special file", 5, 0, "666")
        assert _node(init, "/dev/console") == ("character special file", 5, 1, "600")
        assert _node(init, "/dev/kmsg") == ("character special file", 1, 11, "600")


def test_the_console_terminal_is_reset_to_sane_settings():
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        raw = termios.tcgetattr(slave)
        assert not raw[3] & (termios.ICANON | termios.ECHO)
        setup = (f"touch $T/tty && mount --bind {os.ttyname(slave)} $T/tty && "
                 "mount -t tmpfs tmpfs /dev && mknod /dev/ptmx c 5 2 && mkdir /dev/pts && "
                 "touch /dev/console && mount --bind $T/tty /dev/console")
        with Pid1Init(setup=setup):
            iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(slave)
            assert lflag & termios.ICANON and lflag & termios.ECHO and lflag & termios.ISIG
            assert iflag & termios.ICRNL and oflag & termios.OPOST and oflag & termios.ONLCR
            assert cflag & termios.CREAD and cflag & termios.CLOCAL
            assert cc[termios.VINTR] == b"\x03" and cc[termios.VEOF] == b"\x04"
    finally:
        os.close(master)
        os.close(slave)
