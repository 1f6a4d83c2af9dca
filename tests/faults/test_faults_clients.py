"""Fault suite: hostile and broken control clients (issue #14).

Clients that disconnect mid-message or mid-call, send garbage before or after
authenticating, send a message larger than the limit, pipeline far more
calls than the in-flight bound, or exceed the engine's size limits. Init
answers each with a clear error or drops only that client, and keeps serving.
"""

from __future__ import annotations

import random
import struct

from control_harness import raw_connect
from faults_common import session, survived
from waiting import wait_for

from upstart.control import wire
from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, CallError, Connection
from upstart.control.transport import MAX_MESSAGE

LIMITS = "org.freedesktop.DBus.Error.LimitsExceeded"




def _call_bytes(serial: int, member: str, sig: str = "", body=()) -> bytes:
    fields = {wire.F_PATH: MANAGER_PATH, wire.F_MEMBER: member,
              wire.F_INTERFACE: MANAGER_IFACE}
    return wire.encode_message(wire.METHOD_CALL, serial, fields, sig, body, 0)


def test_disconnect_mid_message_and_mid_call():
    jobs = {"slowstart": "pre-start exec sleep 1\nexec sleep 100000\n"}
    with session(jobs) as (init, steady):
        # half a message, then gone
        s = raw_connect(init.address)
        data = _call_bytes(1, "GetAllJobs")
        s.sendall(data[: len(data) // 2])
        s.close()
        # a call whose answer takes a second (Start waits for running), then gone
        s = raw_connect(init.address)
        fields = {wire.F_PATH: "/com/ubuntu/Upstart/jobs/slowstart", wire.F_MEMBER: "Start",
                  wire.F_INTERFACE: "com.ubuntu.Upstart0_6.Job"}
        s.sendall(wire.encode_message(wire.METHOD_CALL, 1, fields, "asb", ([], True), 0))
        wait_for(lambda: init.state("slowstart").startswith("slowstart start/"))  # call taken
        s.close()
        wait_for(lambda: init.state("slowstart").startswith("slowstart start/running"))
        survived(init, steady)


def test_garbage_before_and_after_auth():
    rng = random.Random(14)
    with session({}) as (init, steady):
        for auth in (False, True):
            for _ in range(20):
                s = raw_connect(init.address, auth=auth)
                try:
                    s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
                except OSError:
                    pass
                s.close()
        # a well-formed header with nonsense fields
        s = raw_connect(init.address)
        s.sendall(b"l\x01\x00\x01" + struct.pack("<III", 4, 7, 200) + b"\xff" * 220)
        s.close()
        survived(init, steady)


def test_oversized_message_gets_limits_exceeded_and_connection_stays_usable():
    with session({}) as (init, steady):
        with Connection(init.address) as conn:
            big = "x" * (MAX_MESSAGE + 1024)
            try:
                conn.call(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb", ("big", [big], False))
                raise AssertionError("an oversized message was accepted")
            except CallError as exc:
                assert exc.name == LIMITS
                assert "exceeds the limit of %d bytes" % MAX_MESSAGE in str(exc)
            # the same connection still works: the rest of the message was skipped
            assert conn.call(MANAGER_PATH, MANAGER_IFACE, "GetJobByName", "s", ("steady",))
        survived(init, steady)


def test_pipelined_calls_beyond_in_flight_bound_are_all_answered():
    jobs = {"slowtask": "task\npre-start exec sleep 0.3\nexec true\n"}
    with session(jobs) as (init, steady):
        with Connection(init.address) as conn:
            # 600 calls that each wait for a 0.3 s task (async, in flight)
            serials = [conn.send("/com/ubuntu/Upstart/jobs/slowtask",
                                 "com.ubuntu.Upstart0_6.Job", "Start", "asb", ([], True))
                       for _ in range(600)]
            answers = {"ok": 0, "err": []}
            for serial in serials:
                try:
                    conn.wait_reply(serial)
                    answers["ok"] += 1
                except CallError as exc:
                    answers["err"].append(exc.name)
            assert answers["ok"] + len(answers["err"]) == 600
            assert LIMITS not in answers["err"]           # back-pressure, not refusals
        survived(init, steady)


def test_engine_limits_reach_initctl_as_clear_errors():
    with session({"inst": "instance $N\nexec sleep 100000\n"}) as (init, steady):
        out = init.initctl("emit", "big", *[f"K{i}=v" for i in range(1100)])
        assert out.returncode != 0
        assert "Event environment has 1100 entries, limit is 1024" in out.stderr
        out = init.initctl("emit", "e" * 2000)
        assert "Event name of 2000 characters, limit is 1024" in out.stderr
        out = init.initctl("start", "inst", "N=" + "n" * 1100)
        assert "Instance name of 1100 characters, limit is 1024" in out.stderr
        survived(init, steady)
