"""Unit tests of the golden runner's own parts: normalisation, sorting, PID labels,
expectation adjustments, step comparison, the replay's setting and the D-Bus event
client (against a tiny fake peer server).  No init is needed."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest
from jeepney import DBusAddress, HeaderFields, MessageType, new_method_return, new_signal
from jeepney.low_level import Parser

import dbus_events
import golden_compare as compare
import golden_replay as replay
import normalise as nm
from testdata import SCENARIOS as GOLDEN

T = "/tmp/golden-x1/t"


# -- normalisation ----------------------------------------------------------------
def test_normalise_replaces_tdir_and_session_address():
    text = f"{T}/log/x.log unix:abstract=/com/ubuntu/upstart-session/0/4242\n"
    assert nm.normalise(text, T) == \
        "<T>/log/x.log unix:abstract=/com/ubuntu/upstart-session/<UID>/<PID>\n"


def test_normalise_pid_forms_in_textual_order():
    text = ("svc start/running, process 123\n\tpost-start process 456\n"
            "init: svc main process (789) killed by TERM signal\npid=42\n")
    out, pids = nm.normalise_with_pids(text, T)
    assert out == ("svc start/running, process <PID>\n\tpost-start process <PID>\n"
                   "init: svc main process (<PID>) killed by TERM signal\npid=<PID>\n")
    assert pids == ["123", "456", "789", "42"]


def test_normalise_list_sessions_line_labels_leading_pid_not_address_pid():
    text = "77 unix:abstract=/com/ubuntu/upstart-session/0/77\n"
    out, pids = nm.normalise_with_pids(text, T)
    assert out == "<PID> unix:abstract=/com/ubuntu/upstart-session/<UID>/<PID>\n"
    assert pids == ["77"]


def test_normalise_leaves_other_numbers_and_named_instances():
    text = "j (inst1) start/running\nexit status 3\nlimit 1024 2048\n(12a)\n"
    assert nm.normalise_with_pids(text, T) == (text, [])


def test_split_records_keeps_continuations():
    text = "a\n  start on x\nb\n\tpre-stop process 3\nc\n"
    assert nm.split_records(text) == ["a\n  start on x\n", "b\n\tpre-stop process 3\n", "c\n"]
    assert "".join(nm.split_records(text)) == text


def test_sort_records_byte_order_and_blocks():
    text = "svc stop/waiting\n  x\nZed\nabc\n  y\n"
    assert nm.sort_records(text) == "Zed\nabc\n  y\nsvc stop/waiting\n  x\n"


def test_sort_records_last_record_without_newline():
    assert nm.sort_records("b\na") == "a\nb"
    assert nm.sort_records("") == ""


def test_sort_raw_by_normalised_orders_pids_with_their_records():
    raw = f"z start/running, process 5\na start/running, process 9\n{T} x\n"
    out = nm.sort_raw_by_normalised(raw, T)
    # "<T> x" sorts first ('<' < 'a'), although the raw path starts with '/'.
    assert out == f"{T} x\na start/running, process 9\nz start/running, process 5\n"
    assert nm.normalise_with_pids(out, T)[1] == ["9", "5"]


def test_pid_labeller_first_sight_order():
    lab = nm.PidLabeller()
    assert lab.label(["10", "20", "10"]) == ["p1", "p2", "p1"]
    assert lab.label(["30", "20"]) == ["p3", "p2"]
    assert lab.mapping == {"10": "p1", "20": "p2", "30": "p3"}


# -- comparison ---------------------------------------------------------------------
def _scenario(**kw):
    sc = {"title": "t", "mode": "session", "jobs": {}, "settle": 0.3, "events": [], "log": []}
    sc.update(kw)
    return sc


def _result(**kw):
    res = {"tdir": T, "steps": [], "events": [], "files": {}, "log": "", "error": None,
           "notes": []}
    res.update(kw)
    return res


START = {"run": ["initctl", "start", "svc"], "rc": 0,
         "stdout": "svc start/running, process <PID>\n", "stderr": "", "pids": ["p1"]}
STATUS_P1 = {"run": ["initctl", "status", "svc"], "rc": 0,
             "stdout": "svc start/running, process <PID>\n", "stderr": "", "pids": ["p1"]}


def test_compare_all_equal():
    sc = _scenario(steps=[START, {"poll": "a", "running": False}, {"wait-file": "x", "ok": True}],
                   events=[["starting", "JOB=svc", "INSTANCE="]],
                   files={"<T>/pid": "pid=<PID>\n"}, **{"file-pids": {"<T>/pid": ["p1"]}},
                   log=["init: x (<PID>) ok"])
    res = _result(steps=[{"rc": 0, "stdout": "svc start/running, process 31\n", "stderr": ""},
                         {"running": False}, {"ok": True}],
                  events=[["starting", "JOB=svc", "INSTANCE="]],
                  files={"<T>/pid": "pid=31\n"}, log="init: x (8) ok\n")
    oc = compare.compare(sc, res)
    assert (oc.failures, oc.pid_failures, oc.log_failures) == ([], [], [])


def test_compare_reports_stdout_and_rc_per_step():
    sc = _scenario(steps=[START])
    res = _result(steps=[{"rc": 1, "stdout": "", "stderr": "initctl: Unknown job: svc\n"}])
    oc = compare.compare(sc, res)
    assert len(oc.failures) == 1
    msg = oc.failures[0]
    assert msg.startswith("step 1 (run: initctl start svc)")
    assert "rc:" in msg and "stdout:" in msg and "stderr:" in msg
    assert "expected: 0" in msg and "got:      1" in msg


def test_compare_pid_labels_are_a_separate_check():
    # A restart must give a new PID: same PID twice is a label mismatch only.
    restart = dict(STATUS_P1, run=["initctl", "restart", "svc"], pids=["p2"])
    sc = _scenario(steps=[START, restart])
    out = "svc start/running, process 31\n"
    res = _result(steps=[{"rc": 0, "stdout": out, "stderr": ""},
                         {"rc": 0, "stdout": out, "stderr": ""}])
    oc = compare.compare(sc, res)
    assert oc.failures == []
    assert len(oc.pid_failures) == 1 and "step 2" in oc.pid_failures[0]
    assert "['p2']" in oc.pid_failures[0] and "['p1']" in oc.pid_failures[0]


def test_compare_events_order_matters():
    sc = _scenario(steps=[], events=[["a"], ["b", "X=1"]])
    oc = compare.compare(sc, _result(events=[["b", "X=1"], ["a"]]))
    assert len(oc.failures) == 1 and oc.failures[0].startswith("events differ")
    assert '["b", "X=1"]' in oc.failures[0]


def test_compare_events_normalised():
    sc = _scenario(steps=[], events=[["ev", "P=<T>/x"]])
    assert compare.compare(sc, _result(events=[["ev", f"P={T}/x"]])).failures == []


def test_compare_missing_file_is_null():
    sc = _scenario(steps=[], files={"<T>/a": None, "<T>/b": "x\n"})
    oc = compare.compare(sc, _result(files={"<T>/a": None, "<T>/b": None}))
    assert len(oc.failures) == 1 and oc.failures[0].startswith("file <T>/b")


def test_compare_file_line_ends_visible():
    sc = _scenario(steps=[], files={"<T>/log/j.log": "a\r\nb\r\nc\r\n"})
    oc = compare.compare(sc, _result(files={"<T>/log/j.log": "a\nb\nc\n"}))
    assert len(oc.failures) == 1 and "\\r\\n" in oc.failures[0]


def test_compare_log_is_soft():
    sc = _scenario(steps=[], log=["init: a"])
    oc = compare.compare(sc, _result(log="init: b\n"))
    assert oc.failures == [] and len(oc.log_failures) == 1


def test_compare_sorted_step_sorts_and_labels_after_sorting():
    step = {"run": ["initctl", "list"], "sorted": True, "rc": 0,
            "stdout": "a start/running, process <PID>\nb start/running, process <PID>\n",
            "stderr": "", "pids": ["p1", "p2"]}
    res = _result(steps=[{"rc": 0, "stdout": "b start/running, process 7\n"
                                             "a start/running, process 3\n", "stderr": ""}])
    oc = compare.compare(_scenario(steps=[step]), res)
    assert oc.failures == [] and oc.pid_failures == []
    # and the labels follow the sorted order: a's PID (3) is p1
    step2 = dict(STATUS_P1, run=["initctl", "status", "a"],
                 stdout="a start/running, process <PID>\n")
    res["steps"].append({"rc": 0, "stdout": "a start/running, process 3\n", "stderr": ""})
    assert compare.compare(_scenario(steps=[step, step2]), res).pid_failures == []


def test_compare_setup_error_and_notes_and_missing_steps():
    oc = compare.compare(_scenario(steps=[START]), _result(error="init did not answer",
                                                           **{"init-stdio": "Traceback boom\n"}))
    assert len(oc.failures) == 1 and "init did not answer" in oc.failures[0]
    assert "Traceback boom" in oc.failures[0] and "kmsg" not in oc.failures[0]
    oc = compare.compare(_scenario(steps=[START]), _result(error="x", mode="pid1",
                                                           log="<3>init: oops\n"))
    assert "<3>init: oops" in oc.failures[0]
    oc = compare.compare(_scenario(steps=[{"sleep": 0.1}, START]),
                         _result(steps=[{"note": "runner error: x"}]))
    assert "note: runner error: x" in oc.failures[0] and oc.failures[1].endswith("not run")


def test_show_diff_multiline_is_unified():
    d = compare.show_diff("a\nb\nc\n", "a\nB\nc\n")
    assert "-b\\n" in d and "+B\\n" in d


# -- adjustments (the deliberate changes) ------------------------------------------
def _load(stem):
    with open(GOLDEN / f"{stem}.json") as f:
        return json.load(f)


def test_adjust_untouched_scenario_is_equal_copy():
    sc = _load("001-service-start-stop")
    adj, tag = compare.adjust_scenario("001-service-start-stop", sc)
    assert tag is None and adj == sc and adj is not sc


def test_adjust_014_poll_not_held_and_event_finishes_first():
    sc = _load("014-precedence-or-and")
    adj, tag = compare.adjust_scenario("014-precedence-or-and", sc)
    assert tag == compare.DECIDED_TAG
    polls = [s for s in adj["steps"] if "poll" in s]
    assert polls == [{"poll": "a", "running": False}]
    assert adj["events"][0] == ["a", "X=1"] and adj["events"][-1] == ["c", "Y=3"]
    assert sorted(map(json.dumps, adj["events"])) == sorted(map(json.dumps, sc["events"]))
    assert sc["steps"][3]["running"] is True  # the original is not mutated


def test_adjust_020_two_moves():
    adj, _ = compare.adjust_scenario("020-reset-after-firing", _load("020-reset-after-firing"))
    names = [e[0] if e[0] in "abc" else "j" for e in adj["events"]]
    assert names == ["a", "j", "j", "j", "j", "b", "c", "j", "j", "j", "j", "a"]


def test_adjust_046_start_waits():
    sc = _load("046-starting-blocks-job")
    adj, tag = compare.adjust_scenario("046-starting-blocks-job", sc)
    assert tag == compare.DECIDED_TAG
    kinds = [next(iter(s)) for s in adj["steps"]]
    i = kinds.index("run-async")
    assert kinds[i:i + 5] == ["run-async", "sleep", "poll", "write-file", "await"]
    await_step = adj["steps"][i + 4]
    assert await_step["rc"] == 0 and await_step["stdout"] == "svc start/running, process <PID>\n"
    assert not any(s.get("rc") == 1 for s in adj["steps"])


def test_adjust_109_startup_event_args():
    adj, tag = compare.adjust_scenario("109-pid1-startup-event", _load("109-pid1-startup-event"))
    assert adj["init-args"] == [] and tag is None


def test_corpus_step_kinds_are_all_handled():
    assert len(list(GOLDEN.glob("*.json"))) == 116
    handled = {"run", "emit-async", "run-async", "poll", "await", "sleep", "write-file",
               "remove-file", "signal-job", "signal-init", "wait-event", "wait-status",
               "wait-file", "wait-init-exit", "reconnect"}
    for path in GOLDEN.glob("*.json"):
        with open(path) as f:
            sc = json.load(f)
        assert sc["mode"] in ("session", "pid1"), path
        for step in sc["steps"]:
            assert next(iter(step)) in handled, (path, step)
            if "run" in step:
                assert step["run"][0] in replay.PROGRAMS, (path, step)


# -- the replay's setting -------------------------------------------------------------
class _FakeProc:
    pid = 4321


def test_replay_environments_and_args(tmp_path):
    sc = {"mode": "session", "init-env": {"A": "<T>/a"}, "steps": [], "jobs": {}}
    r = replay.Replay(sc, str(tmp_path), "/venv/bin", budget=10)
    r.init = _FakeProc()
    t = str(tmp_path / "t")
    assert r.init_env() == {"PATH": replay.README_PATH, "HOME": f"{t}/home",
                            "XDG_RUNTIME_DIR": f"{t}/xdg", "A": f"{t}/a"}
    assert r.init_args() == ["/venv/bin/init", "--user", "--confdir", f"{t}/conf",
                             "--logdir", f"{t}/log", "--no-dbus", "--no-startup-event"]
    env = r.step_env({"UPSTART_SESSION": None, "X": "<T>/x"})
    assert env == {"PATH": "/venv/bin:" + replay.README_PATH, "X": f"{t}/x"}
    assert r.step_env()["UPSTART_SESSION"] == \
        f"unix:abstract=/com/ubuntu/upstart-session/{os.getuid()}/4321"
    assert r.prog(["telinit", "u"]) == ["/venv/bin/telinit", "u"]


def test_replay_pid1_args_and_tree(tmp_path):
    sc = {"mode": "pid1", "init-args": ["--startup-event=my-boot"], "steps": [],
          "jobs": {"a": "exec <T>/x\n", "sub/b": "task\n", "a.override": "manual\n"}}
    r = replay.Replay(sc, str(tmp_path), "/venv/bin", budget=10)
    t = tmp_path / "t"
    assert r.init_args()[1:] == ["--confdir", f"{t}/conf", "--logdir", f"{t}/log",
                                 "--no-dbus", "--startup-event=my-boot"]
    assert "XDG_RUNTIME_DIR" not in r.init_env() and r.address == "/com/ubuntu/upstart"
    assert "UPSTART_SESSION" not in r.step_env()
    r.build_tree()
    assert (t / "conf/a.conf").read_text() == f"exec {t}/x\n"
    assert (t / "conf/sub/b.conf").read_text() == "task\n"
    assert (t / "conf/a.override").read_text() == "manual\n"
    assert os.readlink(t / "bin/initctl") == "/venv/bin/initctl"
    assert not (t / "xdg").exists()


# -- the D-Bus event client against a fake peer ---------------------------------------
class FakePeer:
    """Accepts one SASL EXTERNAL peer; sends signals; answers method calls."""

    def __init__(self, name, before_reply=(), close_after_reply=False):
        self.addr = name
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind("\0" + name)
        self.srv.listen(1)
        self.before_reply = before_reply
        self.close_after_reply = close_after_reply
        self.auth = b""
        self.got_hello = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def signal(self, name, env):
        addr = DBusAddress("/com/ubuntu/Upstart", interface="com.ubuntu.Upstart0_6")
        return new_signal(addr, "EventEmitted", "sas", (name, env)).serialise(serial=100)

    def serve(self):
        conn, _ = self.srv.accept()
        self.conn = conn
        buf = b""
        while b"BEGIN\r\n" not in buf:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buf += chunk
            if not self.auth and b"AUTH" in buf and b"\r\n" in buf:
                self.auth = buf
                conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
        conn.sendall(self.signal("early", ["K=V"]))
        parser = Parser()
        data = buf.split(b"BEGIN\r\n", 1)[1]  # a method call may follow BEGIN at once
        while True:
            if not data:
                data = conn.recv(4096)
                if not data:
                    break
            msgs, data = parser.feed(data), b""
            for msg in msgs:
                if msg.header.message_type != MessageType.method_call:
                    continue
                if msg.header.fields.get(HeaderFields.member) == "Hello":
                    self.got_hello = True
                for name, env in self.before_reply:
                    conn.sendall(self.signal(name, env))
                conn.sendall(new_method_return(msg, "ao", ([],)).serialise(serial=200))
                if self.close_after_reply:
                    conn.sendall(self.signal("last", []))
                    conn.close()
                    return

    def stop(self):
        self.srv.close()


def test_event_stream_handshake_sync_and_order():
    name = f"/test/golden-runner/{os.getpid()}/a"
    peer = FakePeer(name, before_reply=[("starting", ["JOB=svc", "INSTANCE="]), ("b", [])])
    stream = dbus_events.EventStream(name)
    try:
        stream.connect(timeout=5)
        assert stream.sync(timeout=5)
        assert peer.auth.startswith(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode())
        assert not peer.got_hello
        assert stream.snapshot() == [["early", "K=V"], ["starting", "JOB=svc", "INSTANCE="], ["b"]]
        stream.clear()
        assert stream.sync(timeout=5)
        assert stream.snapshot() == [["starting", "JOB=svc", "INSTANCE="], ["b"]]
        assert stream.wait_for(lambda evs: len(evs) >= 2, timeout=1)
        assert not stream.wait_for(lambda evs: len(evs) >= 3, timeout=0.1)
    finally:
        stream.close()
        peer.stop()


def test_event_stream_reads_until_close():
    name = f"/test/golden-runner/{os.getpid()}/b"
    peer = FakePeer(name, close_after_reply=True)
    stream = dbus_events.EventStream(name)
    try:
        stream.connect(timeout=5)
        assert stream.sync(timeout=5)
        assert stream.wait_closed(5)
        assert stream.closed
        assert stream.snapshot()[-1] == ["last"]
        assert not stream.sync(timeout=1)  # closed: no hanging
    finally:
        stream.close()
        peer.stop()


def test_event_stream_connect_refused_times_out():
    stream = dbus_events.EventStream(f"/test/golden-runner/{os.getpid()}/none")
    with pytest.raises(dbus_events.ConnectError):
        stream.connect(timeout=0.2)
