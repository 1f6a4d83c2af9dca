"""AppArmor stanzas against the real daemon (spec 01 §10; issues #4 and #25).

Where AppArmor is unusable (no `/sys/module/apparmor`, as on this host and in
most containers) a job with `apparmor switch` or `apparmor load` runs, and init
says once that it ran without the profile (1.13 was silent). Where it is usable,
`apparmor load PATH` runs the real `/sbin/apparmor_parser -r -W PATH` as the job's
`security` process before `pre-start`: shown with init as PID 1 in namespaces
whose /sys/module says AppArmor is enabled, so that init takes the usable path
and the real parser runs (and, with no AppArmor in this kernel, complains; its
exit status is ignored as in 1.13).
"""

from __future__ import annotations

import os

import pytest
from init_harness import Pid1Init, SessionInit

from upstart.process.setup import apparmor_usable

unusable = pytest.mark.skipif(apparmor_usable(), reason="AppArmor is usable here")


@unusable
def test_unusable_apparmor_switch_warns_once_and_runs():
    with SessionInit(jobs={"aa": "apparmor switch my-profile\nexec sleep 100000\n"}) as init:
        for _ in range(2):
            out = init.initctl("start", "aa")
            assert out.stdout.startswith("aa start/running, process "), out.stderr
            init.initctl("stop", "aa")
        log = init.wait_for(lambda: init.init_log() if "AppArmor" in init.init_log() else None)
        assert log.count("init: aa: AppArmor is not available, running without profile "
                         "my-profile") == 1


@unusable
def test_unusable_apparmor_load_warns_once_and_runs(tmp_path):
    job = ("apparmor load %s\npre-start exec true\nexec sleep 100000\n" % (tmp_path / "prof"))
    with SessionInit(jobs={"aa": job}) as init:
        for _ in range(2):
            out = init.initctl("start", "aa")
            assert out.stdout.startswith("aa start/running, process "), out.stderr
            init.initctl("stop", "aa")
        log = init.wait_for(lambda: init.init_log() if "AppArmor" in init.init_log() else None)
        assert log.count("init: aa: AppArmor is not available, not loading profile %s"
                         % (tmp_path / "prof")) == 1


# /sys/module as the kernel shows it with AppArmor enabled
APPARMOR_ENABLED = ("mount -t tmpfs tmpfs /sys/module && mkdir -p /sys/module/apparmor/parameters"
                    " && echo Y > /sys/module/apparmor/parameters/enabled")


@pytest.mark.skipif(not os.access("/sbin/apparmor_parser", os.X_OK),
                    reason="apparmor_parser is not installed (tools/setup-system.sh)")
def test_apparmor_load_runs_apparmor_parser_before_the_job(tmp_path):
    profile = tmp_path / "upstart-test-profile"
    profile.write_text("profile upstart-test-profile {\n}\n")
    job = ("apparmor load %s\nconsole log\npre-start exec echo PRE-START\n"
           "exec sleep 100000\n" % profile)
    with Pid1Init(jobs={"aa": job}, setup=APPARMOR_ENABLED) as init:
        r = init.run("initctl", "start", "aa")
        assert r.stdout.startswith("aa start/running, process "), r.stdout + r.stderr
        log_path = os.path.join(init.logdir, "aa.log")
        log = init.wait_for(lambda: "PRE-START" in _read(log_path) and _read(log_path))
        before = log.split("PRE-START")[0]
        # the real parser ran first (and, with no AppArmor in this kernel, said so)
        assert "apparmor" in before.lower(), log
        assert "not available" not in init.kmsg()


def _read(path) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
