"""sock_diag messages (upstart/readiness/sockdiag.py) against pyroute2, the
reference: the same request bytes, the same fields read from real dumps of
the kernel; bad bytes end a datagram without raising; the probe's I/O turns
an error or a dump without its end into an OSError and a fresh socket; and
init never imports pyroute2 for a socket watch."""

from __future__ import annotations

import errno
import os
import socket
import struct
import subprocess
import sys

import pytest

from upstart.readiness import sockdiag
from upstart.readiness.socketsrc import NETLINK_SOCK_DIAG, DiagProbe
from upstart.readiness.spec import parse_socket

pyroute2_diag = pytest.importorskip("pyroute2.netlink.diag")
from pyroute2.netlink import NLM_F_MATCH, NLM_F_REQUEST, NLM_F_ROOT  # noqa: E402

LISTEN = 1 << sockdiag.SS_LISTEN


def _theirs(req, family: int, seq: int) -> bytes:
    req["sdiag_family"] = family
    req["header"]["type"] = pyroute2_diag.SOCK_DIAG_BY_FAMILY
    req["header"]["flags"] = NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH
    req["header"]["sequence_number"] = seq
    req.encode()
    return bytes(req.data)


@pytest.mark.parametrize("seq", [1, 77, 0xFFFFFFFF])
def test_unix_request_is_pyroute2s(seq):
    req = pyroute2_diag.unix_diag_req()
    req["udiag_states"] = LISTEN
    req["udiag_show"] = pyroute2_diag.UDIAG_SHOW_NAME | pyroute2_diag.UDIAG_SHOW_VFS
    req["udiag_ino"] = 0
    req["udiag_cookie"] = 0
    assert sockdiag.unix_request(seq) == _theirs(req, socket.AF_UNIX, seq)
    req = pyroute2_diag.unix_diag_req()
    req["udiag_states"] = pyroute2_diag.SS_ALL
    req["udiag_show"] = 0x0F
    assert sockdiag.unix_request(seq, pyroute2_diag.SS_ALL, 0x0F) == \
        _theirs(req, socket.AF_UNIX, seq)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_inet_request_is_pyroute2s(family):
    req = pyroute2_diag.inet_diag_req()
    req["sdiag_protocol"] = socket.IPPROTO_TCP
    req["idiag_states"] = LISTEN
    req["idiag_ext"] = 0
    req["idiag_sport"] = 0
    req["idiag_dport"] = 0
    ours = sockdiag.inet_request(5, family)
    assert ours == _theirs(req, family, 5)
    assert len(ours) == 16 + 56                  # nlmsghdr + inet_diag_req_v2


# ------------------------------------------------------------ real dumps

