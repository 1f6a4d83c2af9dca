"""EmitEvent with wait=false on init's private socket, once its header was
seen, takes the server's dedicated path (issue #23 item 5): the same replies,
errors, signals and event record as the full path; init's own counters
(the `stats` query of `Observe`) show which path answered."""

from __future__ import annotations

import json
import os

import pytest
from init_harness import SessionInit

from upstart.control import client

M = ("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent", "sasb")


def _emit(conn, name, env, **kw) -> int:
    return conn.send(*M, (name, env, False), **kw)


def _calls(conn) -> tuple[int, int]:
    """(fast, full): the method calls init answered on each path so far,
    this query (a full-path call) included."""
    reply = conn.call(M[0], M[1], "Observe", "sas", ("stats", []))
    control = json.loads(reply[0])["control"]
    return control["calls_fast"], control["calls_full"]


def test_pipelined_emits_refusals_and_no_reply_calls_answer_as_the_full_path():
    with SessionInit({"w": "start on last\nexec sleep 30\n"}) as s:
        with client.Connection(s.address) as conn:
            conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent", "sasb",
                      ("first", [], False))                  # the header, seen once
            fast0, full0 = _calls(conn)
            serials = [_emit(conn, "fast", [f"N={n}"]) for n in range(50)]
            bad_env = _emit(conn, "fast", ["NOKV"])
            no_name = _emit(conn, "", [])
            _emit(conn, "quiet", ["Q=1"], no_reply=True)
            last = _emit(conn, "last", [])
            for serial in serials:
                assert conn.wait_reply(serial) == []
            with pytest.raises(client.CallError) as err:
                conn.wait_reply(bad_env)
            assert (err.value.name, err.value.message) == (
                "org.freedesktop.DBus.Error.InvalidArgs", "Env must be KEY=VALUE pairs")
            with pytest.raises(client.CallError) as err:
                conn.wait_reply(no_name)
            assert err.value.name == "org.freedesktop.DBus.Error.InvalidArgs"
            assert conn.wait_reply(last) == []
            fast1, full1 = _calls(conn)
            # the 54 pipelined emits (refusals and the no-reply one among them)
            # went the fast path; only the query itself went the full path
            assert (fast1 - fast0, full1 - full0) == (54, 1)
            got = []
            while len(got) < 53:
                sig = conn.next_signal()
                if sig.fields.get(client.wire.F_MEMBER) == "EventEmitted" \
                        and sig.body[0] not in ("starting", "started"):    # w's
                    got.append((sig.body[0], list(sig.body[1])))
            assert got == [("first", [])] + [("fast", [f"N={n}"]) for n in range(50)] + \
                [("quiet", ["Q=1"]), ("last", [])]
            # calls the fast path must leave to the full one: wait=true, and
            # EmitEvent with another signature (refused as the full path does)
            assert conn.call(*M, ("slow", [], True)) == []
            with pytest.raises(client.CallError) as err:
                conn.call(M[0], M[1], "EmitEvent", "sas", ("odd", []))
            assert err.value.name == "org.freedesktop.DBus.Error.InvalidArgs", err.value.name
            fast2, full2 = _calls(conn)
            assert (fast2 - fast1, full2 - full1) == (0, 3)
        s.wait_for(lambda: "start/running" in s.initctl("status", "w").stdout)
        why = s.initctl("why", "w")          # the caller recorded: who emitted `last`
        assert why.returncode == 0, why.stderr
        assert 'matched start on "last"' in why.stdout, why.stdout
        assert "emitted by `initctl emit` (uid %d, pid %d:" % (os.getuid(), os.getpid()) \
            in why.stdout, why.stdout
