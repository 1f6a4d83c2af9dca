"""`--write-state-file` and `UPSTART_WRITE_STATEFILE` (DM-01, DM-25, spec 05
§1): after a stateful re-exec the new init keeps the document it received in
`<logdir>/upstart.state`, mode 0400, as 1.13; without either, no file."""

from __future__ import annotations

import json
import os
import stat

import pytest
from init_harness import SessionInit, request_restart

JOBS = {"svc": "exec sleep 100000\n"}


@pytest.mark.parametrize("how", ["option", "environment", "neither"])
def test_the_received_state_is_kept_when_asked(how):
    args = ("--no-startup-event", "--verbose") + (("--write-state-file",) if how == "option" else ())
    env = {"UPSTART_WRITE_STATEFILE": "1"} if how == "environment" else None
    with SessionInit(JOBS, args=args, env=env) as init:
        assert init.initctl("start", "svc").returncode == 0
        pid = init.status("svc").rsplit(" ", 1)[-1]
        request_restart(init.address)
        init.wait_for(lambda: "Stateful re-exec completed" in init.init_log())
        init.wait_for(lambda: init.initctl("version").returncode == 0)
        assert init.status("svc").rsplit(" ", 1)[-1] == pid       # the job lived on
        path = os.path.join(init.log, "upstart.state")
        if how == "neither":
            assert not os.path.exists(path)
            return
        init.wait_for(lambda: os.path.exists(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
        with open(path) as f:
            doc = json.load(f)
        assert "svc" in json.dumps(doc["engine"])
