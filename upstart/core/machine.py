"""The job state machine as literal tables.

A job instance has a *goal* (where it wants to be: `start`, `stop`, or the
transient `respawn`) and a *state* (where it is: one of 17 names). This module
owns two facts about them, both as data (and what derives from them):

* `NEXT`: the state to move to from (state, goal), upstream's
  `job_next_state`. Two cells depend on more than the pair and are written as
  markers the engine resolves: `PRE_STOP_IF_ALIVE` (running/stop goes through
  pre-stop only while main lives) and `RESPAWN_*` (goal `respawn` becomes
  `start`, then stopping). Pairs absent from the table are impossible.
* `ENTRY`: what entering a state does: whether a run begins, the readiness
  hooks, which job event it emits and whether that event blocks the job,
  whether the instance is at rest or destroyed, which process slot it
  spawns, waits for or kills. `Lifecycle._change_state` is a loop over it.

It must never hold runtime state, perform actions or import the engine.
"""

from __future__ import annotations

from upstart.records import dataclass

GOALS = ("stop", "start", "respawn")

STATES = (
    "waiting", "starting", "security-spawning", "security", "pre-starting",
    "pre-start", "spawning", "spawned", "post-starting", "post-start",
    "running", "pre-stopping", "pre-stop", "stopping", "killed",
    "post-stopping", "post-stop",
)

# Markers for the cells that need the instance, not just the pair.
PRE_STOP_IF_ALIVE = "pre-stopping|stopping"   # running + stop: main alive?
RESPAWN_STOPPING = "respawn->stopping"        # goal respawn: set goal start, go stopping

# (state, goal) -> next state.  "stop" on waiting is never asked (assert).
NEXT: dict[tuple[str, str], str] = {
    # state                  goal=start            goal=stop
    ("waiting", "start"): "starting",
    ("starting", "start"): "security-spawning",    ("starting", "stop"): "stopping",
    ("security-spawning", "start"): "security",    ("security-spawning", "stop"): "stopping",
    ("security", "start"): "pre-starting",         ("security", "stop"): "stopping",
    ("pre-starting", "start"): "pre-start",        ("pre-starting", "stop"): "stopping",
    ("pre-start", "start"): "spawning",            ("pre-start", "stop"): "stopping",
    ("spawning", "start"): "spawned",              ("spawning", "stop"): "stopping",
    ("spawned", "start"): "post-starting",         ("spawned", "stop"): "stopping",
    ("post-starting", "start"): "post-start",      ("post-starting", "stop"): "stopping",
    ("post-start", "start"): "running",            ("post-start", "stop"): "stopping",
    ("running", "start"): "stopping",              ("running", "stop"): PRE_STOP_IF_ALIVE,
    ("pre-stopping", "start"): "pre-stop",         ("pre-stopping", "stop"): "pre-stop",
    ("pre-stop", "start"): "running",              ("pre-stop", "stop"): "stopping",
    ("stopping", "start"): "killed",               ("stopping", "stop"): "killed",
    ("killed", "start"): "post-stopping",          ("killed", "stop"): "post-stopping",
    ("post-stopping", "start"): "post-stop",       ("post-stopping", "stop"): "post-stop",
    ("post-stop", "start"): "starting",            ("post-stop", "stop"): "waiting",
    # the transient respawn goal (main died while a post-start/pre-stop ran)
    ("post-start", "respawn"): RESPAWN_STOPPING,   ("pre-stop", "respawn"): RESPAWN_STOPPING,
}


@dataclass(frozen=True)
class Entry:
    """What entering a state does, in this order (`Lifecycle._change_state`).

    new_run: a new run begins: the failure record and readiness notes are
             cleared, the pending start environment becomes the instance's.
    ready:   `end`: the instance stops being ready (before the event);
             `begin`: it starts waiting for its ready point (after it).
    event:   job event emitted on entry; `blocks` makes it the job's blocker.
    back_from: coming back from this state (a stop cancelled by a start
             while pre-stop ran) emits nothing: the stop environment is
             dropped and the instance is at rest again.
    rest:    the instance is at rest: what it blocks is released (`service`:
             only for a service; a task is released when it stops).
    remove:  the instance is destroyed (the loop ends).
    spawn:   process slot started on entry (if the class defines it), then
             the job moves on at once.
    wait:    process slot whose exit (or readiness, for main) moves the job
             on; when the class lacks it, or it is not running, at once.
    kill:    a live main process is sent the kill signal (the kill timer
             armed) and its exit moves the job on; none: at once.
    """

    new_run: bool = False
    ready: str | None = None
    event: str | None = None
    blocks: bool = False
    back_from: str | None = None
    rest: str | None = None
    remove: bool = False
    spawn: str | None = None
    wait: str | None = None
    kill: bool = False


ENTRY: dict[str, Entry] = {
    "waiting":           Entry(event="stopped", rest="always", remove=True),
    "starting":          Entry(new_run=True, event="starting", blocks=True),
    "security-spawning": Entry(spawn="security"),
    "security":          Entry(wait="security"),
    "pre-starting":      Entry(spawn="pre-start"),
    "pre-start":         Entry(wait="pre-start"),
    "spawning":          Entry(spawn="main"),
    "spawned":           Entry(wait="main"),
    "post-starting":     Entry(spawn="post-start"),
    "post-start":        Entry(wait="post-start"),
    "running":           Entry(event="started", ready="begin", rest="service",
                               back_from="pre-stop"),
    "pre-stopping":      Entry(spawn="pre-stop"),
    "pre-stop":          Entry(wait="pre-stop"),
    "stopping":          Entry(ready="end", event="stopping", blocks=True),
    "killed":            Entry(kill=True),
    "post-stopping":     Entry(spawn="post-stop"),
    "post-stop":         Entry(wait="post-stop"),
}

# The state in which a job waits for each process slot (derived from ENTRY).
WAIT_STATE: dict[str, str] = {e.wait: s for s, e in ENTRY.items() if e.wait}
# Slots whose spawn failure fails the job (a failed post-start or pre-stop
# only moves it on).
SPAWN_FATAL = ("security", "pre-start", "main", "post-stop")

# States in which a job is at rest (no process or event moves it on by itself).
REST_STATES = ("waiting", "running")


def next_state(state: str, goal: str, main_alive: bool = False) -> tuple[str, str]:
    """Return (next state, goal to set) for the pair; raise KeyError if impossible."""
    nxt = NEXT[(state, goal)]
    if nxt == PRE_STOP_IF_ALIVE:
        return ("pre-stopping" if main_alive else "stopping"), goal
    if nxt == RESPAWN_STOPPING:
        return "stopping", "start"
    return nxt, goal
