"""The record history bounded in bytes, with the older records read back from
the structured log file (issue #23): the real engine's effects, a real
JsonLog file in a temp dir, a tiny window."""

from observe_harness import Observed, job

from upstart.observe.history import History, line_seq
from upstart.observe.jsonlog import JsonLog, read_lines
from upstart.observe.why import events_named, explain, render


def observed_with_file(tmp_path, *classes, window=2048, **rec_kw):
    h = Observed(*classes)
    log = JsonLog(str(tmp_path / "upstart-events.jsonl"))

    def older():
        log.flush()
        return read_lines(log.path)
    history = History(window, spill=log.add_lines, read_older=older)
    h.rec = type(h.rec)(monotonic=h.ticker, wall=lambda: 1.7e9 + h.ticker.now,
                        history=history, **rec_kw)
    return h, log


def test_window_is_bounded_in_bytes_and_the_file_has_everything(tmp_path):
    h, log = observed_with_file(tmp_path, job("a", start_on="tick"))
    for n in range(300):
        h.emit_by("tick", f"N={n}")
    hist = h.rec.records
    hist.seal()
    log.flush()
    assert hist.size <= 2048 and hist.dropped > 0
    assert sum(len(x) + 41 for x in hist.lines) == hist.size
    assert [line_seq(x) for x in read_lines(log.path)] == list(range(1, h.rec.seq + 1))
    # the pages of `log` (timeline): from the file, then memory, each record once
    seqs, last = [], 0
    while page := hist.since(last, 97):
        seqs += [r["seq"] for r in page]
        last = page[-1]["seq"]
    assert seqs == list(range(1, h.rec.seq + 1))


def test_why_walks_events_that_left_memory(tmp_path):
    h, _log = observed_with_file(tmp_path, job("a", start_on="e1"), job("b", start_on="started a"),
                                 job("c", start_on="started b and e2"), job("x", start_on="zz"),
                                 keep_events=4)
    h.emit_by("e2", uid=0, pid=11)
    h.emit_by("e1", uid=1000, pid=4242, cmd="initctl emit e1")
    for n in range(200):
        h.emit_by("filler", f"N={n}")
    assert h.rec.records.dropped > 0 and len(h.rec.events) == 4
    env = h.engine.env_list(["c", ""])
    tree = explain(h.rec, "c", "", "start", env, h.conditions())
    text = render(tree)
    assert events_named(tree) == ["started", "started", "e1", "e2"], text
    assert "emitted by job b as it became running" in text
    assert "initctl emit e1" in text and "uid 0, pid 11" in text
    assert "no longer in the record" not in text


def test_list_failed_rebuilds_failures_beyond_the_table(tmp_path):
    h, _log = observed_with_file(tmp_path, *(job(f"j{i}", pre_start="check", start_on="go")
                                             for i in range(3)),
                                 job("ok", pre_start="check", start_on="go"), keep_failures=1)
    h.emit_by("go")
    for i in range(3):
        h.exited(h.pid(f"j{i}", slot="pre-start"), 3 + i)
    h.exited(h.pid("ok", slot="pre-start"), 0)
    for n in range(200):
        h.emit_by("filler", f"N={n}")
    assert len(h.rec.failures) == 1 and not h.rec.failures_complete
    got = h.rec.all_failures()
    assert sorted(got) == [("j0", ""), ("j1", ""), ("j2", "")]
    assert got[("j1", "")]["reason"] == "pre-start process ended with status 4"


def test_history_without_a_file_keeps_only_the_window():
    hist = History(1024)
    for n in range(1, 200):
        hist.append({"seq": n, "kind": "x", "pad": "y" * 20})
    hist.seal()
    assert hist.size <= 1024
    first = hist.first_seq()
    assert first > 1 and [r["seq"] for r in hist.since(0, 1000)] == list(range(first, 200))
    assert hist[-1]["seq"] == 199 and len(hist) == 200 - first
