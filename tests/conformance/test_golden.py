"""Golden conformance: every recorded Upstart 1.13.2 scenario replayed against our init.

One test per file of ``tests/conformance/golden/scenarios`` (id = file stem; scenarios whose
expectations follow a deliberate project change carry ``[decided-07-6]``).  Each test
runs ``golden_replay.py`` as PID 1 of private PID, network and mount namespaces, so init, its
jobs and every command die with it, even when the test fails or times out, and tests
can run in parallel (``-n 8`` with pytest-xdist).  ``golden_compare.py`` then checks rc,
stdout, stderr, polls, waits, the event stream and the files (hard), PID labels (a
separate assertion), and init's log (soft: reported as a ``GoldenLogMismatch``
warning, a failure only with ``UPSTART_GOLDEN_STRICT_LOG=1``).

Expected failures are listed in ``XFAIL`` only, as strict xfails: a scenario that
starts passing turns red until its entry is removed.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

import golden_compare as compare
from testdata import SCENARIOS

GOLDEN = SCENARIOS
BINDIR = Path(sys.executable).parent
REPLAY = Path(__file__).resolve().parent / "golden_replay.py"
BUDGET = float(os.environ.get("UPSTART_GOLDEN_BUDGET", "90"))
STRICT_LOG = os.environ.get("UPSTART_GOLDEN_STRICT_LOG") == "1"

# Known failures: {"NNN-name": "reason (issue #N)"}.  Strict: a fixed one goes red
# until its entry is removed here.
XFAIL: dict[str, str] = {}


def _params():
    params = []
    for path in sorted(GOLDEN.glob("*.json")):
        with open(path) as f:
            _, tag = compare.adjust_scenario(path.stem, json.load(f))
        marks = []
        if path.stem in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[path.stem]))
        pid = path.stem + (f"[{tag}]" if tag else "")
        params.append(pytest.param(path, id=pid, marks=marks))
    return params


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when pytest dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _replay(scenario: dict, work: str) -> dict:
    """Run golden_replay.py in fresh namespaces; return its result (raises on runner trouble)."""
    spath = os.path.join(work, "scenario.json")
    with open(spath, "w") as f:
        json.dump(scenario, f)
    cmd = ["unshare", "--net", "--mount", "--propagation", "private", "--pid", "--fork",
           "--kill-child", "--mount-proc",
           sys.executable, str(REPLAY), spath, work, str(BINDIR)]
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "UPSTART_GOLDEN_BUDGET": str(BUDGET)}
    with open(os.path.join(work, "replay.log"), "wb") as log:
        # On timeout (ours or pytest-timeout's) subprocess.run kills unshare, and if
        # pytest itself dies unshare gets SIGKILL (PR_SET_PDEATHSIG); its --kill-child
        # then kills the namespace's PID 1, and with it everything in the namespace.
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                              stderr=subprocess.STDOUT, timeout=BUDGET + 60,
                              preexec_fn=_die_with_parent)
    rpath = os.path.join(work, "result.json")
    if not os.path.exists(rpath):
        with open(os.path.join(work, "replay.log"), errors="replace") as f:
            out = f.read()
        pytest.fail(f"golden_replay.py wrote no result (exit {proc.returncode}):\n{out[-4000:]}")
    with open(rpath) as f:
        return json.load(f)


def _rmtree(path: str) -> None:
    # Processes of the namespace are being killed as we go: retry once.
    for _ in range(3):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            return
        time.sleep(0.2)


@pytest.mark.golden
@pytest.mark.timeout(BUDGET + 90)
@pytest.mark.parametrize("scenario_path", _params())
def test_golden(scenario_path: Path) -> None:
    with open(scenario_path) as f:
        scenario, _ = compare.adjust_scenario(scenario_path.stem, json.load(f))
    for prog in ("init", "initctl"):
        assert (BINDIR / prog).exists(), f"{BINDIR / prog} is missing (run `make venv`)"
    work = tempfile.mkdtemp(prefix=f"golden-{scenario_path.stem[:3]}-", dir="/tmp")
    try:
        result = _replay(scenario, work)
    finally:
        _rmtree(work)
    outcome = compare.compare(scenario, result)
    log_text = "\n".join(outcome.log_failures)
    if outcome.failures:
        msg = [f"{scenario_path.stem}: {scenario['title']}"] + outcome.failures
        if outcome.pid_failures:
            msg.append("(PID labels also differ:)\n" + "\n".join(outcome.pid_failures))
        if log_text:
            msg.append("(log also differs:)\n" + log_text)
        pytest.fail("\n".join(msg), pytrace=False)
    if outcome.pid_failures:
        pytest.fail(f"{scenario_path.stem}: PID labels differ (respawn/restart/expect bug?)\n"
                    + "\n".join(outcome.pid_failures), pytrace=False)
    if log_text:
        if STRICT_LOG:
            pytest.fail(f"{scenario_path.stem}: {log_text}", pytrace=False)
        warnings.warn(compare.GoldenLogMismatch(f"golden log mismatch: {scenario_path.stem}: {log_text}"),
                      stacklevel=1)
