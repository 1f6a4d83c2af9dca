"""Observability end to end, against a real `init --user` (issue #12)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from init_harness import BIN, SessionInit

from upstart.control import client


def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def test_monitor_sees_a_burst_of_1000_events_in_order():
    with SessionInit() as s:
        mon = s.popen(os.path.join(BIN, "upstart-monitor"), "--event", "burst",
                      "--count", "1000", "-s", "|")
        try:
            for _ in range(6):     # the header ends with a blank line; printed once connected
                assert mon.stdout.readline() is not None
            with client.Connection(s.address) as conn:
                serials = [conn.send("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6",
                                     "EmitEvent", "sasb", ("burst", [f"N={n}"], False))
                           for n in range(1000)]
                for serial in serials:
                    conn.wait_reply(serial)
            out, err = mon.communicate(timeout=60)
        finally:
            if mon.poll() is None:
                mon.kill()
                mon.wait()
        lines = out.splitlines()
        assert len(lines) == 1000, err
        assert [line.split("|", 1)[1] for line in lines] == \
            [f"burst N='{n}'" for n in range(1000)]


def test_monitor_shows_job_changes_with_job_filter_and_json():
    with SessionInit({"t": "task\nexec true\n", "other": "exec sleep 30\n"}) as s:
        mon = s.popen(os.path.join(BIN, "upstart-monitor"), "--json", "--job", "t",
                      "--count", "21")
        try:
            time.sleep(0.5)                          # --json prints no header to wait for
            s.initctl("start", "other")
            s.initctl("start", "t")
            out, _ = mon.communicate(timeout=20)
        finally:
            if mon.poll() is None:
                mon.kill()
                mon.wait()
        items = [json.loads(line) for line in out.splitlines()]
        assert all(i.get("job") == "t" or "JOB=t" in i.get("env", []) for i in items)
        assert items[0] == dict(items[0], type="goal", job="t", value="start")
        states = [i["value"] for i in items if i["type"] == "state"]
        assert states[0] == "starting" and states[-1] == "waiting" and "running" in states
        assert [i["name"] for i in items if i["type"] == "event"] == \
            ["starting", "started", "stopping", "stopped"]


JOBS = {
    "a": "start on step1\nexec sleep 30\n",
    "b": "start on started a\nexec sleep 30\n",
    "c": "start on started b and step2\nexec sleep 30\n",
    "bad": "start on step1\npre-start exec sh -c 'echo first line; echo it broke; exit 3'\n"
           "exec sleep 30\n",
    "dbg": "debug\nexec sleep 31\n",
}


def test_why_names_the_chain_and_the_emitter():
    with SessionInit(JOBS) as s:
        assert s.initctl("emit", "step2").returncode == 0
        s.initctl("emit", "step1")
        s.wait_for(lambda: "start/running" in s.initctl("status", "c").stdout)
        out = s.initctl("why", "c")
        assert out.returncode == 0, out.stderr
        text = out.stdout
        for part in ('matched start on "started b"', 'matched start on "started a"',
                     'matched start on "step1"', 'matched start on "step2"',
                     "emitted by job b as it became running",
                     "emitted by job a as it became running",
                     "emitted by `initctl emit`", "initctl emit step1", "initctl emit step2"):
            assert part in text, text
        tree = json.loads(s.initctl("why", "--json", "c").stdout)
        assert tree["text"] == "c: goal start"
        assert s.initctl("why", "nosuch").stderr == "initctl: Unknown job: nosuch\n"


def test_failed_jobs_are_listed_with_reason_and_log_tail():
    with SessionInit(JOBS) as s:
        s.initctl("emit", "step1")
        s.wait_for(lambda: "bad failed" in s.initctl("list", "--failed").stdout)
        assert s.initctl("list", "--failed").stdout == \
            "bad failed: pre-start process ended with status 3\n"
        plain = s.initctl("status", "bad").stdout
        assert plain == "bad stop/waiting\n"
        verbose = s.initctl("status", "--verbose", "bad").stdout
        assert verbose.startswith(plain)
        assert "  failed: pre-start process ended with status 3\n" in verbose
        assert "    it broke\n" in verbose
        assert "bad" not in s.initctl("list", "--failed", "--quiet").stdout


def test_structured_log_file_records_events_states_and_processes():
    with SessionInit(JOBS) as s:
        s.initctl("emit", "step1")
        s.wait_for(lambda: "start/running" in s.initctl("status", "b").stdout)
        path = s.events

        def records():
            with open(path) as f:
                return [json.loads(line) for line in f]
        recs = s.wait_for(lambda: os.path.exists(path) and
                          any(r["kind"] == "spawn" and r["job"] == "b" for r in records())
                          and records())
        kinds = {r["kind"] for r in recs}
        assert {"event-queued", "event-handled", "event-finished", "goal", "state",
                "spawn", "exit", "job-failed"} <= kinds
        assert all(isinstance(r["mono"], float) and r["wall"] > 1e9 for r in recs)
        step1 = next(r for r in recs if r["kind"] == "event-queued" and r["name"] == "step1")
        assert step1["by"]["type"] == "emit" and step1["by"]["uid"] == os.getuid()


def test_timeline_svg_renders_and_contains_every_job(tmp_path):
    with SessionInit(JOBS) as s:
        s.initctl("emit", "step2")
        s.initctl("emit", "step1")
        s.wait_for(lambda: "start/running" in s.initctl("status", "c").stdout)
        text = s.initctl("timeline").stdout
        assert "critical chain: c <- b <- a" in text
        svg = tmp_path / "boot.svg"
        out = s.initctl("timeline", "--svg", str(svg))
        assert out.returncode == 0, out.stderr
        data = svg.read_text()
        for name in ("a", "b", "c", "bad"):
            assert 'class="job"' in data and f">{name}</text>" in data
        if shutil.which("rsvg-convert"):
            png = tmp_path / "boot.png"
            subprocess.run(["rsvg-convert", "-o", str(png), str(svg)], check=True)
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        offline = s.initctl("timeline", "-f", s.events)
        assert "critical chain: c <- b <- a" in offline.stdout


@pytest.mark.skipif(not shutil.which("dot"), reason="graphviz not installed")
def test_initctl2dot_from_live_init_is_accepted_by_graphviz(tmp_path):
    with SessionInit(JOBS) as s:
        out_file = tmp_path / "up.dot"
        r = s.run(os.path.join(BIN, "initctl2dot"), "--user", "-o", str(out_file))
        assert r.returncode == 0, r.stderr
        text = out_file.read_text()
        assert "job_c:start" in text and "event_step2" in text
        dot = subprocess.run(["dot", "-Tsvg", str(out_file)], capture_output=True, text=True)
        assert dot.returncode == 0 and dot.stderr == "", dot.stderr
        r = s.run(os.path.join(BIN, "initctl2dot"), "--user", "-r", "a,zz", "-o", "-")
        assert r.returncode == 1 and r.stderr == "ERROR: unknown job zz\n"


def test_debugged_job_stays_stopped_until_continued():
    with SessionInit(JOBS, args=("--no-startup-event", "--debug")) as s:
        assert s.initctl("start", "--no-wait", "dbg").returncode == 0
        pid = s.wait_for(lambda: s.main_pid("dbg", running=False))
        s.wait_for(lambda: f"Pausing dbg ({pid}) [pre-exec] for debug" in s.init_log())
        time.sleep(0.5)
        assert _proc_state(pid) == "T"                 # still stopped, not exec'd
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"sleep" not in f.read()
        verbose = s.initctl("status", "--verbose", "dbg").stdout
        assert f"continue it with: initctl resume dbg (or kill -CONT {pid})" in verbose
        os.kill(pid, signal.SIGCONT)

        def execd():
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().startswith(b"sleep\x0031")
        s.wait_for(execd)
        assert "kill -CONT" not in s.initctl("status", "--verbose", "dbg").stdout


def _records(path: str, kind: str, name: str) -> list[dict]:
    out = []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("kind") == kind and rec.get("name") == name:
                out.append(rec)
    return out


def test_events_of_one_name_ending_out_of_order_keep_their_ids_in_the_log(tmp_path):
    """`ev A=1` waits for the task it started while `ev A=2`, emitted later,
    finishes at once: the log's event-finished records name the right events."""
    gate = tmp_path / "gate"
    jobs = {"slow": f"start on ev A=1\ntask\nexec sh -c 'while [ ! -e {gate} ]; do sleep 0.05; done'\n"}
    with SessionInit(jobs) as s:
        assert s.initctl("emit", "--no-wait", "ev", "A=1").returncode == 0
        s.wait_for(lambda: "start/running" in s.initctl("status", "slow").stdout)
        assert s.initctl("emit", "ev", "A=2").returncode == 0       # finished: answered
        gate.write_text("")
        s.wait_for(lambda: "stop/waiting" in s.initctl("status", "slow").stdout)
        s.wait_for(lambda: len(_records(s.events, "event-finished", "ev")) == 2)
        queued = {tuple(r["env"]): r["id"] for r in _records(s.events, "event-queued", "ev")}
        finished = [(r["id"], r["env"]) for r in _records(s.events, "event-finished", "ev")]
        assert finished == [(queued[("A=2",)], ["A=2"]), (queued[("A=1",)], ["A=1"])]
