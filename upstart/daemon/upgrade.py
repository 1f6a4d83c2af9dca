"""The daemon's side of Upstart 1.13's serialised state (upstart/compat/state113.py).

* `get_state(...)`: what `GetState` returns, 1.13's document of our state.
* `restore_113(daemon, doc)`: the in-place upgrade from C Upstart 1.13 (or a
  restore from our own `GetState`): 1.13 re-execs `/sbin/init`, now ours, with
  `--restart --state-fd N`; the job classes come from the configuration on
  disk, the instances, events and job environment from the document, and the
  job processes, still children of this process, stay supervised. Console log
  ptys that 1.13 kept open across its exec are adopted when the fd really is
  a pty master. Raises on a document it cannot use (the caller falls back to a
  clean start and logs why).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from upstart.compat import state113


def _sources(sources: list) -> list[tuple[str, str]]:
    out = []
    for src in sources:
        if isinstance(src, str):
            out.append((src, "dir"))
        else:
            out.append((src.path, src.kind))
    return out


def _wall_offset() -> float:
    return time.time() - time.monotonic()


def get_state(*, engine: Any, sources: list, bus_address: str | None,
              logdir: str | None, daemon: dict | None = None) -> str:
    """`engine`'s state as 1.13's document; `sources` its configuration
    sources, `bus_address` a Session Init's bus, `logdir` where job logs go."""
    from upstart.process.joblog import log_path

    doc = state113.to_113(
        engine.snapshot(), sources=_sources(sources),
        control_bus_address=bus_address,
        log_path=(lambda job, inst: log_path(logdir, job, inst)) if logdir else
        (lambda job, inst: None),
        wall_offset=_wall_offset(), daemon=daemon)
    return json.dumps(doc)


def _is_pty_master(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") in ("/dev/ptmx", "/dev/pts/ptmx")
    except OSError:
        return False


def inherited_listener(address: str) -> int | None:
    """A listening socket on our own address that the exec'ing init left open
    (not close-on-exec): adopted, so that clients queued in its backlog are
    served and our bind does not find the address taken."""
    import socket

    from upstart.control import address as addr

    try:
        want = addr.parse(address)[0]
    except Exception:
        return None
    if isinstance(want, str):
        want = want.encode()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            here = sock.getsockname() if sock.family == socket.AF_UNIX else None
        except OSError:
            listening, here = 0, None
        finally:
            sock.close()
        if isinstance(here, str):
            here = here.encode()
        if listening and here == want:
            return fd
    return None


def restore_113(daemon: Any, doc: dict) -> None:
    """`daemon`: upstart.daemon.daemon.Daemon, whose global world gets the engine."""
    from upstart.core.engine import Engine
    from upstart.jobfile.conf import load_sources

    world = daemon.world
    result = load_sources(daemon.env.conf_sources())
    for err in result.errors:
        daemon.logger.log_parse_error(err)
    world.logged_errors = set(result.errors)
    notes: list[str] = []
    snap = state113.from_113(doc, result.classes, wall_offset=_wall_offset(), notes=notes)
    engine = Engine.restore(snap, world.engine.clock, daemon.supervisor,
                            classes=result.classes, **daemon.engine_options())
    logs = {str(pid): dict(item, buffer="") for pid, item in state113.log_fds(doc).items()
            if _is_pty_master(item["fd"])}
    children = {}
    for name in engine.registry.names():
        for inst in engine.registry.entries[name].sorted_instances():
            for slot, pid in inst.processes():
                children[str(pid)] = [inst.display, slot, False, False]
    world.engine = engine
    daemon.supervisor.adopt_state({"version": 1, "logs": logs, "children": children})
    for note in notes:
        daemon.logger.log("warn", "Upgrade from Upstart 1.13: " + note)
    ours = state113.daemon_state(doc)     # from our own GetState: cgroups, log priority
    if isinstance(ours.get("cgroups"), dict):
        daemon.cgroups.adopt_state(ours["cgroups"])
    if ours.get("log_priority") in ("debug", "info", "message", "warn", "error", "fatal"):
        daemon.logger.priority = ours["log_priority"]
    if daemon.control_handover is None:
        listen = inherited_listener(daemon.address)
        if listen is not None:
            daemon.control_handover = {"listen": listen}
    daemon.apply(engine.resume_effects())
    daemon.reload_configuration()
    jobs = sum(len(c["instances"]) for c in snap["classes"].values())
    daemon.logger.log("info", f"Restored Upstart 1.13 state: {jobs} instances, "
                      f"{len(snap['events'])} events")
