"""Fuzzing initctl's argument parser (issue #14).

`initctl.main([prog, *args])` against a live control server with the
in-memory backend (never a real init): for any argument vector it returns an
exit code (usage errors 1, failures 1, help/version 0); it never raises.
Arguments mix the real commands and options with arbitrary text.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest
from fuzz_common import fuzz
from hypothesis import given
from hypothesis import strategies as st

from upstart.cli import initctl
from control_harness import ServerThread
from membackend import MemoryBackend, ToyJob

OPTIONS = ["--no-wait", "-n", "--quiet", "-q", "--verbose", "-v", "--help", "--version",
           "--system", "--session", "--user", "--dest=com.ubuntu.Upstart", "--dest", "-e",
           "--enumerate", "--ignore-events=a,b", "--warn", "--only-jobs", "--", "-",
           "--no-such", "-Z", "--apply-to-all"]
ARGS = ["svc", "inst", "N=1", "A=B", "=", "", "nosuchjob", "debug", "info", "K", "K=v",
        "-t", "--retain", "x" * 300]


@pytest.fixture(scope="module")
def address():
    backend = MemoryBackend([ToyJob("svc"), ToyJob("inst", instance_var="N"),
                             ToyJob("t", task=True)])
    with ServerThread(backend) as server:
        yield server.address


argv = st.lists(st.one_of(st.sampled_from(list(initctl.COMMANDS)), st.sampled_from(OPTIONS),
                          st.sampled_from(ARGS), st.text(max_size=20)), max_size=7)
progs = st.sampled_from(["initctl", "start", "stop", "status", "restart", "reload"])


@fuzz(0.5)
@given(progs, argv)
def test_initctl_never_raises(address, prog, args):
    if "--system" in args or "--session" in args or "--user" in args:
        return                              # those would leave the test server
    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("UPSTART_SESSION")
    os.environ["UPSTART_SESSION"] = address
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = initctl.main([prog, *args])
    finally:
        if old is None:
            os.environ.pop("UPSTART_SESSION", None)
        else:
            os.environ["UPSTART_SESSION"] = old
    assert isinstance(code, int) and 0 <= code <= 255
    if err.getvalue():
        assert "Traceback" not in err.getvalue()
