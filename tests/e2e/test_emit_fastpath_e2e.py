"""EmitEvent with wait=false on init's private socket, once its header was
seen, takes the server's dedicated path (issue #23 item 5): the same replies,
errors, signals and event record as the full path."""

from __future__ import annotations

import os

import pytest
from init_harness import SessionInit

from upstart.control import client

M = ("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent", "sasb")


def _emit(conn, name, env, **kw) -> int:
    return conn.send(*M, (name, env, False), **kw)


def test_pipelined_emits_refusals_and_no_reply_calls_answer_as_the_full_path():
    with SessionInit({"w": "start on last\nexec sleep 30\n"}) as s:
        with client.Connection(s.address) as conn:
            conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "EmitEvent", "sasb",
                      ("first", [], False))                  # the header, seen once
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
            got = []
            while len(got) < 53:
                sig = conn.next_signal()
                if sig.fields.get(client.wire.F_MEMBER) == "EventEmitted" \
                        and sig.body[0] not in ("starting", "started"):    # w's
                    got.append((sig.body[0], list(sig.body[1])))
            assert got == [("first", [])] + [("fast", [f"N={n}"]) for n in range(50)] + \
                [("quiet", ["Q=1"]), ("last", [])]
        s.wait_for(lambda: "start/running" in s.initctl("status", "w").stdout)
        why = s.initctl("why", "w")          # the caller recorded: who emitted `last`
        assert why.returncode == 0, why.stderr
        assert 'matched start on "last"' in why.stdout, why.stdout
        assert "emitted by `initctl emit` (uid %d, pid %d:" % (os.getuid(), os.getpid()) \
            in why.stdout, why.stdout
