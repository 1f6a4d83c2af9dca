"""The netlink header walk shared by the sock_diag and rtnetlink readers."""

import struct

from upstart.nlmsg import HEADER, NLMSG_DONE, NLMSG_ERROR, align, walk


def _msg(kind: int, body: bytes, seq: int = 1, flags: int = 2) -> bytes:
    raw = HEADER.pack(HEADER.size + len(body), kind, flags, seq, 0) + body
    return raw + b"\0" * (align(len(raw)) - len(raw))


def test_walk_gives_each_message_body_in_order():
    data = _msg(20, b"abcde", seq=7) + _msg(NLMSG_ERROR, struct.pack("=i", -1)) + \
        _msg(NLMSG_DONE, b"\0\0\0\0", seq=9)
    got = list(walk(data))
    assert [(k, s) for k, _f, s, _b, _e in got] == [(20, 7), (NLMSG_ERROR, 1), (NLMSG_DONE, 9)]
    kind, flags, seq, body, end = got[0]
    assert (flags, data[body:end]) == (2, b"abcde")        # the padding is not the body


def test_a_damaged_datagram_ends_the_walk_there():
    good = _msg(20, b"x")
    assert list(walk(good[:HEADER.size - 1])) == []                        # half a header
    too_long = HEADER.pack(HEADER.size + 100, 20, 0, 1, 0) + b"y"
    assert [m[0] for m in walk(good + too_long + good)] == [20]            # length past the end
    too_short = HEADER.pack(4, 20, 0, 1, 0)
    assert [m[0] for m in walk(good + too_short + good)] == [20]           # length under a header
    assert list(walk(b"")) == []
