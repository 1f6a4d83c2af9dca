"""A private dbus-daemon for readiness tests, and a client that claims names.

`PrivateBus` starts `dbus-daemon --session` on a socket in a temporary
directory and kills it on close; `claim(address, name)` connects, says
Hello and RequestName, and returns the open connection (closing it gives
the name up).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from upstart.control.client import connect


class PrivateBus:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="upstart-bus-")
        self.address = f"unix:path={self.tmp}/bus"
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
             f"--address={self.address}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("dbus-daemon did not start")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def claim(address: str, name: str):
    conn = connect(address, bus=True)
    reply = conn.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su",
                      (name, 4), destination="org.freedesktop.DBus")
    assert reply[0] == 1, reply          # primary owner
    return conn


def have_dbus() -> bool:
    return shutil.which("dbus-daemon") is not None and os.path.exists(
        "/usr/share/dbus-1/session.conf")
