"""Following a job's processes through the kernel's proc connector.

What it is: the fallback of job tracking (docs/design/tracking.md) where no
cgroup can be made. A netlink socket (`NETLINK_CONNECTOR`, group
`CN_IDX_PROC`; the ABI numbers are pyroute2's cn_proc ones, written here:
`CnProc`) reports every fork and exit on the machine.
A fork whose parent is a followed process adds the child to the parent's job
instance; an exit removes it. `kill(pid, sig)` then signals every process of
the instance `pid` belongs to, wherever its session or process group.

What it owns: the socket (one fd, read on init's loop: no thread) and the
bounded map pid -> (instance key, start time). It never signals a pid whose
start time changed (a reused pid), never signals init itself, and never
blocks: the socket is non-blocking and read until empty.

Limits (checked by `open_connector`, which says why it cannot be used): the
kernel accepts listeners only from the initial user and pid namespaces with
CAP_NET_ADMIN (it acknowledges the subscription only then), and the
connector lives in the initial network namespace. Events are decoded with
`struct` (one unpack per event: the socket sees every fork of the machine).
"""

from __future__ import annotations

import errno
import os
import socket
import struct

from upstart.process import endrule, procstat
from upstart.records import dataclass

_NLMSG = struct.Struct("IHHII")          # nlmsghdr
_CNMSG = struct.Struct("IIIIHH")         # cn_msg header
_EVENT = struct.Struct("IIQ")            # what, cpu, timestamp_ns
_PAIR = struct.Struct("IIII")            # fork: parent pid/tgid, child pid/tgid
_OFFSET = _NLMSG.size + _CNMSG.size      # 36: the proc_event
_DATA = _OFFSET + _EVENT.size            # 52: its event_data
NLMSG_DONE = 3
MAX_PIDS = 65536                         # bound on followed processes
RCVBUF = 4 << 20                         # the socket's receive buffer (bytes)
_SO_RCVBUFFORCE = 33


def _start_time(pid: int) -> int | None:
    f = procstat.fields(pid)
    try:
        return int(f[19]) if f else None
    except (IndexError, ValueError):
        return None


@dataclass(slots=True)
class _Run:
    """An instance's end state: the same fields as the cgroup manager's
    automatic instances (cgroups/manager.py `_Instance`)."""
    kill_signal: int = 15
    kill_timeout: float = 5.0
    main_seen: bool = False            # this run's main process was spawned
    signalled_at: float | None = None  # when init first signalled the instance
    draining: int = 0                  # >0: leftovers are being waited for (a token)


