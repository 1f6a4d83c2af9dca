"""upstart-mountall's events reach a real init, in order, waited for, on one
connection (its mount commands replaced by a stand-in: a test never mounts)."""

from __future__ import annotations

from init_harness import SessionInit
from procfs import read

from upstart.cli.mountall import VIRTUAL, InitctlEmit, Mountall
from upstart.observe.jsonlog import read_records

ENTRIES = [("/", "ext4", "/dev/vda", "errors=remount-ro"),
           ("/tmp", "tmpfs", "tmpfs", "nosuid,nodev"),
           ("/srv", "nfs", "host:/srv", "defaults"),
           ("none", "swap", "/swapfile", "sw")]
MOUNTED = {point for point, *_ in VIRTUAL}          # as the initramfs leaves them


def test_mountall_emits_the_113_events_in_order_on_one_connection(tmp_path, monkeypatch):
    out = tmp_path / "out"
    # `mounting` is waited for: a job started by it has run before the mount
    before = "start on mounting MOUNTPOINT=/tmp\ntask\nexec sh -c 'echo ran >> %s'\n" % out
    with SessionInit(jobs={"before": before}) as init:
        monkeypatch.setenv("UPSTART_SESSION", init.address)
        ran, conns = [], []

        def run(argv):
            ran.append((argv, read(str(out)).strip() if out.exists() else ""))
            return True
        emit = InitctlEmit()

        def counted(name, env, wait):
            emit(name, env, wait)
            conns.append(emit.ctx.conn)      # held: an id could be reused after a close
        assert Mountall(emit=counted, run=run).main(ENTRIES, MOUNTED) == 0
        emit.close()
        assert len(conns) == 27 and all(c is conns[0] for c in conns)   # 27 events, one connection
        assert (["mount", "/tmp"], "ran") in ran         # after its `mounting` job ran
        commands = [argv for argv, _ in ran]
        assert commands == [["mount", "-o", "remount,rw", "/"], ["mount", "/tmp"],
                            ["swapon", "-a"], ["mount", "/srv"]]

        def events():
            return [(r["name"], next((e[11:] for e in r.get("env", [])
                                      if e.startswith("MOUNTPOINT=")), None))
                    for r in read_records(init.events) if r.get("kind") == "event-queued"
                    and r.get("name") in ("mounting", "mounted", "virtual-filesystems",
                                          "all-swaps", "local-filesystems",
                                          "remote-filesystems", "filesystem")]
        init.wait_for(lambda: ("filesystem", None) in events())
        got = events()
        virtual = [p for p, *_ in VIRTUAL]
        assert got == ([(n, p) for p in virtual for n in ("mounting", "mounted")]
                       + [("virtual-filesystems", None)]
                       + [("mounting", "/"), ("mounted", "/"),
                          ("mounting", "/tmp"), ("mounted", "/tmp"),
                          ("all-swaps", None), ("local-filesystems", None),
                          ("mounting", "/srv"), ("mounted", "/srv"),
                          ("remote-filesystems", None), ("filesystem", None)])
