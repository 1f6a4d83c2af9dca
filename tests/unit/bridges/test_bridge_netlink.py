"""The link watch against the real kernel, in a private network namespace.

A script run under `unshare --net` drives `ip` through a sequence of link
changes while `netlink.LinkWatch` reads rtnetlink on the bridges' reactor, and
reports what it emitted. veth pairs are used because they have a carrier
(an end is only running while its peer is up), which is what tells
`IFF_UP` from `IFF_UP|IFF_RUNNING`. Also: the module does not import
pyroute2 until `start()`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

SCRIPT = r"""
import json, subprocess, sys
from upstart.reactor.futures import sleep
from upstart.reactor.loop import get_running_loop, run
from upstart.bridges.common import Log
from upstart.bridges import netlink
assert "pyroute2" not in sys.modules, "imported before start()"

def ip(*args):
    subprocess.run(("ip",) + args, check=True, capture_output=True)

STEPS = [
    # (commands, events expected from them, in any order)
    ([("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")], []),
    ([("link", "set", "veth0", "up")], []),                  # peer down: no carrier
    ([("link", "set", "veth1", "up")],
     [["net-device-up", "IFACE=veth0"], ["net-device-up", "IFACE=veth1"]]),
    ([("link", "set", "veth0", "mtu", "1400"), ("link", "set", "veth0", "mtu", "1500")], []),
    ([("link", "set", "veth1", "down")],
     [["net-device-down", "IFACE=veth0"], ["net-device-down", "IFACE=veth1"]]),
    ([("link", "set", "veth1", "name", "lan1")], []),       # renamed while down
    ([("link", "set", "lan1", "up")],
     [["net-device-up", "IFACE=veth0"], ["net-device-up", "IFACE=lan1"]]),
    ([("link", "del", "veth0")],                             # takes its peer with it
     [["net-device-down", "IFACE=veth0"], ["net-device-down", "IFACE=lan1"]]),
    ([("link", "set", "lo", "down")], [["net-device-down", "IFACE=lo"]]),   # the sentinel
]

async def main():
    loop = get_running_loop()
    got = []
    watch = netlink.LinkWatch(lambda name, env: got.append([name, env[0]] + env[1:]),
                              Log("t", stream=sys.stderr))
    ip("link", "set", "lo", "up")              # up before the watch starts
    watch.start(loop)
    assert "pyroute2" not in sys.modules       # rtnl reads the messages itself
    initial = list(got)
    seen = len(got)
    steps = []
    for commands, expected in STEPS:
        for args in commands:
            ip(*args)
        deadline = loop.time() + 10
        while len(got) < seen + len(expected) and loop.time() < deadline:
            await sleep(loop, 0.01)
        steps.append(sorted(e[:2] for e in got[seen:seen + len(expected)]))
        seen += len(expected)
    before_resync = len(got)
    watch.resync()                             # a dump of an unchanged world: no events
    json.dump({"initial": initial, "steps": steps, "all": got,
               "resync": got[before_resync:], "table": sorted(
                   s.name for s in watch.table.values())}, sys.stdout)
    watch.close()