class ProcTracker:
    def __init__(self, sock: socket.socket, consts, loop, log=None):
        self.sock = sock
        self.c = consts
        self.loop = loop
        self.log = log or (lambda priority, message: None)
        self.pids: dict[int, tuple[tuple[str, str], int | None]] = {}
        self.runs: dict[tuple[str, str], _Run] = {}
        self._tokens = 0
        self.lost = False
        self.retiring = self.closed = False
        loop.add_reader(sock.fileno(), self.read)

    # --------------------------------------------------------------- input

    def follow(self, pid: int, key: tuple[str, str], slot: str = "main",
               kill_signal: int = 15, kill_timeout: float = 5.0) -> None:
        """`pid`, just spawned, belongs to instance `key`. Forks it made
        before this call are in the socket already: read them right after."""
        run = self.runs.get(key)
        if run is not None and run.draining:  # starting again: old leftovers go
            run.draining = 0
            self.kill_instance(key, 9)
        run = self.runs.setdefault(key, _Run())
        run.kill_signal, run.kill_timeout = kill_signal, kill_timeout
        if slot == "main":
            run.main_seen, run.signalled_at = True, None
        if len(self.pids) < MAX_PIDS:
            self.pids[pid] = (key, _start_time(pid))
        self.read()      # its forks so far are queued after its own fork event

    def read(self) -> None:
        if self.closed:
            return
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as err:
                if err.errno == errno.ENOBUFS:   # events were dropped: say so once
                    if not self.lost:
                        self.lost = True
                        self.log("warn", "job tracking: the proc connector dropped events; "
                                         "some processes may not be followed")
                    continue
                break
            self._events(data)
        self._close_if_idle()

    def _close_if_idle(self) -> None:
        if self.retiring and not self.pids and not self.runs:
            self.close()

    def _events(self, data: bytes) -> None:
        at = 0
        while at + _DATA <= len(data):
            length = _NLMSG.unpack_from(data, at)[0]
            if length < _DATA:
                return
            what = _EVENT.unpack_from(data, at + _OFFSET)[0]
            if what == self.c.PROC_EVENT_FORK:
                _ppid, ptgid, cpid, ctgid = _PAIR.unpack_from(data, at + _DATA)
                owner = self.pids.get(ptgid)
                if owner is not None and cpid == ctgid and len(self.pids) < MAX_PIDS:
                    self.pids[ctgid] = (owner[0], _start_time(ctgid))
            elif what == self.c.PROC_EVENT_EXIT:
                pid, tgid = struct.unpack_from("II", data, at + _DATA)
                if pid == tgid:
                    self.pids.pop(tgid, None)
            at += (length + 3) & ~3

    # ---------------------------------------------------------------- kill

    def members(self, key: tuple[str, str]) -> list[int]:
        self.read()
        return [pid for pid, (k, _t) in self.pids.items() if k == key]

    def owner(self, pid: int) -> tuple[str, str] | None:
        item = self.pids.get(pid)
        return item[0] if item is not None else None

    def kill_instance(self, key: tuple[str, str], sig: int) -> int:
        """Signal every live process of `key`; rounds until no new one (a
        process forking meanwhile is caught by the next round)."""
        done: set[int] = set()
        for _ in range(8):
            new = [p for p in self.members(key) if p not in done]
            if not new:
                break
            for pid in new:
                done.add(pid)
                if pid == os.getpid() or _start_time(pid) != self.pids[pid][1]:
                    self.pids.pop(pid, None)    # gone, or the pid was reused
                    continue
                try:
                    os.kill(pid, sig)
                except OSError:
                    self.pids.pop(pid, None)
        return len(done)

    def kill(self, pid: int, sig: int) -> bool:
        """The engine's kill of a main process: the whole instance. False
        when `pid` is not followed (the caller signals its process group)."""
        self.read()
        key = self.owner(pid)
        if key is None:
            return False
        run = self.runs.get(key)
        if run is not None and run.signalled_at is None:
            run.signalled_at = self.loop.time()
        return self.kill_instance(key, sig) > 0

    def forget(self, key: tuple[str, str]) -> int:
        """The instance releases what is left (a natural end: 1.13)."""
        gone = [pid for pid, (k, _t) in self.pids.items() if k == key]
        for pid in gone:
            del self.pids[pid]
        return len(gone)

    def ended(self, key: tuple[str, str]) -> None:
        """The instance reached `waiting`: the end rule of the automatic
        cgroups (`endrule.next_step`, tracking.md): after a natural end of its
        main process what is left is released; otherwise it gets the kill
        signal (if it had none yet), then SIGKILL once `kill timeout` has
        passed. An instance never followed counts as a natural end."""
        run = self.runs.get(key)
        now = self.loop.time()
        step = endrule.next_step(
            left=bool(self.members(key)), main_seen=run is None or run.main_seen,
            signalled_at=run.signalled_at if run is not None else None, now=now,
            kill_timeout=run.kill_timeout if run is not None else 0.0)
        if step.action == endrule.CLEANUP:
            self.runs.pop(key, None)
            self._close_if_idle()
            return
        if step.action == endrule.RELEASE:
            n = self.forget(key)
            self.runs.pop(key, None)
            self.log("info", f"{key[0]}: {n} process(es) left by its main process released")
            self._close_if_idle()
            return
        assert run is not None       # an unknown instance is released above
        if step.action == endrule.SIGNAL_AND_WAIT:
            run.signalled_at = now
            self.kill_instance(key, run.kill_signal)
        self._tokens += 1
        run.draining = self._tokens
        self._drain(key, run.draining)

    def _drain(self, key: tuple[str, str], token: int) -> None:
        run = self.runs.get(key)
        if run is None or run.draining != token:
            return
        step = endrule.next_step(
            left=bool(self.members(key)), main_seen=run.main_seen,
            signalled_at=run.signalled_at, now=self.loop.time(),
            kill_timeout=run.kill_timeout)
        if step.action == endrule.WAIT:
            self.loop.call_later(step.delay, self._drain, key, token)
            return
        if step.action == endrule.KILL:
            self.kill_instance(key, 9)
        self.forget(key)
        self.runs.pop(key, None)
        self._close_if_idle()

    def export(self) -> dict:
        """JSON-able record for a stateful re-exec (tracking.md)."""
        return {"pids": [[pid, k[0], k[1], start] for pid, (k, start) in self.pids.items()],
                "runs": [[k[0], k[1], r.kill_signal, r.kill_timeout, r.main_seen,
                          r.signalled_at is not None, bool(r.draining)]
                         for k, r in self.runs.items()]}

    def adopt(self, state: dict) -> None:
        """Take over `export()` of the previous init; an end that was waiting
        for leftovers starts its kill timeout again."""
        for pid, job, inst, start in state.get("pids", []):
            if _start_time(pid) == start and len(self.pids) < MAX_PIDS:
                self.pids[pid] = ((job, inst), start)
        now = self.loop.time()
        ending = []
        for job, inst, sig, timeout, main_seen, signalled, draining in state.get("runs", []):
            self.runs[(job, inst)] = _Run(sig, timeout, main_seen, now if signalled else None)
            if draining:
                ending.append((job, inst))
        for key in ending:
            self.ended(key)

    def retire(self) -> bool:
        """Cgroups can be made now: stop listening once nothing is followed
        (every event of the machine costs PID 1 a read). True when closed."""
        self.retiring = True
        if self.pids or self.runs:
            return False
        self.close()
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.remove_reader(self.sock.fileno())
        except Exception:   # noqa: BLE001 - the loop may be closed already
            pass
        self.sock.close()


