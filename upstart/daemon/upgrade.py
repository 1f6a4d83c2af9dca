"""The daemon's side of Upstart 1.13's serialised state (upstart/compat/state113.py).

* `get_state(daemon)`: what `GetState` returns, 1.13's document of our state.
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
from typing import TYPE_CHECKING

from upstart.compat import state113

if TYPE_CHECKING:
    from upstart.daemon.daemon import Daemon


def _sources(daemon: "Daemon") -> list[tuple[str, str]]:
    out = []
    for src in daemon.conf_sources():
        if isinstance(src, str):
            out.append((src, "dir"))
        else:
            out.append((src.path, src.kind))
    return out


def _wall_offset() -> float:
    return time.time() - time.monotonic()


def get_state(daemon: "Daemon") -> str:
    from upstart.process.joblog import log_path

    logdir = daemon.log_dir()
    doc = state113.to_113(
        daemon.engine.snapshot(), sources=_sources(daemon),
        control_bus_address=daemon.bus_address if daemon.session_init else None,
        log_path=(lambda job, inst: log_path(logdir, job, inst)) if logdir else
        (lambda job, inst: None),
        wall_offset=_wall_offset())
    return json.dumps(doc)


def _is_pty_master(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") in ("/dev/ptmx", "/dev/pts/ptmx")
    except OSError:
        return False


def restore_113(daemon: "Daemon", doc: dict) -> None:
    from upstart.core.engine import Engine
    from upstart.jobfile.conf import load_sources

    result = load_sources(daemon.conf_sources())
    for err in result.errors:
        daemon.logger.log_parse_error(err)
    daemon._logged_errors = set(result.errors)
    notes: list[str] = []
    snap = state113.from_113(doc, result.classes, wall_offset=_wall_offset(), notes=notes)
    engine = Engine.restore(snap, daemon.engine.clock, daemon.supervisor, classes=result.classes,
                            **daemon.engine_options())
    logs = {str(pid): dict(item, buffer="") for pid, item in state113.log_fds(doc).items()
            if _is_pty_master(item["fd"])}
    children = {}
    for name in engine.registry.names():
        for inst in engine.registry.entries[name].sorted_instances():
            for slot, pid in inst.processes():
                children[str(pid)] = [inst.display, slot, False, False]
    daemon.engine = engine
    daemon.supervisor.adopt_state({"version": 1, "logs": logs, "children": children})
    for note in notes:
        daemon.logger.log("warn", "Upgrade from Upstart 1.13: " + note)
    daemon.apply(engine.resume_effects())
    daemon.reload_configuration()
    jobs = sum(len(c["instances"]) for c in snap["classes"].values())
    daemon.logger.log("info", f"Restored Upstart 1.13 state: {jobs} instances, "
                      f"{len(snap['events'])} events")
