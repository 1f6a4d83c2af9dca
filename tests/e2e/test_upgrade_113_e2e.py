"""The in-place upgrade from Upstart 1.13 (issue #22 items 1-2), against the real daemon.

C Upstart 1.13 re-execs `/sbin/init` (now ours) with `--restart --state-fd N` and
its whole state as JSON on that fd. `upgrade_exec.py` plays its part: it starts a
live process for every PID of a state recorded from the real 1.13.2, writes the
document with those PIDs and execs our init, so the processes are children of
the process that becomes our init, as in a real upgrade. Then `initctl list` and
`status` must show what the document says, the same processes stay supervised and
events still match. A damaged or unknown document gives a clean start with a clear
log line. And a round trip: our `GetState` -> a new init restored from it -> same
status.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import golden_state
import pytest
from golden_state import NAMES, PID1, STATE_DIR, confdir
from init_harness import Pid1Init, SessionInit

# 1.13's stand-in, beside the other test support
UPGRADE_EXEC = os.path.join(os.path.dirname(os.path.abspath(golden_state.__file__)),
                            "upgrade_exec.py")
STATES = {"JOB_WAITING": "waiting", "JOB_STARTING": "starting", "JOB_RUNNING": "running",
          "JOB_PRE_START": "pre-start", "JOB_POST_STOP": "post-stop"}
SLOTS = ("main", "pre-start", "post-start", "pre-stop", "post-stop", "security")


def jobs_of(name: str) -> dict[str, str]:
    return {p.stem: p.read_text() for p in confdir(name).glob("*.conf")}


def handing_over(text_of, listen: str | None = None):
    """`wrap` for the harness: 1.13's exec, with the document `text_of(tmp)`."""
    def wrap(tmp: str) -> list[str]:
        path = os.path.join(tmp, "state.json")
        with open(path, "w") as f:
            f.write(text_of(tmp))
        return [sys.executable, UPGRADE_EXEC, *(("--listen", listen) if listen else ()), path,
                os.path.join(tmp, "pids.json")]
    return wrap


def recorded(name: str):
    return handing_over(lambda tmp: (STATE_DIR / f"{name}.json").read_text()
                        .replace("@DIR@", tmp))


def expected_list(doc: dict, pids: dict[str, int]) -> list[str]:
    """What `initctl list` must print for a document (1.13's own format)."""
    lines = []
    for cls in doc["job_classes"]:
        if not cls["jobs"]:
            lines.append(f"{cls['name']} stop/waiting")
        for job in cls["jobs"]:
            goal = job["goal"][4:].lower()
            head = f"{cls['name']} ({job['name']})" if job["name"] else cls["name"]
            line = f"{head} {goal}/{STATES[job['state']]}"
            live = [(slot, pids[str(p)]) for slot, p in zip(SLOTS, job["pid"]) if p]
            for i, (slot, pid) in enumerate(live):
                line += f", process {pid}" if i == 0 and slot == "main" else \
                    f"\n\t{slot} process {pid}"
            lines += line.split("\n")
    return sorted(lines)


def pid_map(tmp: str) -> dict[str, int]:
    with open(os.path.join(tmp, "pids.json")) as f:
        return json.load(f)


def listing(init) -> list[str]:
    return sorted(init.initctl("list").stdout.splitlines())


def status(init, *args) -> str:
    """`initctl status` as printed, unstripped (the harness's `status` strips)."""
    return init.initctl("status", *args).stdout


def alive(pid: int, init=None) -> bool:
    if init is not None and not isinstance(init, SessionInit):
        return init.run("kill", "-0", str(pid)).returncode == 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:        # a zombie is not alive
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def kill(init, pid: int) -> None:
    if isinstance(init, SessionInit):
        os.kill(pid, signal.SIGKILL)
    else:
        init.run("kill", "-KILL", str(pid))


# what each recorded state must do after the upgrade: events still match, the
# restored processes are still supervised
def after_01(init, pids):
    a = pids["5008"]
    kill(init, a)
    init.wait_for(lambda: status(init, "a") == "a stop/waiting\n")


