"""`upstart-mountall`: mount the file systems and emit Upstart 1.13's mount events.

What Ubuntu's mountall did for Upstart, in the small: the kernel file systems
first, then `/` read-write, then every `/etc/fstab` entry, then swap, with
the events stock jobs wait for:

* `mounting MOUNTPOINT=… TYPE=… DEVICE=… OPTIONS=…` before each mount,
  waited for (a job `start on mounting MOUNTPOINT=/var` runs before it);
* `mounted` with the same variables after it, waited for too;
* `virtual-filesystems` once the kernel file systems are up, `all-swaps`
  after `swapon -a`, `local-filesystems` and `remote-filesystems` (network
  types: mounted in the background, not waited for), then `filesystem`.

Already-mounted points (what the initramfs or init mounted) are not mounted
again, but their events are still emitted. One process emits every event
(initctl in-process, on one connection): a Python start per event costs
~0.3 s under emulation (a connection of its own per event: 1-3 ms more).
A mount that fails is reported on stderr and counted; the events still come
(a machine with a bad fstab line should still boot to a login), and the exit
status is 1.
"""

from __future__ import annotations

import os
import sys

from upstart.cli.spawn import call

# kernel file systems a Debian system expects: (mountpoint, type, device, options)
VIRTUAL = (
    ("/proc", "proc", "proc", "nodev,noexec,nosuid"),
    ("/sys", "sysfs", "sysfs", "nodev,noexec,nosuid"),
    ("/dev", "devtmpfs", "udev", "mode=0755,nosuid"),
    ("/dev/pts", "devpts", "devpts", "noexec,nosuid,gid=5,mode=0620"),
    ("/dev/shm", "tmpfs", "tmpfs", "nosuid,nodev"),
    ("/run", "tmpfs", "tmpfs", "nosuid,nodev,mode=0755"),
    ("/run/lock", "tmpfs", "tmpfs", "nosuid,nodev,noexec,size=5120k"),
    ("/sys/fs/cgroup", "cgroup2", "cgroup2", "nosuid,nodev,noexec"),
)
REMOTE = {"nfs", "nfs4", "smbfs", "cifs", "ncp", "ncpfs", "coda", "ocfs2", "gfs", "gfs2",
          "ceph", "glusterfs", "9p"}


def fstab(path: str = "/etc/fstab") -> list[tuple[str, str, str, str]]:
    """(mountpoint, type, device, options) of each line, in file order."""
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 3:
            continue
        device, point, fstype = fields[:3]
        options = fields[3] if len(fields) > 3 else "defaults"
        out.append((point.replace("\\040", " "), fstype, device, options))
    return out


def mounted_points(path: str = "/proc/self/mounts") -> set[str]:
    try:
        with open(path) as f:
            return {line.split()[1].replace("\\040", " ") for line in f if line.strip()}
    except OSError:
        return set()


class Mountall:
    def __init__(self, emit=None, run=None):
        self.emit = emit or InitctlEmit()
        self.run = run or _run
        self.failures = 0

    def _one(self, point, fstype, device, options, argv) -> None:
        env = [f"MOUNTPOINT={point}", f"TYPE={fstype}", f"DEVICE={device}",
               f"OPTIONS={options}"]
        self.emit("mounting", env, True)
        if argv is not None and not self.run(argv):
            self.failures += 1
            return                     # no `mounted` for a mount that failed
        self.emit("mounted", env, True)

    def main(self, fstab_entries, already: set[str]) -> int:
        entries = [e for e in fstab_entries if "noauto" not in e[3].split(",")]
        for point, fstype, device, options in VIRTUAL:
            argv = None
            if point not in already:
                if not os.path.isdir(point) or fstype == "cgroup2" and \
                        not os.path.isdir("/sys/fs/cgroup"):
                    continue
                argv = ["mount", "-t", fstype, "-o", options, device, point]
            self._one(point, fstype, device, options, argv)
        self.emit("virtual-filesystems", [], False)
        root = next((e for e in entries if e[0] == "/"), ("/", "rootfs", "/dev/root", "rw"))
        ro = "ro" in root[3].split(",")
        self._one(*root, None if ro else ["mount", "-o", "remount,rw", "/"])
        remote = []
        for entry in entries:
            point, fstype, device, options = entry
            if point == "/" or fstype == "swap":
                continue
            if point in already:
                self._one(point, fstype, device, options, None)
                continue
            if fstype in REMOTE or "_netdev" in options.split(","):
                remote.append(entry)
                continue
            self._one(point, fstype, device, options, ["mount", point])
        if any(e[1] == "swap" for e in entries):
            if not self.run(["swapon", "-a"]):
                self.failures += 1
        self.emit("all-swaps", [], False)
        self.emit("local-filesystems", [], False)
        for point, fstype, device, options in remote:
            self._one(point, fstype, device, options, ["mount", point])
        self.emit("remote-filesystems", [], False)
        self.emit("filesystem", [], False)
        return 1 if self.failures else 0


def _run(argv: list[str]) -> bool:
    code = call(argv, "upstart-mountall")
    if code != 0:
        sys.stderr.write(f"upstart-mountall: {' '.join(argv)} failed (exit {code})\n")
    return code == 0


class InitctlEmit:
    """`initctl emit [--no-wait] NAME ENV...` run in this process, every
    event on the same connection to init (initctl's own code: its address
    rules and messages). A failed call drops the connection; the next event
    opens a new one (init may have re-executed meanwhile)."""

    def __init__(self, prog: str = "initctl"):
        self.prog = prog
        self.ctx = None

    def __call__(self, name: str, env: list[str], wait: bool) -> None:
        from upstart.cli import initctl
        if self.ctx is None:
            self.ctx = initctl.Ctx(self.prog, sys.stdout, sys.stderr)
        ctx = self.ctx
        ctx.opts = {}
        try:
            code = initctl.run_command(ctx, ["emit"] + ([] if wait else ["--no-wait"]) + [name] + env)
        except initctl.Done as done:
            code = done.code
        except Exception as exc:       # a boot tool: say it, go on with the next mount
            sys.stderr.write(f"{self.prog}: {exc}\n")
            code = 1
        if code != 0:
            sys.stderr.write(f"upstart-mountall: could not emit {name}\n")
            self.close()

    def close(self) -> None:
        if self.ctx is not None and self.ctx.conn is not None:
            self.ctx.conn.close()
        self.ctx = None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        sys.stderr.write("usage: upstart-mountall (no arguments; reads /etc/fstab)\n")
        return 2
    return Mountall().main(fstab(), mounted_points())


if __name__ == "__main__":
    sys.exit(main())
