"""The pure helpers of the local and dconf bridges (spec 06 §6-§7)."""

from __future__ import annotations

import pytest

from upstart.bridges import common, dconf, local


def test_pairs_keeps_the_unfinished_line_and_applies_1_13_rules():
    found, rest = local.pairs(b"a=1\n\nx\n=b\nnoeq\nc=2\r\nd=\xff\ne=\0\nf=par")
    assert found == ["a=1", "c=2"]
    assert rest == b"f=par"
    assert local.valid_pair(b"\r") is None
    assert local.valid_pair(b"ab\r") is None         # no `=`
    assert local.valid_pair(b"a=\r") == "a="


def test_fixed_variables_come_before_the_clients_pair():
    assert local.event_env("@x", (12, 34, 56), "CLIENT_UID=0") == [
        "SOCKET_TYPE=unix", "SOCKET_VARIANT=abstract", "CLIENT_UID=34", "CLIENT_GID=56",
        "CLIENT_PID=12", "SOCKET_PATH=@x", "CLIENT_UID=0"]
    assert local.event_env("/run/s", (1, 2, 3), "a=b")[1] == "SOCKET_VARIANT=named"


@pytest.mark.parametrize("path,message", [
    (None, "Must specify socket path"), ("", "Must specify socket path"),
    ("rel", "Invalid path rel"), ("/" + "x" * 108, "Path too long /" + "x" * 108)])
def test_check_path(path, message):
    with pytest.raises(common.BridgeError, match=message):
        local.check_path(path)


def test_changed_keys_joins_prefix_and_changes():
    assert dconf.changed_keys(["/a/b", [""], "tag"]) == ["/a/b"]
    assert dconf.changed_keys(["/a/", ["x", "y/z"], "tag"]) == ["/a/x", "/a/y/z"]
    assert dconf.changed_keys([]) == []


@pytest.mark.parametrize("text,plain", [
    ("uint32 5", "5"), ("[uint32 1, 2]", "[1, 2]"), ("@as []", "[]"),
    ("'uint32 7'", "'uint32 7'"), ("('a', int64 -1, byte 0x05)", "('a', -1, 0x05)"),
    ("{'k': <objectpath '/x'>}", "{'k': <'/x'>}"), ("\"it's\"", "\"it's\""),
    ("'hello'", "'hello'"), ("true", "true")])
def test_annotations_stripped(text, plain):
    assert dconf.annotations_stripped(text) == plain
