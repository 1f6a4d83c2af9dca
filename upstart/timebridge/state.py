"""The time bridge's state file: what survives a bridge restart or a reboot.

Owns the file's location, format and atomic replacement. JSON:

    {"version": 1, "boot": "<boot id>", "init": "<init identity>",
     "schedules": {"<schedule key>": {"kind":..., "cursor":..., "due":...,
                                       "last":..., "fired":...}}}

Location: `--state-file`, else `/var/lib/upstart/timebridge.state` for the
system bridge, else `$XDG_STATE_HOME/upstart/timebridge.state` (default
`~/.local/state`) with `--user`. A missing or unreadable file is an empty
state, never an error: the bridge must start even on a broken disk. Never
interprets the entries (the planner does).
"""

from __future__ import annotations

import json
import os

from upstart.records import dataclass, field

VERSION = 1
SYSTEM_PATH = "/var/lib/upstart/timebridge.state"


@dataclass
class State:
    boot: str = ""
    init: str = ""
    schedules: dict[str, dict] = field(default_factory=dict)


def default_path(user: bool, environ=os.environ) -> str:
    if not user:
        return SYSTEM_PATH
    base = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "upstart", "timebridge.state")


def load(path: str) -> State:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return State()
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return State()
    schedules = data.get("schedules")
    if not isinstance(schedules, dict):
        schedules = {}
    return State(str(data.get("boot", "")), str(data.get("init", "")),
                 {k: v for k, v in schedules.items() if isinstance(v, dict)})


def save(path: str, state: State) -> None:
    """Replace the file atomically (write a temporary file, fsync, rename)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    data = {"version": VERSION, "boot": state.boot, "init": state.init,
            "schedules": state.schedules}
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
