"""Options shared by bridges: finding init, the pid file name, logging."""

import os
import io

import pytest

from upstart.bridges import common
from upstart.control.client import CallError


def test_init_address_prefers_upstart_session():
    env = {"UPSTART_SESSION": "unix:abstract=/com/ubuntu/upstart-session/0/42"}
    assert common.init_address(False, env) == env["UPSTART_SESSION"]
    assert common.init_address(True, env) == env["UPSTART_SESSION"]


def test_init_address_system_default_and_user_without_session():
    assert common.init_address(False, {}) == "unix:abstract=/com/ubuntu/upstart"
    with pytest.raises(common.BridgeError, match="^UPSTART_SESSION isn't set in environment$"):
        common.init_address(True, {})


def test_session_pidfile():
    env = {"XDG_RUNTIME_DIR": "/run/user/1000",
           "UPSTART_SESSION": "unix:abstract=/com/ubuntu/upstart-session/1000/1234"}
    assert common.session_pidfile("upstart-file-bridge", env) == \
        "/run/user/1000/upstart-file-bridge.1234.pid"
    assert common.session_pidfile("x", {"XDG_RUNTIME_DIR": "/r"}) is None


def test_log_prefixes_and_hides_info_unless_verbose():
    out = io.StringIO()
    log = common.Log("upstart-x-bridge", stream=out)
    log.warn("boom")
    log.info("hidden")
    common.Log("upstart-x-bridge", verbose=True, stream=out).info("shown")
    assert out.getvalue() == "upstart-x-bridge: boom\nupstart-x-bridge: shown\n"


def test_run_maps_results_and_fatal_errors(capsys):
    async def ok():
        return 0

    async def lost():
        return None

    async def fatal():
        raise common.BridgeError("nope")

    async def refused():
        raise CallError("org.freedesktop.DBus.Error.AccessDenied", "denied")

    assert common.run("b", ok) == 0
    assert common.run("b", lost) == 1
    assert common.run("b", fatal) == 1
    assert common.run("b", refused) == 1
    assert capsys.readouterr().err == "b: nope\nb: denied\n"


def test_notify_ready_sends_ready_on_the_notify_socket(tmp_path):
    import socket as _socket
    from upstart.bridges.common import notify_ready
    # a path socket and an abstract one (`@name`, as init hands them out)
    path = str(tmp_path / "notify")
    abstract = "@upstart-test-notify-%d" % os.getpid()
    for name, addr in ((path, path), (abstract, "\0" + abstract[1:])):
        with _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM) as rx:
            rx.bind(addr)
            rx.settimeout(5)
            assert notify_ready({"NOTIFY_SOCKET": name}) is True
            assert rx.recv(64) == b"READY=1\n"
    # no variable: nothing to say; nobody listening: no exception
    assert notify_ready({}) is False
    assert notify_ready({"NOTIFY_SOCKET": str(tmp_path / "nobody")}) is False
