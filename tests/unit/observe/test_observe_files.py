"""The JSON-lines file, the timeline and its SVG, the dot graph."""

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from observe_harness import Observed, job

from upstart.observe import timeline as tl
from upstart.observe.dot import DotError, graph, parse_show_config, restrict, sanitise
from upstart.observe.jsonlog import JsonLog, read_records

SVG = "{http://www.w3.org/2000/svg}"


def test_jsonlog_appends_lines_and_rotates_by_size(tmp_path):
    path = str(tmp_path / "upstart-events.jsonl")
    log = JsonLog(path, max_bytes=400, keep=2)
    for n in range(40):
        log.add({"seq": n + 1, "kind": "x", "pad": "y" * 20})
        assert log.flush()
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2")
    assert not os.path.exists(path + ".3")
    assert os.path.getsize(path) <= 400
    seqs = [r["seq"] for r in read_records(path)]
    assert seqs == sorted(seqs) and seqs[-1] == 40 and len(seqs) < 40   # oldest dropped
    with open(path) as f:
        assert all(json.loads(line)["kind"] == "x" for line in f)


def test_jsonlog_keeps_records_while_the_directory_is_unwritable(tmp_path):
    path = str(tmp_path / "missing" / "upstart-events.jsonl")
    clock = [0.0]
    log = JsonLog(path, monotonic=lambda: clock[0])
    log.add({"seq": 1})
    assert not log.flush()
    os.makedirs(tmp_path / "missing")
    log.add({"seq": 2})
    assert not log.flush()            # retried at most once a second
    clock[0] = 2.0
    assert log.flush()
    assert [r["seq"] for r in read_records(path)] == [1, 2]


def boot():
    h = Observed(job("a", start_on="startup"), job("b", start_on="started a"),
                 job("c", start_on="started b"), job("lone", start_on="startup", task=True))
    h.emit("startup", wait=False)
    h.exited(h.pid("lone"), 0)
    return h


def test_timeline_spans_and_critical_chain():
    h = boot()
    t = tl.spans(h.rec.records)
    rows = {r.label: r for r in t.rows}
    assert set(rows) == {"a", "b", "c", "lone"}
    assert [s.kind for s in rows["lone"].spans] == ["starting", "running", "stopping"]
    assert rows["lone"].spans[-1].end is not None
    assert [s.kind for s in rows["c"].spans] == ["starting", "running"]
    assert rows["c"].spans[-1].end is None
    assert t.chain == ["c", "b", "a"]
    assert rows["c"].critical and not rows["lone"].critical
    assert rows["a"].first_running < rows["b"].first_running < rows["c"].first_running
    text = tl.text(t)
    assert "critical chain: c <- b <- a" in text


def test_timeline_svg_is_valid_and_names_every_job(tmp_path):
    t = tl.spans(boot().rec.records)
    data = tl.svg(t)
    root = ET.fromstring(data)
    labels = [e.text for e in root.iter(SVG + "text") if e.get("class") == "job"]
    assert sorted(labels) == ["a", "b", "c", "lone"]
    assert len([e for e in root.iter(SVG + "rect") if e.get("class") == "running"]) == 4
    if shutil.which("rsvg-convert"):
        src = tmp_path / "t.svg"
        src.write_text(data)
        subprocess.run(["rsvg-convert", "-o", str(tmp_path / "t.png"), str(src)], check=True)
        assert (tmp_path / "t.png").stat().st_size > 0


def test_empty_timeline():
    t = tl.spans([])
    assert t.rows == [] and tl.text(t) == ""
    ET.fromstring(tl.svg(t))


SHOW = """a
  emits hello
  start on startup (job:, env:)
  stop on runlevel (job:, env: [!2345])
b
  start on started (job: a, env:)
  start on starting (job: c, env:)
  stop on stopping (job: $JOB, env:)
c
  start on net-* (job:, env: IFACE=eth0)
"""


def test_show_config_parsed():
    jobs = parse_show_config(SHOW)
    assert list(jobs) == ["a", "b", "c"]
    assert jobs["a"].emits == ["hello"]
    assert [(c.event, c.job) for c in jobs["b"].start_on] == [("started", "a"), ("starting", "c")]
    assert jobs["c"].start_on[0].env == ["IFACE=eth0"]


def test_dot_edges_follow_spec():
    text = graph(parse_show_config(SHOW))
    assert 'job_a:job -> event_hello [color="green"];' in text
    assert 'event_startup -> job_a:start [color="blue"];' in text
    assert 'event_runlevel -> job_a:stop [color="red"];' in text
    assert 'job_a:job -> job_b:start [color="blue", label="started"];' in text
    assert 'job_b:start -> job_c:job [color="blue", label="starting"];' in text
    assert 'event_net_star [label="net-*", style="dotted,filled"];' in text
    assert "job_job_colon_dollar_JOB" in text


def test_dot_colours_and_restrict():
    jobs = restrict(parse_show_config(SHOW), ["a"])
    text = graph(jobs, colours={"emits": "pink"})
    assert "job_b" not in text and 'color="pink"' in text
    with pytest.raises(DotError, match="unknown job zz"):
        restrict(parse_show_config(SHOW), ["zz"])
    with pytest.raises(DotError, match="invalid line:   bogus"):
        parse_show_config("a\n  bogus\n")


def test_sanitise():
    assert sanitise("foo-bar$[x]") == "foo_bardollar_lbracketxrbracket"


@pytest.mark.skipif(not shutil.which("dot"), reason="graphviz not installed")
def test_dot_output_accepted_by_graphviz():
    text = graph(parse_show_config(SHOW), footer="made\nby test")
    out = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "<svg" in out.stdout


def test_dot_draws_died_from_the_job_that_died():
    # RM-12: show-config -e names the job of `died JOB=a` as it does for job events
    text = graph(parse_show_config("a\nalert\n  start on died (job: a, env:)\n"))
    assert 'job_a:job -> job_alert:start [color="blue", label="died"];' in text
