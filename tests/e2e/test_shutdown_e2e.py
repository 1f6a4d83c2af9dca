"""`shutdown` against a real init (spec 06 §8.4, SV-05; issue #25 item 8).

Init runs as PID 1 of its own PID, network and mount namespaces (Pid1Init), so
the runlevel event shutdown emits reaches that init only: it has no rc jobs,
just one that records each runlevel event. In those namespaces /run is a fresh
tmpfs (the pid file, utmp) and /etc is an overlay whose writes land in the
test's directory: the host's /etc/nologin is never touched. A logged-in user
is a USER_PROCESS record in that utmp naming a pty the test holds, so the
warnings are read as a user's terminal receives them.

Without any Upstart init the request goes to sysvinit's FIFO, read here from a
private /dev. Two tests wait for the real minute tick (about 60 s each): the countdown has
no test-only speed knob.
"""

from __future__ import annotations

import os
import select
import sys
import time
import tty

import pytest

from init_harness import BIN, DEFAULT_PATH, Pid1Init

PY = sys.executable
TICK = 75               # one minute of the countdown, and some

# /etc as an overlay: shutdown's /etc/nologin lands in $T/etc-up; the SysV
# script directories stay hidden as the harness hides them
PRIVATE_ETC = """
mkdir -p "$T/etc-up" "$T/etc-work"
mount -t overlay overlay -o lowerdir=/etc,upperdir="$T/etc-up",workdir="$T/etc-work" /etc
for d in /etc/init.d /etc/rc0.d /etc/rc1.d /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d \\
         /etc/rc6.d /etc/rcS.d; do
    [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done
"""

LOGIN = """
import os, sys
from upstart.sysv import utmp
e = utmp.Utmpx()
e.ut_type = utmp.USER_PROCESS
e.ut_pid = os.getpid()
e.ut_line = sys.argv[1].encode()
e.ut_id = sys.argv[1][-4:].encode()
e.ut_user = b"tester"
assert utmp._utmp_write(utmp.UTMP_FILE, e)
"""


def read(path) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Terminal:
    """A pty the test holds, logged in (utmp) inside init's namespaces."""

    def __init__(self, init: Pid1Init):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)              # bytes as written: no LF to CR LF
        os.set_blocking(self.master, False)
        self.seen = b""
        line = os.ttyname(self.slave)[len("/dev/"):]
        r = init.run(PY, "-c", LOGIN, line)
        assert r.returncode == 0, r.stderr

    def text(self) -> str:
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        return self.seen.decode(errors="replace")

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def machine(tmp_path):
    out = tmp_path / "runlevels"
    job = ("start on runlevel\ntask\n"
           "exec sh -c 'echo \"$RUNLEVEL $PREVLEVEL $INIT_HALT\" >> %s'\n" % out)
    with Pid1Init(jobs={"rl": job}, setup=PRIVATE_ETC) as init:
        term = Terminal(init)
        try:
            yield init, term, out
        finally:
            term.close()


def exists(init: Pid1Init, path: str) -> bool:
    return init.run("test", "-e", path).returncode == 0


def nologin(init: Pid1Init) -> str:
    try:
        with open(os.path.join(init.tmp, "etc-up", "nologin"), newline="") as f:
            return f.read()                 # CR LF kept
    except OSError:
        return ""


def test_now_warns_users_and_emits_the_runlevel_event(machine):
    init, term, out = machine
    r = init.run("shutdown", "-P", "now", "going", "down")
    assert (r.returncode, r.stderr) == (0, "")
    init.wait_for(lambda: read(out))
    assert read(out) == "0 N POWEROFF\n"
    text = init.wait_for(lambda: "NOW!" in term.text() and term.text())
    assert "Broadcast message from root@" in text
    assert text.endswith("\r\n\r\n\rThe system is going down for power off NOW!\r\n"
                         "going down \r\n")
    assert not exists(init, "/etc/nologin") and not exists(init, "/run/shutdown.pid")
    r = init.run("shutdown", "-r", "now")
    init.wait_for(lambda: len(read(out).splitlines()) == 2)
    assert read(out).splitlines()[1] == "6 0 "               # PREVLEVEL from utmp


def test_warn_only_sends_the_warning_and_nothing_else(machine):
    init, term, out = machine
    r = init.run("shutdown", "-k", "-h", "+10", "just", "testing")
    assert (r.returncode, r.stderr) == (0, "")             # returns at once
    assert "\rThe system is going down for halt in 10 minutes!\r\njust testing \r\n" \
        in init.wait_for(term.text)
    assert read(out) == ""                                  # no runlevel event
    assert not exists(init, "/run/shutdown.pid") and not exists(init, "/etc/nologin")