def _dump(request: bytes) -> list[bytes]:
    """Every datagram of one dump, read from the kernel."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    try:
        nl.bind((0, 0))
        nl.send(request)
        out = []
        while True:
            out.append(nl.recv(1 << 16))
            if any(m.type == sockdiag.NLMSG_DONE for m in sockdiag.parse(out[-1])):
                return out
    finally:
        nl.close()


def _pairs(datagrams: list[bytes]):
    """(ours, theirs) for every message of the dump."""
    marshal = pyroute2_diag.MarshalDiag()
    for data in datagrams:
        ours = sockdiag.parse(data)
        theirs = list(marshal.parse(data))
        assert len(ours) == len(theirs)
        yield from zip(ours, theirs)


def test_unix_dump_reads_as_pyroute2_reads_it(tmp_path):
    socks = []
    try:
        path = socket.socket(socket.AF_UNIX)
        path.bind(str(tmp_path / "ctl"))
        path.listen()
        socks.append(path)
        tag = f"upstart-py-sockdiag-{os.getpid()}"
        for i in range(200):                     # enough for a dump of several parts
            s = socket.socket(socket.AF_UNIX)
            s.bind(f"\0{tag}-{i}")
            s.listen()
            socks.append(s)
        bound = socket.socket(socket.AF_UNIX)    # bound, not listening: not in the dump
        bound.bind(str(tmp_path / "quiet"))
        socks.append(bound)
        datagrams = _dump(sockdiag.unix_request(42))
        assert len(datagrams) > 1
        seen = {}
        for ours, theirs in _pairs(datagrams):
            assert (ours.type, ours.flags, ours.seq) == (
                theirs["header"]["type"], theirs["header"]["flags"],
                theirs["header"]["sequence_number"])
            if ours.type == sockdiag.NLMSG_DONE:
                continue
            sock = ours.sock
            assert (sock.ino, sock.type, sock.state) == (
                theirs["udiag_ino"], theirs["udiag_type"], theirs["udiag_state"])
            name = theirs.get_attr("UNIX_DIAG_NAME")
            vfs = theirs.get_attr("UNIX_DIAG_VFS")
            assert sock.abstract == (vfs is None)
            assert sock.vfs == (None if vfs is None else
                                (vfs["udiag_vfs_ino"], vfs["udiag_vfs_dev"]))
            if isinstance(name, bytes):          # pyroute2 keeps undecodable names as bytes
                name = os.fsdecode(name)
            # pyroute2 strips every NUL at both ends; an abstract name keeps its own
            assert (sock.name.strip("\0") if sock.abstract else sock.name) == name
            seen[sock.ino] = sock
        ctl = seen[os.fstat(socks[0].fileno()).st_ino]
        assert (ctl.name, ctl.abstract) == (str(tmp_path / "ctl"), False)
        assert ctl.vfs[0] == os.stat(tmp_path / "ctl").st_ino
        first = seen[os.fstat(socks[1].fileno()).st_ino]
        assert (first.name, first.abstract, first.vfs) == (f"{tag}-0", True, None)
        assert all(os.fstat(s.fileno()).st_ino in seen for s in socks[:-1])
        assert os.fstat(bound.fileno()).st_ino not in seen
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("family,addr", [(socket.AF_INET, "127.0.0.1"),
                                         (socket.AF_INET, "0.0.0.0"),
                                         (socket.AF_INET6, "::1"),
                                         (socket.AF_INET6, "::")])
def test_inet_dump_reads_as_pyroute2_reads_it(family, addr):
    s = socket.socket(family)
    try:
        s.bind((addr, 0))
        s.listen()
        port = s.getsockname()[1]
        inode = os.fstat(s.fileno()).st_ino
        found = []
        for ours, theirs in _pairs(_dump(sockdiag.inet_request(3, family))):
            if ours.type == sockdiag.NLMSG_DONE:
                continue
            sock = ours.sock
            assert sock == (theirs["idiag_family"], theirs["idiag_state"],
                            theirs["idiag_src"], theirs["idiag_sport"],
                            theirs["idiag_dst"], theirs["idiag_dport"],
                            theirs["idiag_uid"], theirs["idiag_inode"])
            found.append(sock)
        mine = [k for k in found if k.inode == inode]
        assert mine == [(family, sockdiag.SS_LISTEN, addr, port,
                         "0.0.0.0" if family == socket.AF_INET else "::", 0,
                         os.getuid(), inode)]
    finally:
        s.close()


# ------------------------------------------------------------ bad bytes

def _msg(kind: int, body: bytes, seq: int = 1, length: int | None = None) -> bytes:
    size = 16 + len(body) if length is None else length
    pad = b"\0" * (-len(body) % 4)
    return struct.pack("=IHHII", size, kind, 2, seq, 0) + body + pad


def _attr(kind: int, value: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(value), kind) + value + b"\0" * (-len(value) % 4)


def _unix_msg(ino: int, *attrs: bytes) -> bytes:
    return _msg(sockdiag.SOCK_DIAG_BY_FAMILY,
                struct.pack("=BBBxIQ", socket.AF_UNIX, socket.SOCK_STREAM, 10, ino, 0)
                + b"".join(attrs))


def test_truncated_header_and_overlong_message_end_the_datagram():
    good = _unix_msg(5, _attr(sockdiag.UNIX_DIAG_NAME, b"/run/a\0"))
    assert sockdiag.parse(good[:10]) == []                       # half a header
    assert [m.sock.ino for m in sockdiag.parse(good + good[:20])] == [5]
    past = _msg(sockdiag.SOCK_DIAG_BY_FAMILY, b"\1" * 16, length=400)
    assert [m.sock.ino for m in sockdiag.parse(good + past + good)] == [5]
    tiny = struct.pack("=IHHII", 8, 3, 0, 1, 0)                  # length under a header
    assert sockdiag.parse(tiny + good) == []
    assert sockdiag.parse(b"") == []


def test_short_bodies_and_attributes_are_skipped():
    short_unix = _msg(sockdiag.SOCK_DIAG_BY_FAMILY, struct.pack("=BBBx", 1, 1, 10))
    short_inet = _msg(sockdiag.SOCK_DIAG_BY_FAMILY, struct.pack("=BBBB", 2, 10, 0, 0) + b"\0" * 8)
    unknown_family = _msg(sockdiag.SOCK_DIAG_BY_FAMILY, struct.pack("=BBBB", 16, 0, 0, 0))
    msgs = sockdiag.parse(short_unix + short_inet + unknown_family)
    assert [(m.type, m.sock) for m in msgs] == [(sockdiag.SOCK_DIAG_BY_FAMILY, None)] * 3
    broken_attr = struct.pack("=HH", 2, sockdiag.UNIX_DIAG_NAME)   # length under 4
    past_attr = struct.pack("=HH", 64, sockdiag.UNIX_DIAG_NAME) + b"/x\0\0"
    short_vfs = _attr(sockdiag.UNIX_DIAG_VFS, b"\1\0")
    for tail in (broken_attr, past_attr, short_vfs):
        (msg,) = sockdiag.parse(_unix_msg(9, tail))
        assert msg.sock == sockdiag.UnixSock(9, socket.SOCK_STREAM, 10)


def test_unknown_attribute_is_skipped():
    (msg,) = sockdiag.parse(_unix_msg(
        7, _attr(4, b"\1\2\3\4\5\6\7\x08"), _attr(sockdiag.UNIX_DIAG_NAME, b"\0abs\0"),
        _attr(0x55, b"x"), _attr(sockdiag.UNIX_DIAG_VFS, struct.pack("=II", 3, 4))))
    assert msg.sock == sockdiag.UnixSock(7, socket.SOCK_STREAM, 10, "abs\0", True, (3, 4))
    (bad,) = sockdiag.parse(_unix_msg(8, _attr(sockdiag.UNIX_DIAG_NAME, b"/r\xffn\0")))
    assert os.fsencode(bad.sock.name) == b"/r\xffn" and not bad.sock.abstract


def test_error_messages():
    eperm = _msg(sockdiag.NLMSG_ERROR, struct.pack("=i", -errno.EPERM) + b"\0" * 16, seq=4)
    (msg,) = sockdiag.parse(eperm)
    assert (msg.type, msg.seq, msg.error) == (sockdiag.NLMSG_ERROR, 4, -errno.EPERM)
    (cut,) = sockdiag.parse(_msg(sockdiag.NLMSG_ERROR, b""))
    assert cut.error == -errno.EPROTO                           # no code: still an error


# ------------------------------------------------------------ the probe's I/O

class FakeKernel:
    """A datagram socket pair standing in for the netlink socket: the probe's
    own reading code runs on real bytes queued before it asks."""

    def __init__(self, probe: DiagProbe, replies):
        self.ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        theirs.setblocking(False)
        probe._nl = theirs
        probe._seq = 0                  # the next request has seq 1
        for data in replies:
            self.ours.send(data)

    def request(self) -> bytes:
        return self.ours.recv(1 << 16)

    def close(self):
        self.ours.close()


def test_probe_raises_an_oserror_for_nlmsg_error_and_starts_over():
    probe = DiagProbe()
    eperm = _msg(sockdiag.NLMSG_ERROR, struct.pack("=i", -errno.EPERM) + b"\0" * 16, seq=1)
    kernel = FakeKernel(probe, [eperm])
    spec = parse_socket(("PROTO=unix", "PATH=/run/x"))
    with pytest.raises(OSError) as err:
        probe.listeners(spec)
    assert err.value.errno == errno.EPERM and "refused" in str(err.value)
    assert kernel.request() == sockdiag.unix_request(1)
    assert probe._nl is None                                    # closed: a new one next time
    kernel.close()


def test_probe_reads_parts_skips_bad_bytes_and_other_dumps():
    probe = DiagProbe()
    name = _attr(sockdiag.UNIX_DIAG_NAME, b"/run/x\0")
    stale = _unix_msg(1, name)                                  # seq 1: a dump before ours
    part1 = _msg(sockdiag.SOCK_DIAG_BY_FAMILY,
                 struct.pack("=BBBxIQ", socket.AF_UNIX, 1, 10, 21, 0) + name, seq=2)
    part2 = part1.replace(struct.pack("=I", 21), struct.pack("=I", 22)) + b"\xff" * 7
    done = _msg(sockdiag.NLMSG_DONE, b"\0\0\0\0", seq=2)
    kernel = FakeKernel(probe, [stale, part1, part2, done])
    probe._seq = 1
    assert probe.listeners(parse_socket(("PROTO=unix", "PATH=/run/x"))) == [21, 22]
    assert probe._nl is not None
    kernel.close()
    probe.close()


def test_probe_gives_up_on_a_dump_without_its_end():
    probe = DiagProbe()
    part = _unix_msg(5, _attr(sockdiag.UNIX_DIAG_NAME, b"/run/x\0"))
    kernel = FakeKernel(probe, [part])
    with pytest.raises(OSError, match="without NLMSG_DONE"):
        probe.listeners(parse_socket(("PROTO=unix", "PATH=/run/x")))
    assert probe._nl is None
    kernel.close()


def test_a_socket_watch_in_init_never_imports_pyroute2(tmp_path):
    # init runs with sys.modules["ssl"] = None (upstart/cli/init.py): the probe
    # must work there (with pyroute2, seen on Debian 12: `ready on socket` never
    # fired, "import of ssl halted"), unix and TCP, and load no pyroute2
    path = str(tmp_path / "s.sock")
    port_code = "t = socket.socket(); t.bind(('127.0.0.1', 0)); t.listen()\n"
    code = (
        "import os, socket, sys\n"
        "sys.modules['ssl'] = None\n"                           # as init runs
        "from upstart.readiness.socketsrc import DiagProbe\n"
        "from upstart.readiness.spec import parse_socket\n"
        "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()\n"
        + port_code +
        "p = DiagProbe()\n"
        "got = p.listeners(parse_socket(('PROTO=unix', 'PATH=' + sys.argv[1])))\n"
        "assert got == [os.fstat(s.fileno()).st_ino], got\n"
        "spec = parse_socket(('PROTO=inet', 'PORT=%d' % t.getsockname()[1]))\n"
        "assert p.listeners(spec) == [os.fstat(t.fileno()).st_ino]\n"
        "print(sorted(m for m in sys.modules if m.startswith('pyroute2')))\n")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
