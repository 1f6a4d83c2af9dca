"""`apparmor switch` where AppArmor is not usable: the job runs, and init says
once that it ran without the profile (issue #4; 1.13 was silent)."""

from __future__ import annotations

import pytest
from init_harness import SessionInit

from upstart.process.setup import apparmor_usable

pytestmark = pytest.mark.skipif(apparmor_usable(), reason="AppArmor is usable here")


def test_unusable_apparmor_switch_warns_once_and_runs():
    with SessionInit(jobs={"aa": "apparmor switch my-profile\nexec sleep 100000\n"}) as init:
        for _ in range(2):
            out = init.initctl("start", "aa")
            assert out.stdout.startswith("aa start/running, process "), out.stderr
            init.initctl("stop", "aa")
        log = init.wait_for(lambda: init.init_log() if "AppArmor" in init.init_log() else None)
        assert log.count("init: aa: AppArmor is not available, running without profile "
                         "my-profile") == 1