def test_clock_time_counts_minutes_to_the_next_such_time(machine):
    init, term, _ = machine
    for ahead, expect in ((3, (3, 2)), (-1, (1439, 1438))):    # the minute may turn
        t = time.localtime(time.time() + ahead * 60)
        r = init.run("shutdown", "-k", "-r", "%d:%02d" % (t.tm_hour, t.tm_min))
        assert r.returncode == 0, r.stderr
        text = init.wait_for(lambda: "minutes!" in term.text() and term.text())
        assert any("for reboot in %d minutes!" % n in text for n in expect), text
        term.seen = b""


def test_usage_errors_and_nothing_to_cancel(machine):
    init, _, _ = machine
    for args, message in ((["-r"], "time expected"), (["24:00"], "illegal hour value"),
                          (["10:60"], "illegal minute value"), (["+x"], "illegal time value"),
                          (["-x", "now"], "invalid option: -x")):
        r = init.run("shutdown", *args)
        assert (r.returncode, r.stderr) == (
            1, "shutdown: %s\nTry `shutdown --help' for more information.\n" % message)
    r = init.run("shutdown", "-c")
    assert (r.returncode, r.stderr) == (1, "shutdown: Cannot find pid of running shutdown\n")
    r = init.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "shutdown", "now")
    assert (r.returncode, r.stderr) == (1, "shutdown: Need to be root\n")


def _background(init: Pid1Init, *args: str):
    import subprocess
    return subprocess.Popen(["nsenter", "-t", str(init.pid), "-n", "-m", "-p", "--",
                             "shutdown", *args], env={"PATH": "/usr/local/sbin:/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_countdown_writes_nologin_and_cancel_stops_it(machine):
    init, term, out = machine
    proc = _background(init, "-r", "+2", "kernel", "update")
    try:
        init.wait_for(lambda: "in 2 minutes!" in term.text())
        init.wait_for(lambda: exists(init, "/run/shutdown.pid"))
        r = init.run("shutdown", "-h", "+5")
        assert (r.returncode, r.stderr) == (1, "shutdown: Another shutdown is already running\n")
        # a minute later: one minute left, so /etc/nologin and a second warning
        init.wait_for(lambda: nologin(init), timeout=TICK)
        assert nologin(init) == ("\rThe system is going down for reboot in 1 minute!\r\n"
                                 "kernel update \r\n")
        init.wait_for(lambda: "in 1 minute!" in term.text())
        r = init.run("shutdown", "-c", "never", "mind")
        assert (r.returncode, r.stderr) == (0, "")
        assert proc.wait(timeout=30) == 0
        assert proc.stderr.read() == "shutdown: Shutdown cancelled\n"
        init.wait_for(lambda: "never mind \r\n" in term.text())
        assert not exists(init, "/etc/nologin") and not exists(init, "/run/shutdown.pid")
        assert read(out) == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_countdown_reaches_zero_and_shuts_down(machine):
    init, term, out = machine
    proc = _background(init, "-H", "+1")
    try:
        init.wait_for(lambda: "halt in 1 minute!" in term.text())
        init.wait_for(lambda: read(out), timeout=TICK)
        assert read(out) == "0 N HALT\n"
        assert proc.wait(timeout=30) == 0
        assert "The system is going down for halt NOW!" in init.wait_for(term.text)
        assert not exists(init, "/etc/nologin") and not exists(init, "/run/shutdown.pid")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


SYSVINIT = """
set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /dev
mknod -m 666 /dev/null c 1 3
mkfifo /dev/initctl
exec 3<>/dev/initctl                    # a reader before shutdown writes
head -c 384 <&3 > "$OUT" &
"$SHUTDOWN" -r now
wait
"""


def test_without_upstart_the_request_goes_to_sysvinit_fifo(tmp_path):
    """No init answers on the private socket (a fresh network namespace): the
    request goes to sysvinit's /dev/initctl (a FIFO of our own in a private /dev)."""
    import struct
    import subprocess
    out = tmp_path / "request"
    r = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "sh", "-c", SYSVINIT],
                       env={"PATH": DEFAULT_PATH, "OUT": str(out),
                            "SHUTDOWN": os.path.join(BIN, "shutdown")},
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    magic, cmd, level, sleeptime = struct.unpack("iiii", out.read_bytes()[:16])
    assert (hex(magic), cmd, chr(level), sleeptime, out.stat().st_size) == \
        ("0x3091969", 1, "6", 5, 384)
