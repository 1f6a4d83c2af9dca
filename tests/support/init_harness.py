"""Start our real `init` for end-to-end tests, and always clean up.

* `SessionInit`: `init --user` with its own XDG_RUNTIME_DIR, HOME and confdir;
  commands run with `UPSTART_SESSION` pointing at it.
* `Pid1Init`: init as PID 1 of new PID, network and mount namespaces
  (`unshare --net --mount --pid --fork --mount-proc`), so the system socket
  `unix:abstract=/com/ubuntu/upstart` is private to the test. Inside, /run is
  a fresh tmpfs (empty utmp), so are /var/lib and /var/log (wtmp), /dev/kmsg
  is a file the test reads as init's log, our tools are bind-mounted on /usr/local/sbin (the jobs' PATH), and
  the host's SysV scripts are hidden. Commands enter its network and mount
  namespaces with nsenter.

Both kill everything they started on `close()` (context managers), and both
answer `status(job)` (initctl's whole answer), `state(job)` (its first line:
"job goal/state[, process N]"), `main_pid(job)`, `running(job)`, `ok(*args)` (an
initctl command that must succeed) and `wait_for(predicate)`
(tests/support/waiting.py, failing with init's log).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from waiting import wait_for

BIN = os.path.dirname(os.path.abspath(sys.executable))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOOLS = ("initctl", "start", "stop", "restart", "reload", "status", "telinit", "runlevel",
         "shutdown", "reboot", "halt", "poweroff", "upstart-rc", "init-checkconf",
         "upstart-time-bridge", "upstart-udev-bridge", "upstart-file-bridge",
         "upstart-socket-bridge", "upstart-dbus-bridge", "upstart-event-bridge",
         "upstart-local-bridge", "upstart-dconf-bridge", "upstart-user-session")


def write_jobs(confdir: str, jobs: dict[str, str]) -> None:
    for name, text in jobs.items():
        path = os.path.join(confdir, name if name.endswith(".override") else name + ".conf")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def kill_family(proc) -> None:
    """SIGKILL a still-running `subprocess.Popen` and every descendant it had
    (they are collected first: once it is gone they are reparented)."""
    if proc is None or proc.poll() is not None:
        return
    family = descendants(proc.pid)
    proc.kill()
    proc.wait()
    for p in family:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (from /proc/*/task/*/children)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def request_restart(address: str) -> None:
    """`Restart` over D-Bus: as 1.13, init re-execs at once and never replies (the
    caller sees its connection close)."""
    from upstart.control import client

    with client.connect(address) as conn:
        try:
            conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "Restart")
        except client.CallError as exc:
            if exc.name != "org.freedesktop.DBus.Error.NoReply":
                raise


class _Init:
    """What both kinds of init answer; a subclass gives `initctl` and `log_text`."""

    def initctl(self, *args: str, **kw) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def log_text(self) -> str:
        raise NotImplementedError

    def status(self, job: str, *args: str) -> str:
        """`initctl status job ...` as printed (stripped); it must succeed."""
        out = self.initctl("status", job, *args)
        assert out.returncode == 0, f"initctl status {job}: {out.stderr}"
        return out.stdout.strip()

    def state(self, job: str, *args: str) -> str:
        """The first line of `status`: `job goal/state[, process N]`."""
        return self.status(job, *args).splitlines()[0]

    def main_pid(self, job: str, running: bool = True) -> int | None:
        """The job's main pid while it is `start/running` (with `running=False`,
        in whatever state shows a process), else None."""
        out = self.initctl("status", job)
        first = out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else ""
        m = re.search(r" (start/running|\S+), process (\d+)$", first)
        if m is None or (running and m.group(1) != "start/running"):
            return None
        return int(m.group(2))

    def running(self, job: str) -> bool:
        return self.main_pid(job) is not None

    def ok(self, *args: str) -> str:
        """`initctl ARGS...`, which must succeed; its output."""
        p = self.initctl(*args)
        assert p.returncode == 0, (args, p.stdout, p.stderr, self.log_text())
        return p.stdout

    def wait_for(self, predicate, timeout: float = 10, interval: float = 0.05):
        return wait_for(predicate, timeout, interval, self.log_text)


class SessionInit(_Init):
    """`wrap(tmp)`, when given, is a command line put before init's (which it must
    exec), e.g. the upgrade tests' stand-in for Upstart 1.13 (upgrade_exec.py)."""

    def __init__(self, jobs: dict[str, str] | None = None, args: tuple[str, ...] | None = None,
                 env: dict[str, str] | None = None, wrap=None):
        self.tmp = tempfile.mkdtemp(prefix="upstart-e2e-")
        self.conf = os.path.join(self.tmp, "conf")
        self.log = os.path.join(self.tmp, "log")
        xdg = os.path.join(self.tmp, "xdg")
        home = os.path.join(self.tmp, "home")
        for d in (self.conf, self.log, xdg, home):
            os.makedirs(d, mode=0o700)
        write_jobs(self.conf, jobs or {})
        self.env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": home, "XDG_RUNTIME_DIR": xdg}
        self.env.update(env or {})
        from upstart.observe.jsonlog import default_path
        self.events = default_path(True, self.env)    # the structured event log
        self.logfile = open(os.path.join(self.tmp, "init.log"), "w+")
        self.proc = subprocess.Popen(
            [*(wrap(self.tmp) if wrap else ()), os.path.join(BIN, "init"), "--user",
             "--confdir", self.conf, "--logdir", self.log,
             "--no-dbus", *(("--no-startup-event",) if args is None else args)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self.logfile, stderr=subprocess.STDOUT)
        self.address = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{self.proc.pid}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("init exited early:\n" + self.init_log())
            if self.initctl("version").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("init did not answer:\n" + self.init_log())

    def command_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "UPSTART_SESSION": self.address}
        env.update(extra or {})
        return env

    def run(self, *cmd: str, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), env=self.command_env(env), capture_output=True,
                              text=True, timeout=timeout)

    def initctl(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(os.path.join(BIN, "initctl"), *args, **kw)

    def popen(self, *cmd: str) -> subprocess.Popen:
        return subprocess.Popen(list(cmd), env=self.command_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def init_log(self) -> str:
        self.logfile.flush()
        with open(self.logfile.name) as f:
            return f.read()

    def log_text(self) -> str:
        return "init log:\n" + self.init_log()

    def close(self) -> None:
        if self.proc.poll() is None:
            family = descendants(self.proc.pid)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            for pid in family:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.logfile.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_WRAPPER = """#!/bin/sh
set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mount -t tmpfs tmpfs /var/log
: > /var/log/wtmp
: > /run/utmp
mount --bind "$T/kmsg" /dev/kmsg
mount --bind "$T/console" /dev/console
mount --bind "$T/sbin" /usr/local/sbin
for d in /etc/init.d /etc/rc0.d /etc/rc1.d /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d \\
         /etc/rc6.d /etc/rcS.d; do
    [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done
if [ -n "${SETUP:-}" ]; then eval "$SETUP"; fi
unset SETUP
exec "$@"
"""


class Pid1Init(_Init):
    def __init__(self, jobs: dict[str, str] | None = None, args: tuple[str, ...] | None = None,
                 env: dict[str, str] | None = None, confdirs: tuple[str, ...] = (),
                 setup: str = "", wrap=None, confdir_option: bool = True):
        """`setup`: shell commands run in the new namespaces before init starts
        (after /run, /dev/kmsg and the tools are in place); `wrap(tmp)`: a command
        line put before init's (which it must exec); `confdir_option` False: no
        `--confdir` (the jobs in `self.conf` are then read only if init is told
        of them some other way, e.g. `UPSTART_CONFDIR`)."""
        self.tmp = tempfile.mkdtemp(prefix="upstart-pid1-")
        self.conf = os.path.join(self.tmp, "conf")
        self.logdir = os.path.join(self.tmp, "log")
        sbin = os.path.join(self.tmp, "sbin")
        for d in (self.conf, self.logdir, sbin):
            os.makedirs(d)
        for tool in TOOLS:
            os.symlink(os.path.join(BIN, tool), os.path.join(sbin, tool))
        for name in ("kmsg", "console"):
            open(os.path.join(self.tmp, name), "w").close()
        write_jobs(self.conf, jobs or {})
        wrapper = os.path.join(self.tmp, "wrapper.sh")
        with open(wrapper, "w") as f:
            f.write(_WRAPPER)
        dirs = []
        for d in ((self.conf,) if confdir_option else ()) + tuple(confdirs):
            dirs += ["--confdir", d]
        init_env = {"PATH": DEFAULT_PATH, "HOME": "/root", "T": self.tmp, "SETUP": setup}
        init_env.update(env or {})
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc",
             "sh", wrapper, *(wrap(self.tmp) if wrap else ()), os.path.join(BIN, "init"),
             *dirs, "--logdir", self.logdir,
             *(("--no-startup-event",) if args is None else args)],
            env=init_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.pid = self._find_child()
        self._wait_ready()

    def _find_child(self) -> int:
        deadline = time.monotonic() + 10
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("unshare exited early")
            time.sleep(0.01)
        raise RuntimeError("no PID 1 appeared")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("init exited early:\n" + self.kmsg())
            if self.run("initctl", "version").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("init did not answer:\n" + self.kmsg())

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a command in init's network, mount and PID namespaces (our tools on PATH)."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", "-m", "-p", "--", *cmd],
                              env={"PATH": DEFAULT_PATH}, capture_output=True, text=True,
                              timeout=timeout)

    def initctl(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run("initctl", *args, **kw)

    def kmsg(self) -> str:
        with open(os.path.join(self.tmp, "kmsg"), errors="replace") as f:
            return f.read()

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float = 30) -> int:
        """The exit status of PID 1 (as unshare reports it)."""
        return self.proc.wait(timeout=timeout)

    def log_text(self) -> str:
        return "kmsg:\n" + self.kmsg()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
