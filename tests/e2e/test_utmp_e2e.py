"""utmp and wtmp against a real PID-1 init: job processes (spec 03 §5, LC-27),
runlevel records (06 §8.1, SV-02), init outside PID 1 (05 §1, DM-02).

When a job's process ends, init marks its login records DEAD_PROCESS in utmp
and appends them to wtmp, as a getty job needs. Init runs in its own
namespaces with a fresh /run/utmp and /var/log/wtmp (Pid1Init).
"""

from __future__ import annotations

import os
import sys

from init_harness import BIN, Pid1Init

PY = sys.executable

LOGIN = """
import os, sys, time
from upstart.sysv import utmp
e = utmp.Utmpx()
e.ut_type = utmp.USER_PROCESS
e.ut_pid = os.getpid()
e.ut_line = b"tty9"
e.ut_id = b"9"
e.ut_user = b"tester"
utmp._utmp_write(utmp.UTMP_FILE, e)
open(sys.argv[1], "w").write("in")
time.sleep(100000)
"""

RECORDS = """
import ctypes, sys
from upstart.sysv import utmp
for path in (utmp.UTMP_FILE, utmp.WTMP_FILE):
    utmp._libc.getutxent.restype = ctypes.POINTER(utmp.Utmpx)
    utmp._libc.utmpxname(path.encode())
    utmp._libc.setutxent()
    while True:
        e = utmp._libc.getutxent()
        if not e:
            break
        e = e.contents
        if e.ut_line == b"tty9":
            print(path, e.ut_type, e.ut_pid, e.ut_user.decode())
    utmp._libc.endutxent()
"""


def test_a_job_process_that_ends_has_its_login_record_marked_dead(tmp_path):
    flag = tmp_path / "logged-in"
    (tmp_path / "login.py").write_text(LOGIN)
    job = "exec %s %s %s\n" % (PY, tmp_path / "login.py", flag)
    with Pid1Init(jobs={"getty": job}) as init:
        r = init.run("initctl", "start", "getty")
        pid = int(r.stdout.split()[-1])
        init.wait_for(flag.exists)
        assert init.run(PY, "-c", RECORDS).stdout == "/var/run/utmp 7 %d tester\n" % pid
        assert init.run("initctl", "stop", "getty").returncode == 0
        out = init.wait_for(lambda: "wtmp" in (o := init.run(PY, "-c", RECORDS).stdout) and o)
        assert out == "/var/run/utmp 8 %d \n/var/log/wtmp 8 %d \n" % (pid, pid)


def test_init_not_pid_1_runs_telinit_and_runlevel_records_reach_utmp_and_wtmp(tmp_path):
    """DM-02 (05 §1): `init 3` run by root outside PID 1 is telinit; as another
    user it refuses. SV-02 (06 §8.1): the runlevel change is a RUN_LVL record in
    utmp (what `runlevel` reads) and, after a BOOT_TIME record, in wtmp."""
    out = tmp_path / "runlevels"
    job = "start on runlevel\ntask\nexec sh -c 'echo \"$RUNLEVEL $PREVLEVEL\" >> %s'\n" % out
    with Pid1Init(jobs={"rl": job}) as init:
        r = init.run(os.path.join(BIN, "init"), "3")
        assert (r.returncode, r.stderr) == (0, "")
        init.wait_for(out.exists)
        assert out.read_text() == "3 N\n"
        assert init.run("runlevel").stdout == "N 3\n"
        kinds = init.run(PY, "-c", TYPES).stdout.split()
        assert kinds == ["2", "1"]                      # BOOT_TIME, then RUN_LVL
        r = init.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                     os.path.join(BIN, "init"), "5")
        assert (r.returncode, r.stderr) == (1, "init: Need to be root\n")


TYPES = """
import ctypes
from upstart.sysv import utmp
utmp._libc.getutxent.restype = ctypes.POINTER(utmp.Utmpx)
utmp._libc.utmpxname(utmp.WTMP_FILE.encode())
utmp._libc.setutxent()
while True:
    e = utmp._libc.getutxent()
    if not e:
        break
    print(e.contents.ut_type)
utmp._libc.endutxent()
"""
