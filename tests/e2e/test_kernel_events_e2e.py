"""The events init makes from the kernel (EV-30, EV-32), against the real daemon.

* `keyboard-request`: PID 1 asks the console for SIGWINCH on Alt-Up
  (KDSIGACCEPT) and only then turns SIGWINCH into the event, as 1.13. The
  console is the machine's first virtual terminal (`/dev/tty0` bound on
  `/dev/console` in init's mount namespace) when there is one; with a console
  that is no terminal, the ioctl fails, init says so, and SIGWINCH is nothing.
* `child-subreaper-failed`: a Session Init whose prctl(PR_SET_CHILD_SUBREAPER)
  the kernel refuses (a seccomp filter, tests/support/seccomp_deny.py, as a
  confined container would) warns and emits the event; normally it does not.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys

import pytest
import seccomp_deny
from init_harness import Pid1Init, SessionInit

root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

KDGKBTYPE = 0x4B33
PR_SET_CHILD_SUBREAPER = 36


def _is_virtual_terminal(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    try:
        fcntl.ioctl(fd, KDGKBTYPE, bytearray(1))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _touch_on(event: str, path) -> str:
    return f"start on {event}\ntask\nexec touch {path}\n"


@root
@pytest.mark.skipif(not _is_virtual_terminal("/dev/tty0"), reason="no virtual terminal")
def test_sigwinch_is_keyboard_request_when_the_console_accepts_it(tmp_path):
    mark = tmp_path / "kbd"
    jobs = {"kbd": _touch_on("keyboard-request", mark)}
    with Pid1Init(jobs, args=("--no-startup-event", "--verbose"),
                  setup="mount --bind /dev/tty0 /dev/console") as init:
        assert "No keyboard-request event" not in init.kmsg()
        init.signal(signal.SIGWINCH)     # what the kernel sends on Alt-Up
        init.wait_for(mark.exists)
        assert "Handling keyboard-request event" in init.kmsg()


@root
def test_sigwinch_is_nothing_when_the_console_is_no_terminal(tmp_path):
    """The harness's console is a plain file: KDSIGACCEPT fails, init logs
    why, and SIGWINCH (sent before SIGPWR, so handled first if at all) makes
    no event: power-status-changed is handled with no keyboard-request before it."""
    mark = tmp_path / "pwr"
    jobs = {"kbd": _touch_on("keyboard-request", tmp_path / "kbd"),
            "pwr": _touch_on("power-status-changed", mark)}
    with Pid1Init(jobs, args=("--no-startup-event", "--verbose")) as init:
        assert "No keyboard-request event: the console cannot send SIGWINCH" in init.kmsg()
        init.signal(signal.SIGWINCH)
        init.signal(signal.SIGPWR)
        init.wait_for(mark.exists)
        log = init.kmsg()
        assert "Handling power-status-changed event" in log
        assert "keyboard-request event" not in log.replace("No keyboard-request event", "")
        assert init.proc.poll() is None      # SIGWINCH did not hurt PID 1
        assert not (tmp_path / "kbd").exists()


@pytest.mark.skipif(not seccomp_deny.supported(), reason="seccomp helper: unknown arch")
def test_child_subreaper_failed_when_the_kernel_refuses(tmp_path):
    mark = tmp_path / "failed"
    jobs = {"watch": _touch_on("child-subreaper-failed", mark)}

    def wrap(_tmp):
        return (sys.executable, seccomp_deny.__file__, str(PR_SET_CHILD_SUBREAPER))

    with SessionInit(jobs, wrap=wrap) as init:
        init.wait_for(mark.exists)
        assert "Unable to register as subreaper: Operation not permitted" in init.init_log()


def test_no_child_subreaper_failed_normally(tmp_path):
    """A normal Session Init emits nothing: an event emitted afterwards (and
    waited for) is handled with no child-subreaper-failed before it."""
    jobs = {"watch": _touch_on("child-subreaper-failed", tmp_path / "failed")}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        assert init.initctl("emit", "barrier").returncode == 0
        init.wait_for(lambda: "Handling barrier event" in init.init_log())
        log = init.init_log()
        assert "Unable to register as subreaper" not in log
        assert "child-subreaper-failed" not in log
        assert not (tmp_path / "failed").exists()
