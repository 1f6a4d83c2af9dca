"""The peers, each run in a temp dir we create and killed on close():
supervisord (PyPI `supervisor`), runit (`runsvdir`/`runsv`/`sv`) and s6
(`s6-svscan`/`s6-supervise`/`s6-svc`), with one interface:

  peer = Runit(names, cmd="sleep 100000", up=False)   # starts the supervisor
  peer.wait_supervised()      # every service known to the supervisor
  peer.start(names)           # ask for all at once (persistent channel), wait up
  peer.stop(names)            # the same, down
  peer.cli_start(name)        # the peer's own command line, waiting for "up"
  peer.cli_stop(name)
  peer.cli_status(name)
  peer.all_up(names) -> bool
  peer.rss_kb()               # the supervisor's tree (no service running)

The persistent channels are what each peer offers: supervisord's XML-RPC over
its unix socket (one ServerProxy), runit's and s6's control FIFOs (written
directly, as `sv`/`s6-svc` do) with their status files polled.
runit and s6 services are `#!/bin/sh` + `exec CMD` run scripts (their usual
form), so a start costs them one extra exec of dash.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time

from common import tree, tree_rss_kb, wait_until


def _kill_tree(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    pids = tree(proc.pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    proc.wait()


class _Peer:
    name = ""
    proc: subprocess.Popen

    def __init__(self, names: list[str], cmd: str = "sleep 100000", up: bool = False):
        self.names = list(names)
        self.cmd = cmd
        self.tmp = tempfile.mkdtemp(prefix=f"bench-{self.name}-")
        self.t_exec = time.monotonic()
        self._launch(up)

    def _launch(self, up: bool) -> None:
        raise NotImplementedError

    def close(self) -> None:
        _kill_tree(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rss_kb(self) -> int:
        return tree_rss_kb(self.proc.pid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Fifo(_Peer):
    """runit and s6: a scan directory of service directories with control FIFOs."""

    def _launch(self, up: bool) -> None:
        self.scan = os.path.join(self.tmp, "service")
        os.makedirs(self.scan)
        for n in self.names:
            d = os.path.join(self.scan, n)
            os.makedirs(d)
            with open(os.path.join(d, "run"), "w") as f:
                f.write(f"#!/bin/sh\nexec {self.cmd}\n")
            os.chmod(os.path.join(d, "run"), 0o755)
            if not up:
                open(os.path.join(d, "down"), "w").close()
        self.t_exec = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def argv(self) -> list[str]:
        raise NotImplementedError

    def _ctl(self, name: str, letter: bytes) -> None:
        fd = os.open(os.path.join(self.scan, name, "supervise", "control"),
                     os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, letter)
        finally:
            os.close(fd)

    def supervised(self, name: str) -> bool:
        return os.path.exists(os.path.join(self.scan, name, "supervise", self.ready_file))

    def wait_supervised(self, timeout: float = 60) -> None:
        wait_until(lambda: all(self.supervised(n) for n in self.names), timeout)

    def start(self, names: list[str]) -> None:
        for n in names:
            self._ctl(n, b"u")
        wait_until(lambda: self.all_up(names))

    def stop(self, names: list[str]) -> None:
        for n in names:
            self._ctl(n, b"d")
        wait_until(lambda: not any(self.is_up(n) for n in names))

    def all_up(self, names: list[str]) -> bool:
        return all(self.is_up(n) for n in names)


class Runit(_Fifo):
    name = "runit"
    ready_file = "ok"

    def argv(self) -> list[str]:
        return ["runsvdir", "-P", self.scan]

    def is_up(self, name: str) -> bool:
        try:
            with open(os.path.join(self.scan, name, "supervise", "stat")) as f:
                return f.read().startswith("run")
        except OSError:
            return False

    def cli_start(self, name: str) -> None:
        subprocess.run(["sv", "-w", "7", "start", os.path.join(self.scan, name)],
                       stdout=subprocess.DEVNULL, check=True)

    def cli_stop(self, name: str) -> None:
        subprocess.run(["sv", "-w", "7", "stop", os.path.join(self.scan, name)],
                       stdout=subprocess.DEVNULL, check=True)

    def cli_status(self, name: str) -> None:
        subprocess.run(["sv", "status", os.path.join(self.scan, name)],
                       stdout=subprocess.DEVNULL)


class S6(_Fifo):
    name = "s6"
    ready_file = "status"

    def argv(self) -> list[str]:
        return ["s6-svscan", "-c", str(max(1000, 2 * len(self.names))), self.scan]

    def is_up(self, name: str) -> bool:
        # supervise/status: tain stamp (12), tain readystamp (12), pid (u64 BE), ...
        try:
            with open(os.path.join(self.scan, name, "supervise", "status"), "rb") as f:
                data = f.read(32)
        except OSError:
            return False
        return len(data) == 32 and struct.unpack(">Q", data[24:32])[0] != 0

    def cli_start(self, name: str) -> None:
        subprocess.run(["s6-svc", "-wu", "-u", os.path.join(self.scan, name)], check=True)

    def cli_stop(self, name: str) -> None:
        subprocess.run(["s6-svc", "-wd", "-d", os.path.join(self.scan, name)], check=True)

    def cli_status(self, name: str) -> None:
        subprocess.run(["s6-svstat", os.path.join(self.scan, name)],
                       stdout=subprocess.DEVNULL)


_SUPERVISORD_CONF = """\
[unix_http_server]
file={tmp}/supervisor.sock
[supervisord]
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
childlogdir={tmp}
nodaemon=true
user=root
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{tmp}/supervisor.sock
"""

_PROGRAM = """\
[program:{name}]
command={cmd}
autostart={up}
autorestart=false
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE
"""


class Supervisord(_Peer):
    name = "supervisord"

    def _launch(self, up: bool) -> None:
        import sys
        self.conf = os.path.join(self.tmp, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write(_SUPERVISORD_CONF.format(tmp=self.tmp))
            for n in self.names:
                f.write(_PROGRAM.format(name=n, cmd=self.cmd, up=str(up).lower()))
        bindir = os.path.dirname(sys.executable)
        self.supervisorctl = os.path.join(bindir, "supervisorctl")
        self.t_exec = time.monotonic()
        self.proc = subprocess.Popen([os.path.join(bindir, "supervisord"), "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._rpc = None

    @property
    def rpc(self):
        if self._rpc is None:
            from xmlrpc.client import ServerProxy

            from supervisor.xmlrpc import SupervisorTransport
            transport = SupervisorTransport(None, None,
                                            serverurl=f"unix://{self.tmp}/supervisor.sock")
            self._rpc = ServerProxy("http://127.0.0.1", transport=transport)
        return self._rpc

    def _infos(self) -> list[dict]:
        try:
            return self.rpc.supervisor.getAllProcessInfo()
        except Exception:        # not listening yet: the transport is spoilt, start over
            self._rpc = None
            return []

    def wait_supervised(self, timeout: float = 60) -> None:
        wait_until(lambda: len(self._infos()) == len(self.names), timeout, 0.005)

    def start(self, names: list[str]) -> None:
        if len(names) == len(self.names):
            self.rpc.supervisor.startAllProcesses(True)
        else:
            for n in names:
                self.rpc.supervisor.startProcess(n, True)

    def stop(self, names: list[str]) -> None:
        if len(names) == len(self.names):
            self.rpc.supervisor.stopAllProcesses(True)
        else:
            for n in names:
                self.rpc.supervisor.stopProcess(n, True)

    def all_up(self, names: list[str]) -> bool:
        want = set(names)
        return sum(1 for i in self._infos()
                   if i["name"] in want and i["statename"] == "RUNNING") == len(want)

    def all_exited(self, names: list[str]) -> bool:
        want = set(names)
        return sum(1 for i in self._infos()
                   if i["name"] in want and i["statename"] == "EXITED") == len(want)

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run([self.supervisorctl, "-c", self.conf, *args],
                       stdout=subprocess.DEVNULL, check=check)

    def cli_start(self, name: str) -> None:
        self._ctl("start", name)

    def cli_stop(self, name: str) -> None:
        self._ctl("stop", name)

    def cli_status(self, name: str) -> None:
        self._ctl("status", name, check=False)   # 3 when the program is not running


PEERS = (Supervisord, Runit, S6)
