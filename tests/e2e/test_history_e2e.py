"""The record is bounded in memory, not in what it answers (issue #23): a real
`init --user` with a tiny in-memory window (`--history-bytes 4096`) still
explains, charts and lists failures for events that left memory long ago;
the answers come back from its structured log file."""

from __future__ import annotations

import json

from init_harness import SessionInit

from upstart.control import client

JOBS = {
    "a": "start on step1\nexec sleep 30\n",
    "b": "start on started a\nexec sleep 30\n",
    "c": "start on started b and step2\nexec sleep 30\n",
    "bad": "start on step1\npre-start exec sh -c 'echo it broke; exit 3'\nexec sleep 30\n",
}
WINDOW = 4096


def _flood(s: SessionInit, n: int = 600) -> None:
    """Events nothing waits for, enough to push everything above out of memory."""
    with client.Connection(s.address) as conn:
        serials = [conn.send("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent",
                             "sasb", ("filler", [f"N={n}"], False)) for n in range(n)]
        for serial in serials:
            conn.wait_reply(serial)


def _logged(s: SessionInit) -> int:
    """Records in the log file: many times what a 4 KB window holds (~25)."""
    with open(s.events) as f:
        return sum(1 for _ in f)


def _started(s: SessionInit) -> None:
    assert s.initctl("emit", "step2").returncode == 0
    s.initctl("emit", "step1")
    s.wait_for(lambda: "start/running" in s.initctl("status", "c").stdout)
    s.wait_for(lambda: "bad failed" in s.initctl("list", "--failed").stdout)


def test_why_timeline_and_failed_answer_beyond_the_memory_window():
    with SessionInit(JOBS, args=("--no-startup-event", "--history-bytes", str(WINDOW))) as s:
        _started(s)
        _flood(s)
        assert _logged(s) > 3 * 600                 # the log holds them all
        # every record is still served, from seq 1, in order (timeline's pages)
        text = s.initctl("timeline").stdout
        assert "critical chain: c <- b <- a" in text, text
        out = s.initctl("timeline", "--json")
        rows = {r["job"] for r in json.loads(out.stdout)["rows"]}
        assert {"a", "b", "c"} <= rows
        # why walks events that left memory (rebuilt from the file)
        why = s.initctl("why", "c").stdout
        for part in ('matched start on "started b"', 'matched start on "started a"',
                     'matched start on "step1"', 'matched start on "step2"',
                     "initctl emit step1", "initctl emit step2"):
            assert part in why, why
        assert "no longer in the record" not in why
        # list --failed: the failure is older than the window
        assert s.initctl("list", "--failed").stdout == \
            "bad failed: pre-start process ended with status 3\n"


def test_log_pages_cover_every_record_once():
    with SessionInit(JOBS, args=("--no-startup-event", "--history-bytes", str(WINDOW))) as s:
        _started(s)
        _flood(s, 300)
        with client.Connection(s.address) as conn:
            seqs, last = [], 0
            while True:
                page = json.loads(conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6",
                                            "Observe", "sas", ("log", [str(last)]))[0])
                if not page:
                    break
                seqs += [r["seq"] for r in page]
                last = page[-1]["seq"]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 900
