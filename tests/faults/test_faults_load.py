"""Fault suite: load (issue #14).

10,000 events emitted in a burst over four pipelining connections, and 200
real `initctl` clients at once. Init must answer every call, keep the
bystander job, and finish the work (a job started by the burst's last event
runs). The rates are printed (`-s`) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

from faults_common import session, survived
from waiting import wait_for

from upstart.control.client import MANAGER_IFACE, MANAGER_PATH, CallError, Connection

EVENTS = 10_000
CONNECTIONS = 4
WINDOW = 200              # calls in flight per connection
CLIENTS = 200


def _emit_burst(address: str, count: int, tag: int, errors: list) -> None:
    with Connection(address) as conn:
        sent = 0
        while sent < count:
            batch = min(WINDOW, count - sent)
            serials = [conn.send(MANAGER_PATH, MANAGER_IFACE, "EmitEvent", "sasb",
                                 ("burst", [f"N={tag}-{sent + i}"], False))
                       for i in range(batch)]
            for serial in serials:
                try:
                    conn.wait_reply(serial)
                except CallError as exc:
                    errors.append(exc)
            sent += batch


def test_ten_thousand_events_in_a_burst(tmp_path):
    marker = tmp_path / "done"
    jobs = {
        "listener": "start on burst N=0-0\nexec sleep 100000\n",   # started by the first
        "after": f"task\nstart on burst-done\nexec touch {marker}\n",
    }
    with session(jobs) as (init, steady):
        errors: list = []
        per = EVENTS // CONNECTIONS
        threads = [threading.Thread(target=_emit_burst, args=(init.address, per, i, errors))
                   for i in range(CONNECTIONS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        took = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        print(f"\n{EVENTS} events in {took:.2f}s: {EVENTS / took:.0f} events/s")
        assert init.initctl("emit", "--no-wait", "burst-done").returncode == 0
        wait_for(lambda: marker.exists(), timeout=20)
        assert init.state("listener").startswith("listener start/running")
        survived(init, steady)


def test_two_hundred_initctl_clients_at_once():
    with session({}) as (init, steady):
        env = init.command_env()
        initctl = os.path.join(os.path.dirname(os.path.abspath(
            __import__("sys").executable)), "initctl")
        t0 = time.monotonic()
        procs = [subprocess.Popen([initctl, "status", "steady"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(CLIENTS)]
        try:
            outs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        took = time.monotonic() - t0
        print(f"\n{CLIENTS} initctl clients in {took:.2f}s")
        assert [p.returncode for p in procs] == [0] * CLIENTS, [o[1] for o in outs][:3]
        assert all(o[0].startswith(f"steady start/running, process {steady}") for o in outs)
        survived(init, steady)


def test_connection_flood_beyond_the_bound():
    """600 idle connections: 512 (MAX_CONNECTIONS) are held, the rest refused
    at once; when they go, ordinary clients are served again."""
    import socket

    from upstart.control import address as addr
    from upstart.control.transport import MAX_CONNECTIONS

    with session({}) as (init, steady):
        sockaddr, _ = addr.parse(init.address)
        socks = []
        try:
            for _ in range(MAX_CONNECTIONS + 88):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                socks.append(s)
                s.connect(sockaddr)              # blocking: waits while the backlog is full
                s.settimeout(5)
            time.sleep(0.5)
            refused = 0
            for s in socks[MAX_CONNECTIONS - 8:]:
                try:
                    s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode()
                              + b"\r\n")
                    refused += s.recv(100) == b""
                except OSError:                  # closed by init: refused
                    refused += 1
            assert 80 <= refused <= 88, refused          # the first 8 checked are held
            assert init.proc.poll() is None
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: init.initctl("status", "steady").returncode == 0)
        survived(init, steady)
