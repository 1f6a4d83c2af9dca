"""A real init never imports `dataclasses` (nor, on its own loop, `inspect`):
its record classes are `upstart.records` (docs/design/records.md).

Read from the real process: a Session Init started with
`PYTHONPROFILEIMPORTTIME=1` writes one line to its log for every module it
imports, whenever it imports it. The test has it load jobs, start a service
and a task, answer `initctl`, stop the service and reload. Modules init does
import must be present, so the check cannot pass because nothing was recorded.
"""

from __future__ import annotations

import os
import re
import signal

from init_harness import SessionInit

JOBS = {
    "svc": "start on go\nexec sleep 100000\n",
    "once": "start on go\ntask\nexec true\n",
}


def _imported(text: str) -> set[str]:
    """The modules of `-X importtime` lines (`import time: self | cumulative | name`)."""
    return {m.group(1) for m in re.finditer(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$",
                                            text, re.M)}


def test_a_session_init_imports_no_dataclasses():
    with SessionInit(jobs=JOBS, args=("--verbose",),
                     env={"PYTHONPROFILEIMPORTTIME": "1"}) as init:
        assert init.initctl("emit", "go").returncode == 0
        init.wait_for(lambda: init.running("svc"))
        assert init.state("once").startswith("once stop/waiting")
        assert init.initctl("stop", "svc").returncode == 0
        os.kill(init.proc.pid, signal.SIGHUP)
        init.wait_for(lambda: "Reloading configuration" in init.init_log())
        text = init.init_log()
    modules = _imported(text)
    assert {"upstart.daemon.daemon", "upstart.records", "upstart.core.effects",
            "upstart.control.server"} <= modules, text[-2000:]
    assert "dataclasses" not in modules
    if "asyncio" not in modules:                   # asyncio imports inspect itself
        assert "inspect" not in modules
