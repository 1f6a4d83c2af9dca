"""Watch specs: parsing `file`/`socket`/`dbus` leaves, and the event each
emits matching the very leaf it came from (checked with the core's matcher)."""

from __future__ import annotations

import pytest

from upstart.jobfile.match import match_args
from upstart.readiness.spec import DbusSpec, FileSpec, SocketSpec, parse_leaf


def leaf(text: str):
    name, *args = text.split()
    return name, tuple(args)


@pytest.mark.parametrize("text, found", [
    ("file FPATH=/var/log/app.log", None),
    ("file FILE=/var/log/app.log", None),
    ("file /var/log/app.log", None),
    ("file FPATH=/var/log/*.log", "/var/log/x.log"),
    ("socket PROTO=inet PORT=80", None),
    ("socket PROTO=inet PORT=80 ADDR=127.0.0.1", None),
    ("socket inet 80", None),
    ("socket PROTO=inet6 PORT=8080 ADDR=::1", None),
    ("socket PROTO=unix PATH=/run/app.sock", None),
    ("socket PROTO=unix SOCKET_PATH=@app", None),
    ("socket unix /run/app.sock", None),
    ("dbus NAME=org.example.App", None),
    ("dbus NAME=org.example.App BUS=session", None),
    ("dbus org.example.App", None),
])
def test_emitted_event_matches_its_leaf(text, found):
    name, args = leaf(text)
    spec = parse_leaf(name, args, session_init=False)
    assert not isinstance(spec, str), spec
    env = spec.event_env(found) if isinstance(spec, FileSpec) else spec.event_env()
    assert match_args(name, args, name, env)


def test_file_spec_fields():
    spec = parse_leaf("file", ("FPATH=/a/b/c",), session_init=False)
    assert spec == FileSpec("/a/b/c")
    assert spec.directory == "/a/b" and not spec.is_glob
    assert spec.event_env() == ["FPATH=/a/b/c"]
    glob = parse_leaf("file", ("FPATH=/a/*.sock",), session_init=False)
    assert glob.is_glob and glob.matches("/a/x.sock") and not glob.matches("/a/x.log")
    assert parse_leaf("file", ("FPATH=/x",), session_init=False).directory == "/"


def test_socket_spec_fields_and_acceptance():
    spec = parse_leaf("socket", ("PROTO=inet", "PORT=8080"), session_init=False)
    assert isinstance(spec, SocketSpec) and spec.port == 8080 and spec.addr is None
    assert spec.accepts("0.0.0.0", 8080) and spec.accepts("10.0.0.1", 8080)
    assert not spec.accepts("0.0.0.0", 8081)
    only = parse_leaf("socket", ("PROTO=inet", "PORT=80", "ADDR=127.0.0.1"), session_init=False)
    assert only.accepts("127.0.0.1", 80) and only.accepts("0.0.0.0", 80)
    assert not only.accepts("10.1.1.1", 80)
    unix = parse_leaf("socket", ("PROTO=unix", "PATH=@abs"), session_init=False)
    assert unix.accepts_unix("abs", True) and not unix.accepts_unix("abs", False)
    path = parse_leaf("socket", ("PROTO=unix", "PATH=/run/s"), session_init=False)
    assert path.accepts_unix("/run/s", False) and not path.accepts_unix("/run/t", False)


def test_dbus_default_bus_follows_the_init_mode():
    assert parse_leaf("dbus", ("NAME=org.x.Y",), session_init=False) == \
        DbusSpec("org.x.Y", "system", (("NAME", "NAME"),))
    assert parse_leaf("dbus", ("NAME=org.x.Y",), session_init=True).bus == "session"
    assert parse_leaf("dbus", ("NAME=org.x.Y", "BUS=session"), session_init=False).bus == \
        "session"


@pytest.mark.parametrize("text, why", [
    ("file FPATH=relative/path", "absolute"),
    ("socket PROTO=tcp PORT=80", "PROTO"),
    ("socket PROTO=inet PORT=0", "PORT"),
    ("socket PROTO=inet PORT=http", "PORT"),
    ("socket PROTO=inet PORT=80 ADDR=::1", "not an inet address"),
    ("socket PROTO=inet PORT=80 ADDR=nohost", "not an address"),
    ("socket PROTO=unix PATH=rel", "PATH"),
    ("dbus NAME=:1.42", "well-known"),
    ("dbus NAME=org.x BUS=user", "BUS"),
    ("udev SUBSYSTEM=net", "not a watched source"),
])
def test_unwatchable_leaves_say_why(text, why):
    name, args = leaf(text)
    got = parse_leaf(name, args, session_init=False)
    assert isinstance(got, str) and why in got


def test_negations_and_extra_keys_are_not_watched_but_kept_matchable():
    spec = parse_leaf("file", ("FPATH=/x", "EVENT!=delete", "OTHER=1"), session_init=False)
    assert spec == FileSpec("/x")
