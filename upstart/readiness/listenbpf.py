"""Listen events: the kernel tells init when any TCP socket starts listening.

The kernel has a tracepoint for this, `sock:inet_sock_set_state`, fired by
`inet_csk_listen_start()` with `newstate == TCP_LISTEN` (IPv4 and IPv6). A
ten-instruction BPF program attached to it as a *raw* tracepoint (no tracefs
needed) writes one word into a BPF ring buffer for each such change, with a
forced wake-up; the ring buffer's fd is pollable, so init's loop learns of
every listen(2) on the host within microseconds. Which socket it was does
not matter here: the socket source re-runs its sock_diag check, which
decides whether the job's socket is the one.

Needs CAP_BPF and CAP_PERFMON (root) and a kernel with ring buffers (5.8+);
where any step fails, `ListenEvents.open()` raises OSError and the socket
source keeps its back-off alone (a Session Init of an ordinary user, a
container whose seccomp forbids bpf(2)).

Owns the map, program and link fds and the two mappings of the ring buffer
(kept until `close()`: a BPF link's release may wait for an RCU grace
period). `program()` is pure (the instruction bytes); the rest does I/O and
never blocks.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
from collections.abc import Callable

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_RAW_TRACEPOINT_OPEN = 0, 5, 17
BPF_MAP_TYPE_RINGBUF = 27
BPF_PROG_TYPE_RAW_TRACEPOINT = 17
BPF_FUNC_ringbuf_output = 130
BPF_RB_FORCE_WAKEUP = 2
BPF_PSEUDO_MAP_FD = 1
TCP_LISTEN = 10
TRACEPOINT = b"inet_sock_set_state"
RING_SIZE = mmap.PAGESIZE          # the smallest ring buffer: a page


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def program(map_fd: int) -> bytes:
    """The BPF program: if args[2] (newstate) == TCP_LISTEN, output 8 bytes
    to the ring buffer `map_fd` with a forced wake-up; always return 0."""
    return b"".join([
        _insn(0x79, dst=2, src=1, off=16),                # r2 = *(u64 *)(ctx + 16)
        _insn(0x55, dst=2, off=8, imm=TCP_LISTEN),        # if r2 != 10 goto out
        _insn(0x7B, dst=10, src=2, off=-8),               # *(u64 *)(fp - 8) = r2
        _insn(0x18, dst=1, src=BPF_PSEUDO_MAP_FD, imm=map_fd),  # r1 = map (ld_imm64 ...
        _insn(0x00),                                      # ... second half)
        _insn(0xBF, dst=2, src=10),                       # r2 = fp
        _insn(0x07, dst=2, imm=-8),                       # r2 += -8
        _insn(0xB7, dst=3, imm=8),                        # r3 = 8
        _insn(0xB7, dst=4, imm=BPF_RB_FORCE_WAKEUP),      # r4 = flags
        _insn(0x85, imm=BPF_FUNC_ringbuf_output),         # call bpf_ringbuf_output
        _insn(0xB7, dst=0, imm=0),                        # out: r0 = 0
        _insn(0x95),                                      # exit
    ])


_libc = None


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    global _libc
    if SYS_BPF is None:
        raise OSError("bpf(2): unsupported architecture")
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = _libc.syscall(SYS_BPF, cmd, attr, len(attr))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return fd


class ListenEvents:
    """Calls `on_listen()` from init's loop whenever a TCP socket starts listening."""

    def __init__(self, loop, on_listen: Callable[[], None]):
        self.loop = loop
        self.on_listen = on_listen
        self.fds: list[int] = []
        self.map_fd: int | None = None
        self._cons: mmap.mmap | None = None
        self._prod: mmap.mmap | None = None
        self.events = 0

    def open(self) -> None:
        try:
            self._open()
        except (OSError, ValueError):
            self.close()
            raise

    def _open(self) -> None:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIII", attr, 0, BPF_MAP_TYPE_RINGBUF, 0, 0, RING_SIZE)
        self.map_fd = _bpf(BPF_MAP_CREATE, attr)
        self.fds.append(self.map_fd)
        code = ctypes.create_string_buffer(program(self.map_fd))
        lic = ctypes.create_string_buffer(b"GPL")
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIQQIIQII16s", attr, 0, BPF_PROG_TYPE_RAW_TRACEPOINT,
                         len(code.raw) // 8, ctypes.addressof(code), ctypes.addressof(lic),
                         0, 0, 0, 0, 0, b"upstart_listen")
        prog_fd = _bpf(BPF_PROG_LOAD, attr)
        self.fds.append(prog_fd)
        name = ctypes.create_string_buffer(TRACEPOINT)
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<QI", attr, 0, ctypes.addressof(name), prog_fd)
        self.fds.append(_bpf(BPF_RAW_TRACEPOINT_OPEN, attr))
        self._cons = mmap.mmap(self.map_fd, mmap.PAGESIZE, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._prod = mmap.mmap(self.map_fd, mmap.PAGESIZE, mmap.MAP_SHARED,
                               mmap.PROT_READ, offset=mmap.PAGESIZE)
        os.set_blocking(self.map_fd, False)
        self.loop.add_reader(self.map_fd, self._readable)

    def _readable(self) -> None:
        if self._prod is None or self._cons is None:
            return
        # drop every record: which socket it was is the socket source's question
        produced = struct.unpack_from("<Q", self._prod, 0)[0]
        struct.pack_into("<Q", self._cons, 0, produced)
        self.events += 1
        self.on_listen()

    def close(self) -> None:
        if self.map_fd is not None and self._cons is not None:
            try:
                self.loop.remove_reader(self.map_fd)
            except Exception:   # noqa: BLE001 - loop closed
                pass
        for m in (self._cons, self._prod):
            if m is not None:
                m.close()
        self._cons = self._prod = None
        for fd in reversed(self.fds):
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()
        self.map_fd = None


__all__ = ["ListenEvents", "program"]