class CnProc:
    """The kernel ABI numbers used here (linux/connector.h, linux/cn_proc.h),
    the same as pyroute2's `pyroute2.netlink.connector.cn_proc` (a unit test
    compares them): importing pyroute2's package costs PID 1 about 0.2 s, at
    the first spawn of a boot, before cgroupfs is mounted."""
    NETLINK_CONNECTOR = 11
    CN_IDX_PROC = 0x1
    CN_VAL_PROC = 0x1
    PROC_CN_MCAST_LISTEN = 0x1
    PROC_EVENT_NONE = 0x0
    PROC_EVENT_FORK = 0x1
    PROC_EVENT_EXIT = 0x80000000


def open_connector(loop, log=None) -> ProcTracker | str:
    """A tracker, or why there can be none."""
    consts = CnProc
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                             consts.NETLINK_CONNECTOR)
    except OSError as err:
        return f"no proc connector here ({os.strerror(err.errno)})"
    try:
        sock.bind((0, consts.CN_IDX_PROC))
        sock.setblocking(False)
        try:   # bounded: 4 MiB; SO_RCVBUFFORCE passes rmem_max (CAP_NET_ADMIN)
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        # kernel 6.6+: only fork and exit events (8-byte form); older: all (4-byte)
        wanted = consts.PROC_EVENT_FORK | consts.PROC_EVENT_EXIT
        for op in (struct.pack("II", consts.PROC_CN_MCAST_LISTEN, wanted),
                   struct.pack("I", consts.PROC_CN_MCAST_LISTEN)):
            err = _subscribe(sock, consts, op)
            if err == 0:
                return ProcTracker(sock, consts, loop, log)
            if err is not None:
                sock.close()
                return f"the proc connector refused: {os.strerror(err)}"
    except OSError as err:
        sock.close()
        return f"no proc connector here ({os.strerror(err.errno)})"
    sock.close()
    return ("the proc connector does not answer (it serves only the initial user "
            "and pid namespaces)")


def _subscribe(sock: socket.socket, consts, op: bytes) -> int | None:
    """Send a LISTEN; the kernel's acknowledgement's error (0: listening), or
    None when none came (a namespace it ignores, or a form it does not know)."""
    cn = _CNMSG.pack(consts.CN_IDX_PROC, consts.CN_VAL_PROC, 0, 0, len(op), 0) + op
    sock.send(_NLMSG.pack(_NLMSG.size + len(cn), NLMSG_DONE, 0, 0, 0) + cn)
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return None
        if len(data) >= _DATA + 4 and \
                _EVENT.unpack_from(data, _OFFSET)[0] == consts.PROC_EVENT_NONE:
            return struct.unpack_from("I", data, _DATA)[0]


__all__ = ["ProcTracker", "open_connector"]