run(main())
"""


def _run_in_netns(script: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "PYTHONPATH": REPO}
    return subprocess.run(["unshare", "--net", sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)


needs_netns = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare")
                                 or not shutil.which("ip"),
                                 reason="needs root, unshare and ip for a private network "
                                        "namespace")


@needs_netns
def test_link_watch_reports_each_transition_of_real_links_once():
    probe = _run_in_netns("import subprocess; subprocess.run(['ip', 'link', 'add', 'v0', "
                          "'type', 'veth', 'peer', 'name', 'v1'], check=True)")
    if probe.returncode != 0:
        pytest.skip("veth links cannot be created here: " + probe.stderr.strip())
    r = _run_in_netns(SCRIPT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    env = ["LOGICAL=lo", "ADDRFAM=link", "METHOD=none"]
    assert out["initial"] == [["net-device-up", "IFACE=lo"] + env]
    up0, up1 = ["net-device-up", "IFACE=veth0"], ["net-device-up", "IFACE=veth1"]
    down0, down1 = ["net-device-down", "IFACE=veth0"], ["net-device-down", "IFACE=veth1"]
    assert out["steps"] == [
        [], [], [up0, up1], [], [down0, down1], [],
        [["net-device-up", "IFACE=lan1"], up0],
        [["net-device-down", "IFACE=lan1"], down0],
        [["net-device-down", "IFACE=lo"]],
    ]
    # nothing else arrived, not even late: every event is accounted for above
    assert len(out["all"]) == 1 + 2 + 2 + 2 + 2 + 1
    assert all(e[2:] == ["LOGICAL=" + e[1][6:], "ADDRFAM=link", "METHOD=none"]
               for e in out["all"])
    assert out["resync"] == []
    assert out["table"] == ["lo"]


def test_importing_the_udev_bridge_does_not_import_pyroute2():
    r = subprocess.run([sys.executable, "-c",
                        "import sys, upstart.bridges.udev, upstart.bridges.netlink; "
                        "print(sorted(m for m in sys.modules if m.startswith('pyroute2')))"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


OVERFLOW = r"""
import json, socket, subprocess, sys, time
from upstart.reactor.futures import sleep
from upstart.reactor.loop import get_running_loop, run
from upstart.bridges.common import Log
from upstart.bridges import netlink

PAIRS = 30

async def main():
    loop = get_running_loop()
    got = []
    watch = netlink.LinkWatch(lambda name, env: got.append((name, env[0][6:])),
                              Log("t", stream=sys.stderr))
    watch.start(loop)
    watch.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 0)   # the kernel's minimum
    # many changes while the loop does not read: the queue overflows (ENOBUFS)
    batch = "".join("link add a%d type veth peer name b%d\n" % (i, i) for i in range(PAIRS))
    batch += "".join("link set a%d up\nlink set b%d up\n" % (i, i) for i in range(PAIRS))
    batch += "".join("link set b%d down\n" % i for i in range(1, PAIRS, 3))
    subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)
    # still not reading: let the kernel finish (carrier changes come up to 1 s
    # later), so that nothing newer follows what is left in the queue
    time.sleep(1.5)
    # the pair created first stays up: the message left in the queue is about it
    expected = {"a%d" % i for i in range(PAIRS) if i % 3 != 1} | {
        "b%d" % i for i in range(PAIRS) if i % 3 != 1}
    announced = {}
    deadline = loop.time() + 20
    while loop.time() < deadline:
        await sleep(loop, 0.05)
        announced = {}
        for name, iface in got:
            announced[iface] = announced.get(iface, 0) + (1 if name == "net-device-up" else -1)
        if {i for i, n in announced.items() if n} == expected:
            break
    json.dump({"got": got, "up": sorted(i for i, n in announced.items() if n),
               "expected": sorted(expected),
               "table": sorted(s.name for s in watch.table.values() if s.up)}, sys.stdout)

run(main())
"""


@needs_netns
def test_link_watch_repairs_lost_messages_with_a_new_dump():
    probe = _run_in_netns("import subprocess; subprocess.run(['ip', 'link', 'add', 'v0', "
                          "'type', 'veth', 'peer', 'name', 'v1'], check=True)")
    if probe.returncode != 0:
        pytest.skip("veth links cannot be created here: " + probe.stderr.strip())
    r = _run_in_netns(OVERFLOW)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "t: Link messages were lost; reading every link again" in r.stderr
    assert out["up"] == out["expected"] == out["table"]
    # per link, ups and downs still alternate, starting with an up
    state: dict[str, bool] = {}
    for name, iface in out["got"]:
        assert state.get(iface, False) == (name == "net-device-down"), (name, iface)
        state[iface] = name == "net-device-up"
