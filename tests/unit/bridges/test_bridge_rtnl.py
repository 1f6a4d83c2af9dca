"""rtnl: the netlink structs the link watch reads, from bytes laid out as the
kernel writes them (the real-kernel cases are in test_bridge_netlink.py)."""

from __future__ import annotations

import struct

from upstart.bridges import rtnl


def _msg(kind: int, body: bytes, seq: int = 7, flags: int = 2) -> bytes:
    size = 16 + len(body)
    return struct.pack("=IHHII", size, kind, flags, seq, 0) + body + b"\0" * (-size % 4)


def _newlink(index: int, ifflags: int, name: bytes | None, kind: int = rtnl.RTM_NEWLINK):
    attrs = struct.pack("=HH", 8, 4) + struct.pack("=I", 1500)          # IFLA_MTU first
    if name is not None:
        data = name + b"\0"
        attrs += struct.pack("=HH", 4 + len(data), rtnl.IFLA_IFNAME) + data
        attrs += b"\0" * (-len(attrs) % 4)
    return _msg(kind, struct.pack("=BxHiII", 0, 1, index, ifflags, 0) + attrs)


def test_link_messages_errors_and_done_in_one_datagram():
    data = (_newlink(2, 0x41, b"eth0") + _newlink(3, 0, b"wlan0", rtnl.RTM_DELLINK)
            + _newlink(4, 1, None) + _msg(rtnl.NLMSG_ERROR, struct.pack("=i", -95) + b"\0" * 16)
            + _msg(rtnl.NLMSG_DONE, struct.pack("=i", 0)))
    msgs = rtnl.parse(data)
    assert [(m.type, m.index, m.ifflags, m.name) for m in msgs[:3]] == [
        (rtnl.RTM_NEWLINK, 2, 0x41, "eth0"), (rtnl.RTM_DELLINK, 3, 0, "wlan0"),
        (rtnl.RTM_NEWLINK, 4, 1, None)]
    assert (msgs[3].type, msgs[3].error) == (rtnl.NLMSG_ERROR, -95)
    assert msgs[4].type == rtnl.NLMSG_DONE and all(m.seq == 7 for m in msgs)


def test_a_truncated_tail_is_ignored():
    whole = _newlink(2, 1, b"eth0")
    assert [m.name for m in rtnl.parse(whole + whole[:20])] == ["eth0"]
    assert rtnl.parse(b"\xff" * 10) == []


def test_the_dump_request_is_a_header_and_an_ifinfomsg():
    req = rtnl.getlink_dump(5)
    assert struct.unpack("=IHHII", req[:16]) == (32, rtnl.RTM_GETLINK, 0x301, 5, 0)
    assert req[16:] == b"\0" * 16
