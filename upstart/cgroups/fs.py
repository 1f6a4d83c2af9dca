"""The cgroup file systems of this machine, read and written directly.

What it is: discovery of the mounted hierarchies (from /proc/self/mountinfo
and /proc/self/cgroup, never hard-coded paths) and the few operations the
manager needs on one cgroup directory: create, enable v2 controllers down a
path, write a setting (v1 through cgroupspy's controller objects, v2 as a
plain file), list members, signal every member (`cgroup.kill`, or freeze /
signal / thaw, or repeated sweeps), read usage, remove empty directories.

It owns no policy and no job state; it must never decide what a job means,
never raise for a missing file where "absent" is an answer, and never
touch a directory outside the hierarchy it was given.
"""

from __future__ import annotations

import errno
import os
import signal
import time

from upstart.cgroups.model import V1, V2, Write
from upstart.records import dataclass

# ------------------------------------------------------------ discovery


@dataclass(frozen=True)
class Mount:
    kind: str                    # v1 / v2
    mountpoint: str
    root: str                    # the path inside the hierarchy that is mounted there
    controllers: frozenset[str]  # v1: the controllers of the hierarchy; v2: empty


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace(
        "\\012", "\n").replace("\\134", "\\")


def parse_mountinfo(text: str) -> list[Mount]:
    """The cgroup (v1) and cgroup2 mounts in a /proc/PID/mountinfo text."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, opts = tail[0], tail[2].split(",")
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            out.append(Mount(V2, point, root, frozenset()))
        elif fstype == "cgroup":
            ctrls = frozenset(o for o in opts if o not in (
                "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec",
                "clone_children", "xattr", "noprefix", "cpuset_v2_mode")
                and "=" not in o)
            if ctrls:   # named hierarchies (name=systemd) have no controller
                out.append(Mount(V1, point, root, ctrls))
    return out


def parse_proc_cgroup(text: str) -> dict[frozenset[str], str]:
    """/proc/PID/cgroup: the cgroup path per hierarchy (key: its controllers;
    the v2 hierarchy is the empty set)."""
    out: dict[frozenset[str], str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if ctrls.startswith("name="):
            continue
        out[frozenset(c for c in ctrls.split(",") if c)] = path
    return out


@dataclass(frozen=True)
class Hierarchy:
    kind: str                     # v1 / v2
    controllers: frozenset[str]
    mountpoint: str
    base: str                     # absolute directory under which job cgroups are made

    def path(self, rel: str) -> str:
        return os.path.join(self.base, rel)


def hierarchies(mounts: list[Mount], own: dict[frozenset[str], str],
                base: str | None = None) -> list[Hierarchy]:
    """Where job cgroups go in each mounted hierarchy: under `base` (a path
    from the hierarchy's root) when given, else under init's own cgroup.
    When one hierarchy is mounted several times the first mount wins."""
    seen: set[tuple[str, frozenset[str]]] = set()
    out = []
    for m in mounts:
        key = (m.kind, m.controllers)
        if key in seen:
            continue
        seen.add(key)
        where = base if base is not None else own.get(m.controllers, "/")
        where = "/" + where.strip("/")
        root = "/" + m.root.strip("/")
        if root != "/":
            if not (where == root or where.startswith(root + "/")):
                continue        # that part of the hierarchy is not visible here
            where = where[len(root):] or "/"
        out.append(Hierarchy(m.kind, m.controllers, m.mountpoint,
                             os.path.normpath(m.mountpoint + where)))
    return out


def discover(base: str | None = None) -> list[Hierarchy]:
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = parse_mountinfo(f.read())
        with open("/proc/self/cgroup") as f:
            own = parse_proc_cgroup(f.read())
    except OSError:
        return []
    # a mount hidden under a later one (a tmpfs over /sys/fs/cgroup, then the
    # hierarchy mounted again) has no directory any more: the visible one wins
    mounts = [m for m in mounts if os.path.isdir(m.mountpoint)]
    return hierarchies(mounts, own, base)


def v2_available(hier: Hierarchy) -> set[str]:
    """Controllers that can be enabled below the v2 base."""
    text = read(os.path.join(hier.base, "cgroup.controllers"))
    return set(text.split()) if text is not None else set()


def writable(hier: Hierarchy) -> bool:
    return os.path.isdir(hier.base) and os.access(hier.base, os.W_OK | os.X_OK)


# ---------------------------------------------------------- primitives

def read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def make(hier: Hierarchy, rel: str) -> str:
    """Create `rel` (and its parents) below the base; return its directory."""
    path = hier.path(rel)
    os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def enable_v2(hier: Hierarchy, rel: str, controllers: set[str]) -> None:
    """Enable `controllers` in cgroup.subtree_control of the base and of every
    directory down to the parent of `rel` (v2 delegates them level by level)."""
    parts = rel.split("/")
    dirs = [hier.base] + [hier.path("/".join(parts[:i])) for i in range(1, len(parts))]
    for d in dirs:
        have = set((read(os.path.join(d, "cgroup.subtree_control")) or "").split())
        missing = sorted(controllers - have)
        if missing:
            write(os.path.join(d, "cgroup.subtree_control"),
                  " ".join("+" + c for c in missing))


def _v1_controller(controller: str, path: str):
    """A cgroupspy controller object for the v1 cgroup at `path`."""
    from cgroupspy import controllers as cs

    class _At:          # cgroupspy controllers only need the node's full path
        full_path = path.encode()

    cls = {
        "memory": cs.MemoryController, "cpu": cs.CpuController,
        "cpuacct": cs.CpuAcctController, "cpuset": cs.CpuSetController,
        "devices": cs.DevicesController, "blkio": cs.BlkIOController,
        "net_cls": cs.NetClsController, "net_prio": cs.NetPrioController,
    }.get(controller, cs.Controller)
    return cls(_At())


def apply_write(kind: str, controller: str, path: str, w: Write) -> None:
    """Carry out one setting; raises OSError as the kernel answers."""
    value = w.value
    if w.period_of:     # v2 cpu.max: keep the quota, set the period
        old = (read(os.path.join(path, w.filename)) or "max 100000").split()
        value = f"{old[0]} {w.value}"
    if kind == V1:
        ctl = _v1_controller(controller, path)
        ctl.set_property(w.filename.encode(), value)
    else:
        write(os.path.join(path, w.filename), value)


def read_value(kind: str, controller: str, path: str, filename: str) -> str | None:
    try:
        if kind == V1:
            return _v1_controller(controller, path).get_property(filename.encode())
        return (read(os.path.join(path, filename)) or "").strip() or None
    except OSError:
        return None


def procs(path: str) -> list[int]:
    text = read(os.path.join(path, "cgroup.procs"))
    return [int(w) for w in text.split()] if text else []


def members(path: str) -> set[int]:
    """Every process in the cgroup at `path` and in its descendants."""
    out: set[int] = set()
    for d, _subdirs, _files in os.walk(path):
        out.update(procs(d))
    return out


def populated(path: str) -> bool:
    return bool(members(path))


# ---------------------------------------------------------------- kill

def _signal_all(pids, sig: int) -> int:
    n = 0
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, sig)
            n += 1
        except OSError:
            pass
    return n


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.001)


def _events(path: str) -> dict[str, str]:
    out = {}
    for line in (read(os.path.join(path, "cgroup.events")) or "").splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out


def kill_v2(path: str, sig: int) -> bool:
    """Signal every process of the v2 cgroup tree at `path`. SIGKILL uses
    `cgroup.kill` when the kernel has it; other signals (and old kernels)
    freeze the tree, signal every member, and thaw it, so no process can fork
    away in between. Returns whether anything was signalled or killed."""
    if not os.path.isdir(path):
        return False
    if sig == signal.SIGKILL and os.path.exists(os.path.join(path, "cgroup.kill")):
        pids = members(path)
        try:
            write(os.path.join(path, "cgroup.kill"), "1")
            return bool(pids)
        except OSError:
            pass
    frozen = False
    freeze = os.path.join(path, "cgroup.freeze")
    if os.path.exists(freeze):
        try:
            write(freeze, "1")
            frozen = True
            _wait_for(lambda: _events(path).get("frozen") == "1", 0.2)
        except OSError:
            frozen = False
    try:
        return sweep(lambda: members(path), sig) > 0
    finally:
        if frozen:
            try:
                write(freeze, "0")
            except OSError:
                pass


def kill_v1_freezer(path: str, sig: int) -> bool:
    """The same with a v1 freezer cgroup: FROZEN, signal, THAWED."""
    if not os.path.isdir(path):
        return False
    state = os.path.join(path, "freezer.state")
    frozen = False
    try:
        write(state, "FROZEN")
        frozen = True
        _wait_for(lambda: (read(state) or "").strip() == "FROZEN", 0.2)
    except OSError:
        pass
    try:
        return sweep(lambda: members(path), sig) > 0
    finally:
        if frozen:
            try:
                write(state, "THAWED")
            except OSError:
                pass


def sweep(list_members, sig: int, rounds: int = 8) -> int:
    """Signal members until a round finds no new one (what is left when the
    tree cannot be frozen: a forking process is caught by a later round)."""
    done: set[int] = set()
    total = 0
    for _ in range(rounds):
        new = list_members() - done
        if not new:
            break
        total += _signal_all(sorted(new), sig)
        done |= new
    return total


def remove_tree(path: str) -> bool:
    """rmdir `path` and its descendants, deepest first. True when it is gone
    (or was never there); False while a member keeps it busy."""
    if not os.path.isdir(path):
        return True
    for d, _subdirs, _files in os.walk(path, topdown=False):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError as err:
            if err.errno in (errno.EBUSY, errno.ENOTEMPTY):
                return False
            raise
    return not os.path.isdir(path)


def prune(hier: Hierarchy, rel: str) -> None:
    """Remove the now-empty parents of `rel` up to (not including) the base,
    e.g. the shared `upstart` directory once its last job is gone."""
    parts = rel.split("/")[:-1]
    while parts:
        try:
            os.rmdir(hier.path("/".join(parts)))
        except OSError:
            return
        parts.pop()