def after_02(init, pids):
    # the job environment and the latched half of `foo and bar` came across
    assert init.initctl("get-env", "X").stdout == "1\n"
    assert init.initctl("emit", "bar").returncode == 0
    init.wait_for(lambda: status(init, "both").startswith("both start/running, process "))
    # `stop on stopping w` still matches; the instances keep their env
    assert init.initctl("stop", "w", "N=1").returncode == 0
    init.wait_for(lambda: status(init, "both") == "both stop/waiting\n")
    assert not alive(pids["5014"])
    assert status(init, "w", "N=2") == f"w (2) start/running, process {pids['5016']}\n"


def after_03(init, pids):
    # `after` holds `starting slow`: when it finishes, slow goes on to its pre-start
    kill(init, pids["5023"])
    init.wait_for(lambda: "start/pre-start" in status(init, "slow"))
    assert status(init, "after") == "after stop/waiting\n"


def after_04(init, pids):
    d = pids["5040"]
    kill(init, d)                                 # respawn: a new main process
    init.wait_for(lambda: status(init, "d").startswith("d start/running, process ")
                  and status(init, "d") != f"d start/running, process {d}\n")
    assert init.initctl("stop", "s").returncode == 0    # its post-stop runs, then it rests
    init.wait_for(lambda: status(init, "s") == "s stop/waiting\n")
    assert not alive(pids["5042"])


def after_05(init, pids):
    assert init.initctl("emit", "runlevel", "RUNLEVEL=1", "PREVLEVEL=2").returncode == 0
    init.wait_for(lambda: status(init, "rl") == "rl stop/waiting\n")
    assert not alive(pids["5"], init)


AFTER = {"01-one-running": after_01, "02-instances-env-latched": after_02,
         "03-blocked-in-transition": after_03, "04-respawn-log-expect": after_04,
         "05-pid1-runlevel": after_05}


@pytest.mark.parametrize("name", NAMES)
def test_upgrade_from_a_recorded_113_state(name):
    doc = json.loads((STATE_DIR / f"{name}.json").read_text())
    if name in PID1:
        init_cm = Pid1Init(jobs_of(name), wrap=recorded(name))
    else:
        init_cm = SessionInit(jobs_of(name), wrap=recorded(name),
                              args=("--no-startup-event", "--verbose"))
    with init_cm as init:
        pids = pid_map(init.tmp)
        assert listing(init) == expected_list(doc, pids)
        if isinstance(init, SessionInit):
            assert "Restored Upstart 1.13 state" in init.init_log()
        for pid in pids.values():
            assert alive(pid, init)
        # the console logs 1.13 kept open (its pty masters) are read by our init
        with open(os.path.join(init.tmp, "go"), "w"):
            pass
        for cls in doc["job_classes"]:
            for job in cls["jobs"]:
                if job["pid"][0] and job["log"][0].get("io_watch_fd", -1) >= 0:
                    path = job["log"][0]["path"].replace("@DIR@", init.tmp)
                    init.wait_for(lambda p=path: os.path.exists(p)
                                  and "after-upgrade" in open(p).read())
        AFTER[name](init, pids)


@pytest.mark.parametrize("text", [
    lambda t: (STATE_DIR / "01-one-running.json").read_text()[:700],
    lambda t: (STATE_DIR / "01-one-running.json").read_text().replace(
        "JOB_RUNNING", "JOB_DANCING"),
], ids=["damaged", "unknown-version"])
def test_bad_113_state_gives_a_clean_start(text, request):
    with SessionInit(jobs_of("01-one-running"), wrap=handing_over(text)) as init:
        log = init.init_log()
        assert "init: Failed to read serialisation data - reverting to stateless re-exec: " \
            in log
        if "unknown-version" in request.node.name:
            assert "Upstart 1.13 state: job a: unknown state 'JOB_DANCING'" in log
        assert init.proc.poll() is None
        assert status(init, "a") == "a stop/waiting\n"
        out = init.initctl("start", "a")
        assert out.stdout.startswith("a start/running, process ")


def get_state(init) -> str:
    from upstart.control import client

    with client.connect(init.address) as conn:
        return conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetState")[0]


