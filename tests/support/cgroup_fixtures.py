"""Test cgroups: a unique parent made in every hierarchy, and its removal
with whatever is still in it killed (shared by the cgroup and tracking tests)."""

from __future__ import annotations

import os
import signal
import time
import uuid

from upstart.cgroups import fs


def unique_name(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def make_everywhere(name: str, hierarchies) -> list[str]:
    """`name` made under each hierarchy's mount point where it can be; the paths."""
    made = []
    for h in hierarchies:
        path = os.path.join(h.mountpoint, name)
        try:
            os.mkdir(path)
            made.append(path)
        except OSError:
            pass
    return made


def remove(path: str, pause: float = 0.02) -> None:
    """Kill what is left in the cgroup tree at `path` and remove it; it must go."""
    for _ in range(100):
        for pid in fs.members(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if fs.remove_tree(path):
            break
        time.sleep(pause)
    assert not os.path.exists(path), f"test cgroup {path} left behind"
