"""init runs on its own reactor: asyncio (and what it drags in: logging,
concurrent.futures, ssl) is never imported by PID 1 or a Session Init
(docs/design/reactor.md); nor are `dataclasses` and its `inspect`: the
record classes are our own (docs/design/records.md).

Read from the real process, the way CPython reports it: init is started with
`PYTHONPROFILEIMPORTTIME=1`, so the interpreter writes one line to init's
stderr for every module it imports, whenever it imports it (at start or
later inside a function). The test then has init do what a boot does:
load jobs, start and stop services and a task, answer D-Bus calls, take a
signal (SIGHUP reloads), run timers (`kill timeout`), and, as PID 1,
re-exec itself (`telinit u`). PID 1 moves its stdio to /dev/console early
(upstart/daemon/boot.py), which the harness makes a file: the lines are read
from the stderr it was started with and from that file.
The modules named must be absent; modules init does import must be
present, so the check cannot pass because nothing was recorded.
"""

from __future__ import annotations

import os
import re
import signal

from init_harness import Pid1Init, SessionInit

FORBIDDEN = ("asyncio", "logging", "concurrent", "ssl", "dataclasses", "inspect")
ARGS = ("--no-startup-event", "--verbose")     # verbose: the reload is logged
JOBS = {
    "svc": "start on go\nkill timeout 1\nexec sleep 100000\n",
    "stubborn": "start on go\nkill timeout 1\nexec sh -c 'trap \"\" TERM; sleep 100000'\n",
    "once": "start on go\ntask\nexec true\n",
}


def _imported(text: str) -> set[str]:
    """The modules of `-X importtime` lines (`import time: self | cumulative | name`)."""
    return {m.group(1).strip() for m in re.finditer(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$",
                                                   text, re.M)}


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


def _exercise(init) -> None:
    assert init.initctl("emit", "go").returncode == 0
    init.wait_for(lambda: "start/running" in init.state("stubborn"))
    assert init.initctl("status", "once").stdout.startswith("once stop/waiting")
    assert init.initctl("stop", "svc").returncode == 0
    # a kill timer: SIGTERM ignored, SIGKILL after the `kill timeout`
    assert init.initctl("stop", "stubborn").returncode == 0
    assert init.state("stubborn").startswith("stubborn stop/waiting")
    assert "svc" in init.initctl("list").stdout


def test_a_pid1_init_never_imports_asyncio_logging_or_concurrent():
    def stderr_to_file(tmp):
        return ["sh", "-c", 'exec "$@" 2>"$0"', os.path.join(tmp, "imports")]
    with Pid1Init(jobs=JOBS, args=ARGS, env={"PYTHONPROFILEIMPORTTIME": "1"},
                  wrap=stderr_to_file) as init:
        _exercise(init)
        init.signal(signal.SIGHUP)
        init.wait_for(lambda: "Reloading configuration" in init.kmsg())
        assert init.initctl("emit", "go").returncode == 0
        init.wait_for(lambda: "start/running" in init.state("stubborn"))
        pid = init.main_pid("stubborn")
        res = init.run("telinit", "u")                    # stateful re-exec
        assert res.returncode == 0, res.stderr
        init.wait_for(lambda: "Stateful re-exec completed" in init.kmsg())
        assert init.main_pid("stubborn") == pid is not None
        text = ""
        for name in ("imports", "console"):   # PID 1 moves its stdio to /dev/console
            with open(os.path.join(init.tmp, name), errors="replace") as f:
                text += f.read()
    modules = _imported(text)
    assert {"upstart.daemon.daemon", "upstart.reactor.loop", "upstart.control.server",
            "upstart.daemon.reexec", "upstart.process.supervisor",
            "upstart.records"} <= modules, text[-2000:]
    # the first init and the re-exec'd one
    assert len(re.findall(r"\|\s*upstart\.reactor\.loop$", text, re.M)) == 2
    assert _heavy(modules) == []


def test_a_session_init_never_imports_asyncio_logging_or_concurrent():
    with SessionInit(jobs=JOBS, args=ARGS, env={"PYTHONPROFILEIMPORTTIME": "1"}) as init:
        _exercise(init)
        os.kill(init.proc.pid, signal.SIGHUP)
        init.wait_for(lambda: "Reloading configuration" in init.init_log())
        text = init.init_log()
    modules = _imported(text)
    assert {"upstart.daemon.daemon", "upstart.reactor.loop",
            "upstart.control.server", "upstart.records"} <= modules, text[-2000:]
    assert _heavy(modules) == []