def test_round_trip_our_getstate_restores_the_same_status(tmp_path):
    seen = tmp_path / "seen"
    jobs = jobs_of("02-instances-env-latched") | {"slow": "start on go\npre-start exec sleep 100000\n"
                                                  "exec sleep 100000\n",
                                                  "after": "start on starting slow\ntask\n"
                                                  "exec sleep 100000\n",
                                                  "seen": "start on foo and bar\ntask\n"
                                                  f"exec sh -c 'echo A=$A > {seen}'\n"}
    with SessionInit(jobs) as first:
        assert first.initctl("set-env", "X=1").returncode == 0
        assert first.initctl("log-priority", "info").returncode == 0
        assert first.initctl("set-state", "net", "IFACE=eth0").returncode == 0
        for n in ("1", "2"):
            assert first.initctl("start", "w", f"N={n}").returncode == 0
        first.initctl("emit", "--no-wait", "foo", "A=1")
        first.initctl("emit", "--no-wait", "go", "K=v")
        first.wait_for(lambda: status(first, "after").startswith("after start/running"))
        text = get_state(first)
        doc = json.loads(text)
        assert list(doc)[:6] == ["sessions", "events", "control_bus_address",
                                 "job_environment", "job_classes", "conf_sources"]
        assert doc["x-upstart-py"]["daemon"]["log_priority"] == "info"
        before = listing(first)
        states = first.initctl("list-states").stdout
        assert "net IFACE=eth0\n" in states
        old_conf = first.conf

        def ours(tmp):
            return text.replace(old_conf, os.path.join(tmp, "conf"))

        with SessionInit(jobs, wrap=handing_over(ours)) as second:
            pids = pid_map(second.tmp)
            renamed = sorted(line for line in before)
            for old, new in pids.items():
                renamed = [line.replace(f"process {old}", f"process {new}") for line in renamed]
            assert listing(second) == sorted(renamed)
            assert second.initctl("get-env", "X").stdout == "1\n"
            assert second.initctl("log-priority").stdout == "info\n"   # our extra keys
            assert second.initctl("list-states").stdout == states
            # the latched `foo` and the blocked `starting slow` came across
            assert second.initctl("emit", "bar").returncode == 0
            second.wait_for(lambda: status(second, "both").startswith("both start/running"))
            # with foo's environment, though foo itself had finished before GetState
            second.wait_for(lambda: seen.exists() and seen.read_text() == "A=1\n")
            after = int(status(second, "after").rsplit(" ", 1)[1])
            kill(second, after)
            second.wait_for(lambda: "start/pre-start" in status(second, "slow"))


def test_a_listening_socket_left_open_by_the_old_init_is_adopted(tmp_path):
    """Where the exec'ing init leaves its control socket open, ours takes it over:
    the address is not found taken, and a client already waiting in its backlog
    is served."""
    flag = tmp_path / "queued"
    jobs = jobs_of("01-one-running") | {"q": f"start on queued\ntask\nexec touch {flag}\n"}
    address = f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/{{pid}}"
    with SessionInit(jobs, wrap=handing_over(lambda tmp: (STATE_DIR / "01-one-running.json")
                                             .read_text().replace("@DIR@", tmp), address),
                     args=("--no-startup-event", "--verbose")) as init:
        init.wait_for(flag.exists)
        assert "Unable to listen" not in init.init_log()
        assert status(init, "a") == f"a start/running, process {pid_map(init.tmp)['5008']}\n"


def test_bad_113_state_as_pid1_gives_a_clean_start():
    """PID 1 never dies on a damaged document: it says why and boots from disk."""
    damaged = (STATE_DIR / "05-pid1-runlevel.json").read_text()[:900]
    with Pid1Init(jobs_of("05-pid1-runlevel"), wrap=handing_over(lambda tmp: damaged)) as init:
        assert "Failed to read serialisation data - reverting to stateless re-exec: " \
            in init.kmsg()
        assert init.proc.poll() is None and init.run("kill", "-0", "1").returncode == 0
        assert status(init, "rl") == "rl stop/waiting\n"
        assert init.initctl("emit", "runlevel", "RUNLEVEL=2", "PREVLEVEL=N").returncode == 0
        init.wait_for(lambda: status(init, "rl").startswith("rl start/running, process "))
