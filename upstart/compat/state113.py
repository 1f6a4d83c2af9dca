"""Upstart 1.13's serialised state, to and from our engine snapshot.

Upstart 1.13 writes its whole state as one JSON document: `GetState` returns it,
and a stateful re-exec hands it to the new init on `--state-fd` (with
`--restart`). Its shape is recorded from the real 1.13.2 in
`shared/golden/state/`: top-level `sessions`, `events`, `control_bus_address`,
`job_environment`, `job_classes`, `conf_sources`; enumerations by their C
names; events referred to by their index in `events`; operator trees in
postfix order; per-process arrays indexed by 1.13's process types.

* `to_113(snap, ...)` turns our engine snapshot (`core/snapshot.take`) into that
  document. What 1.13 has no place for (our exact state names, readiness,
  back-off, the states table, ...) goes in `x-upstart-py` keys, which 1.13's
  reader ignores, so that our own init restores from our `GetState` exactly.
* `from_113(doc, classes, ...)` turns such a document (written by 1.13 or by
  us) back into an engine snapshot for `Engine.restore`, with the job classes
  parsed from the configuration on disk (as 1.13 re-reads its conf files).

What is mapped, what is dropped and why: docs/design/state113.md. Pure: no
I/O, no clock (the wall and monotonic times are handed in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upstart.control.paths import instance_path, job_path

EXTRA = "x-upstart-py"      # our own keys, beside 1.13's (1.13 ignores them)
TOP_KEYS = ("sessions", "events", "control_bus_address", "job_environment",
            "job_classes", "conf_sources")

# 1.13's ProcessType order: the index of each slot in `pid`, `process`, `log`
SLOTS = ("main", "pre-start", "post-start", "pre-stop", "post-stop", "security")
PROCESS_NAMES = ("PROCESS_MAIN", "PROCESS_PRE_START", "PROCESS_POST_START",
                 "PROCESS_PRE_STOP", "PROCESS_POST_STOP", "PROCESS_SECURITY")
GOALS = {"stop": "JOB_STOP", "start": "JOB_START", "respawn": "JOB_RESPAWN"}
# our 17 states onto 1.13's 11 (our `-ing` states are the moment before a spawn)
STATES = {
    "waiting": "JOB_WAITING", "starting": "JOB_STARTING",
    "security-spawning": "JOB_SECURITY", "security": "JOB_SECURITY",
    "pre-starting": "JOB_PRE_START", "pre-start": "JOB_PRE_START",
    "spawning": "JOB_SPAWNED", "spawned": "JOB_SPAWNED",
    "post-starting": "JOB_POST_START", "post-start": "JOB_POST_START",
    "running": "JOB_RUNNING",
    "pre-stopping": "JOB_PRE_STOP", "pre-stop": "JOB_PRE_STOP",
    "stopping": "JOB_STOPPING", "killed": "JOB_KILLED",
    "post-stopping": "JOB_POST_STOP", "post-stop": "JOB_POST_STOP",
}
STATES_IN = {"JOB_WAITING": "waiting", "JOB_STARTING": "starting",
             "JOB_SECURITY": "security", "JOB_PRE_START": "pre-start",
             "JOB_SPAWNED": "spawned", "JOB_POST_START": "post-start",
             "JOB_RUNNING": "running", "JOB_PRE_STOP": "pre-stop",
             "JOB_STOPPING": "stopping", "JOB_KILLED": "killed",
             "JOB_POST_STOP": "post-stop"}
PROGRESS = {"pending": "EVENT_PENDING", "handling": "EVENT_HANDLING",
            "finished": "EVENT_FINISHED"}
EXPECT = {"none": "EXPECT_NONE", "stop": "EXPECT_STOP", "daemon": "EXPECT_DAEMON",
          "fork": "EXPECT_FORK"}
CONSOLE = {"none": "CONSOLE_NONE", "output": "CONSOLE_OUTPUT", "owner": "CONSOLE_OWNER",
           "log": "CONSOLE_LOG"}
# Linux's RLIMIT_* numbering: the index of each resource in `limits`
RLIMITS = ("cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock",
           "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime")
RLIM_INFINITY = (1 << 64) - 1
NICE_UNSET = -21            # 1.13's "no nice stanza"


class StateFormatError(ValueError):
    """The document is not a state this init can restore (named in the log line)."""

    def __str__(self) -> str:
        return "Upstart 1.13 state: " + super().__str__()


def _inv(table: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in table.items()}


def is_113(doc: Any) -> bool:
    """A 1.13-shaped document (from 1.13 itself, or our GetState)."""
    return isinstance(doc, dict) and "job_classes" in doc and "events" in doc \
        and "version" not in doc


# ------------------------------------------------------------------ operators

def _leaves(expr: dict | None) -> list[dict]:
    if expr is None:
        return []
    if "match" in expr:
        return [expr]
    return _leaves(expr["left"]) + _leaves(expr["right"])


def _postfix(expr: dict | None, latch: list | None, index_of: dict[int, int]) -> list[dict]:
    """1.13's operator list (postfix) from a class expression and our latch
    (`[event id per leaf] + [event copy per leaf]`, core/snapshot.py)."""
    leaves = _leaves(expr)
    n = len(leaves)
    ids = latch[:n] if latch and len(latch) == 2 * n else [None] * n
    copies = latch[n:] if latch and len(latch) == 2 * n else [None] * n
    out: list[dict] = []
    counter = iter(range(n))

    def walk(e: dict) -> bool:
        if "match" in e:
            i = next(counter)
            value = copies[i] is not None
            node: dict[str, Any] = {"type": "EVENT_MATCH", "value": int(value),
                                    "name": e["match"]}
            if e["args"]:
                node["env"] = list(e["args"])
            if value and ids[i] in index_of:
                node["event"] = index_of[ids[i]]
            elif value:
                # the matched event has finished (ours never holds it, unlike 1.13):
                # its environment, which the job gets when it starts, travels here
                node[EXTRA] = {"env": list(copies[i][1])}
            out.append(node)
            return value
        left, right = walk(e["left"]), walk(e["right"])
        value = (left and right) if e["op"] == "and" else (left or right)
        out.append({"type": "EVENT_AND" if e["op"] == "and" else "EVENT_OR",
                    "value": int(value)})
        return value

    if expr is not None:
        walk(expr)
    return out


def _latch_in(nodes: Any, expr: Any, events: list[dict],
              by_index: dict[int, int]) -> list | None:
    """Our latch from 1.13's operator list, when its leaves are the class's
    (same count and names); a changed condition loses its latches, as 1.13's
    own reload of a changed class would."""
    if not isinstance(nodes, list):
        return None
    got = [n for n in nodes if isinstance(n, dict) and n.get("type") == "EVENT_MATCH"]
    leaves = _leaves(expr)
    if [n.get("name") for n in got] != [leaf.get("match") for leaf in leaves]:
        return None
    ids: list = []
    copies: list = []
    for node in got:
        idx = node.get("event")
        ev = events[idx] if isinstance(idx, int) and 0 <= idx < len(events) else None
        if node.get("value") and ev is not None:
            ids.append(by_index[idx])
            copies.append([ev["name"], list(ev.get("env") or [])])
        elif node.get("value"):
            # a true leaf whose event already finished: keep the latch, no event
            # (its environment only when our own export wrote it)
            extra = node.get(EXTRA) if isinstance(node.get(EXTRA), dict) else {}
            env = extra.get("env") if isinstance(extra.get("env"), list) else []
            ids.append(None)
            copies.append([node.get("name"), [str(v) for v in env]])
        else:
            ids.append(None)
            copies.append(None)
    return ids + copies


# ------------------------------------------------------------------ export

def _class_113(name: str, c: dict, jobs: list[dict], latch: list | None,
               index_of: dict[int, int]) -> dict:
    jc = c["class"]
    procs = jc.get("process") or {}
    limits = jc.get("limits") or {}
    out: dict[str, Any] = {
        "session": 0, "name": name, "path": job_path(name), "instance": jc.get("instance", ""),
        "jobs": jobs,
        "description": jc.get("description"), "author": jc.get("author"),
        "version": jc.get("version"),
        "env": list(jc.get("env") or []), "export": list(jc.get("export") or []),
    }
    if jc.get("start_on") is not None:
        out["start_on"] = _postfix(jc["start_on"], latch, index_of)
    if jc.get("stop_on") is not None:
        out["stop_on"] = _postfix(jc["stop_on"], None, index_of)
    out["emits"] = list(jc.get("emits") or [])
    out["process"] = [{"script": int(bool(procs[s][0])), "command": procs[s][1]}
                      if s in procs else {"script": 0, "command": None} for s in SLOTS]
    umask = jc.get("umask")
    out.update({
        "expect": EXPECT.get(jc.get("expect") or "none", "EXPECT_NONE"),
        "task": int(bool(jc.get("task"))), "kill_timeout": jc.get("kill_timeout", 5),
        "kill_signal": jc.get("kill_signal", 15), "reload_signal": jc.get("reload_signal", 1),
        "respawn": int(bool(jc.get("respawn"))), "respawn_limit": jc.get("respawn_limit", 10),
        "respawn_interval": jc.get("respawn_interval", 5),
        "normalexit": list(jc.get("normal_exit") or []),
        "console": CONSOLE.get(jc.get("console") or "log", "CONSOLE_LOG"),
        "umask": 0o22 if umask is None else umask,
        "nice": NICE_UNSET if jc.get("nice") is None else jc["nice"],
        "oom_score_adj": jc.get("oom_score") or 0,
        "limits": [_limit(limits.get(r)) for r in RLIMITS],
        "chroot": jc.get("chroot"), "chdir": jc.get("chdir"), "setuid": jc.get("setuid"),
        "setgid": jc.get("setgid"), "deleted": int(bool(c.get("deleted"))),
        "debug": int(bool(jc.get("debug"))), "usage": jc.get("usage"),
        "apparmor_switch": jc.get("apparmor_switch"), "cgmanager_wait": 0,
        # ours: the whole class as we parsed it, and the registry's own fields
        EXTRA: {k: v for k, v in c.items() if k not in ("instances", "start_on")},
    })
    return out


def _limit(value: Any) -> dict:
    if value is None:
        return {"rlim_cur": 0, "rlim_max": 0}
    soft, hard = value
    return {"rlim_cur": RLIM_INFINITY if soft is None else soft,
            "rlim_max": RLIM_INFINITY if hard is None else hard}


# instance keys of our snapshot that 1.13's job fields carry
_MAPPED = ("goal", "state", "env", "start_env", "stop_env", "pids", "failed",
           "failed_process", "exit_status", "respawn_time", "respawn_count", "kill_timer",
           "stop_on", "blocker", "blocking")


def _log_113(path: str) -> dict:
    """A job log as 1.13 writes it: no fd of ours is handed on (`fd` and
    `io_watch_fd` -1), the owner 0 as 1.13 always records it."""
    return {"fd": -1, "io_watch_fd": -1, "path": path, "uid": 0, "detached": 0,
            "remote_closed": 0, "open_errno": 0}


def _job_113(job: str, iname: str, d: dict, c: dict, index_of: dict[int, int],
             log_path: Callable[[str, str], str | None], wall_offset: float) -> dict:
    pids = d.get("pids") or {}
    out: dict[str, Any] = {
        "name": iname, "path": instance_path(job, iname),
        "goal": GOALS.get(d["goal"], "JOB_STOP"), "state": STATES.get(d["state"], "JOB_WAITING"),
        "env": list(d.get("env") or []), "start_env": list(d.get("start_env") or []),
        "stop_env": list(d.get("stop_env") or []),
    }
    if c["class"].get("stop_on") is not None:
        out["stop_on"] = _postfix(c["class"]["stop_on"], d.get("stop_on"), index_of)
    out["fds"] = []
    out["pid"] = [int(pids.get(s, 0)) for s in SLOTS]
    if d.get("blocker") in index_of:
        out["blocker"] = index_of[d["blocker"]]
    blocking = [{"data": {"index": index_of[i]}, "type": "BLOCKED_EVENT"}
                for i in d.get("blocking") or [] if i in index_of]
    if blocking:
        out["blocking"] = blocking
    if d.get("kill_timer"):
        out["kill_timer"] = {"timeout": c["class"].get("kill_timeout", 5)}
    failed_process = d.get("failed_process")
    respawn_time = d.get("respawn_time")
    console = c["class"].get("console") or "log"
    path = log_path(job, iname) if console == "log" and pids.get("main") else None
    out.update({
        "kill_process": "PROCESS_INVALID", "failed": int(bool(d.get("failed"))),
        "failed_process": PROCESS_NAMES[SLOTS.index(failed_process)]
        if failed_process in SLOTS else "PROCESS_INVALID",
        "exit_status": d.get("exit_status", 0),
        "respawn_time": 0 if respawn_time is None else int(respawn_time + wall_offset),
        "respawn_count": d.get("respawn_count", 0), "trace_forks": 0,
        "trace_state": "TRACE_NONE",
        "log": [_log_113(path) if i == 0 and path else {"path": None}
                for i in range(len(SLOTS))],
        "process_data": [None] * len(SLOTS),
        EXTRA: {k: v for k, v in d.items() if k not in _MAPPED}
        | {"state": d["state"], "respawn_time": respawn_time,
           "start_env": d.get("start_env"), "stop_env": d.get("stop_env")},
    })
    return out


def to_113(snap: dict, *, sources: list[tuple[str, str]], control_bus_address: str | None,
           log_path: Callable[[str, str], str | None], wall_offset: float = 0.0,
           daemon: dict | None = None) -> dict:
    """1.13's document from our engine snapshot. `sources`: the configuration
    sources in order, as (path, "dir" | "file"); `log_path(job, instance)`: the
    job log's path; `wall_offset`: wall clock minus our monotonic clock;
    `daemon`: the shell's own state beside the engine's (cgroups, log priority)."""
    events = snap.get("events", [])
    index_of = {ev["id"]: i for i, ev in enumerate(events)}
    out_events = []
    for ev in events:
        item: dict[str, Any] = {
            "session": 0, "name": ev["name"], "env": list(ev["env"]),
            "fd": -1 if ev.get("fd") is None else ev["fd"],
            "progress": PROGRESS.get(ev["progress"], "EVENT_PENDING"),
            "failed": int(bool(ev.get("failed"))), "blockers": ev.get("blockers", 0),
        }
        blocking = [{"data": {"class": job, "session": 0, "name": iname},
                     "type": "BLOCKED_JOB"} for _kind, (job, iname) in ev.get("blocking", [])]
        if blocking:
            item["blocking"] = blocking
        out_events.append(item)
    classes = []
    for name, c in snap.get("classes", {}).items():
        if "class" not in c:
            continue
        jobs = [_job_113(name, iname, d, c, index_of, log_path, wall_offset)
                for iname, d in c.get("instances", {}).items()]
        classes.append(_class_113(name, c, jobs, c.get("start_on"), index_of))
    conf_sources = []
    for i, (path, kind) in enumerate(sources):
        prefix = path.rstrip("/") + "/"
        files = [{"path": c["class"]["path"], "conf_source": i, "flag": 1,
                  "job_class": {"name": name, "session": 0}}
                 for name, c in snap.get("classes", {}).items()
                 if kind == "dir" and (c.get("class") or {}).get("path", "")
                 and c["class"]["path"].startswith(prefix)]
        conf_sources.append({"session": 0, "path": path,
                             "type": "CONF_JOB_DIR" if kind == "dir" else "CONF_FILE",
                             "flag": 1, "conf_files": files})
    top = {k: v for k, v in snap.items() if k not in ("classes", "events", "job_env")}
    top["event_ids"] = [ev["id"] for ev in events]
    if daemon:
        top["daemon"] = daemon
    return {
        "sessions": [], "events": out_events, "control_bus_address": control_bus_address,
        "job_environment": list(snap.get("job_env", [])), "job_classes": classes,
        "conf_sources": conf_sources, EXTRA: top,
    }


# ------------------------------------------------------------------ import

def _need(cond: bool, what: str) -> None:
    if not cond:
        raise StateFormatError(what)


def from_113(doc: Any, classes: dict[str, Any], *, wall_offset: float = 0.0,
             notes: list[str] | None = None) -> dict:
    """An engine snapshot (core/snapshot.py's format) from a 1.13 document.

    `classes`: the job classes parsed from the configuration on disk, by name
    (their `start_on`/`stop_on` give the trees the latches belong to);
    `wall_offset`: wall clock minus our monotonic clock (1.13 keeps wall times).
    Instances of classes no longer on disk are left out and named in `notes`.
    Raises StateFormatError for a document that is not 1.13's shape."""
    from upstart.core.snapshot import class_to_json

    notes = notes if notes is not None else []
    _need(is_113(doc), "not an Upstart 1.13 state (no job_classes/events)")
    for key in TOP_KEYS:
        _need(key in doc, f"no {key!r} in the state")
    events = doc["events"]
    _need(isinstance(events, list) and all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                           for e in events), "events is not a list of events")
    _need(isinstance(doc["job_classes"], list), "job_classes is not a list")
    env = doc["job_environment"]
    _need(isinstance(env, list) and all(isinstance(v, str) for v in env),
          "job_environment is not a list of strings")
    ours = doc.get(EXTRA) if isinstance(doc.get(EXTRA), dict) else {}
    ids = ours.get("event_ids") if isinstance(ours.get("event_ids"), list) \
        and len(ours.get("event_ids")) == len(events) else list(range(1, len(events) + 1))
    by_index = dict(enumerate(ids))
    progress_in = _inv(PROGRESS)
    # who holds each event: jobs blocked on it (1.13 also counts the operators that
    # matched it; ours never holds an emitter for a partial match, docs/design/events.md)
    held: dict[int, int] = {}
    out_classes: dict[str, Any] = {}
    for cdoc in doc["job_classes"]:
        _need(isinstance(cdoc, dict) and isinstance(cdoc.get("name"), str),
              "a job class without a name")
        name = cdoc["name"]
        if cdoc.get("session", 0) not in (0, None):
            notes.append(f"{name}: a chroot session's class, not restored")
            continue
        jc = classes.get(name)
        if jc is None:
            if cdoc.get("jobs"):
                notes.append(f"{name}: no longer configured, its instances are not supervised")
            continue
        cj = class_to_json(jc)
        extra = cdoc.get(EXTRA) if isinstance(cdoc.get(EXTRA), dict) else {}
        centry: dict[str, Any] = {k: v for k, v in extra.items() if k != "class"}
        centry["class"] = cj
        centry["deleted"] = bool(cdoc.get("deleted")) or bool(extra.get("deleted"))
        centry["start_on"] = _latch_in(cdoc.get("start_on"), cj.get("start_on"), events, by_index)
        instances: dict[str, Any] = {}
        for jdoc in cdoc.get("jobs") or []:
            _need(isinstance(jdoc, dict) and isinstance(jdoc.get("name"), str),
                  f"{name}: a job without a name")
            inst = _job_in(name, jdoc, cj, events, by_index, wall_offset)
            for idx in _blocking_indices(jdoc):
                held[idx] = held.get(idx, 0) + 1
            instances[jdoc["name"]] = inst
        centry["instances"] = instances
        out_classes[name] = centry
    out_events = []
    for i, ev in enumerate(events):
        out_events.append({
            "id": by_index[i], "name": ev["name"], "env": [str(v) for v in ev.get("env") or []],
            "fd": None if ev.get("fd", -1) in (-1, None) else ev["fd"],
            "progress": progress_in.get(ev.get("progress"), "pending"),
            "failed": bool(ev.get("failed")), "blockers": held.get(i, 0),
            "blocking": [["job", [b["data"]["class"], b["data"].get("name", "")]]
                         for b in ev.get("blocking") or []
                         if isinstance(b, dict) and b.get("type") == "BLOCKED_JOB"
                         and isinstance(b.get("data"), dict)
                         and isinstance(b["data"].get("class"), str)],
        })
    snap = {k: v for k, v in ours.items() if k not in ("event_ids", "daemon")}
    snap.update({"job_env": list(env), "events": out_events, "classes": out_classes,
                 "next_event_id": max(ids, default=0) + 1})
    snap.setdefault("version", 1)
    return snap


def _blocking_indices(jdoc: dict) -> list[int]:
    return [b["data"]["index"] for b in jdoc.get("blocking") or []
            if isinstance(b, dict) and b.get("type") == "BLOCKED_EVENT"
            and isinstance(b.get("data"), dict) and isinstance(b["data"].get("index"), int)]


def _job_in(job: str, jdoc: dict, cj: dict, events: list, by_index: dict[int, int],
            wall_offset: float) -> dict:
    name = f"job {job} ({jdoc['name']})" if jdoc["name"] else f"job {job}"
    goal = _inv(GOALS).get(jdoc.get("goal"))
    state = STATES_IN.get(jdoc.get("state"))
    _need(goal is not None, f"{name}: unknown goal {jdoc.get('goal')!r}")
    _need(state is not None, f"{name}: unknown state {jdoc.get('state')!r}")
    pid = jdoc.get("pid") or []
    _need(isinstance(pid, list) and all(isinstance(p, int) for p in pid), f"{name}: bad pid list")
    extra = jdoc.get(EXTRA) if isinstance(jdoc.get(EXTRA), dict) else {}
    if extra.get("state") in STATES and STATES[extra["state"]] == jdoc["state"]:
        state = extra["state"]          # our own finer state, when it agrees
    fp = jdoc.get("failed_process")
    respawn_time = jdoc.get("respawn_time") or 0
    out = dict(extra)
    out.update({
        "goal": goal, "state": state, "env": [str(v) for v in jdoc.get("env") or []],
        "start_env": extra.get("start_env", jdoc.get("start_env") or None),
        "stop_env": extra.get("stop_env", jdoc.get("stop_env") or None),
        "pids": {SLOTS[i]: p for i, p in enumerate(pid[:len(SLOTS)]) if p > 0},
        "failed": bool(jdoc.get("failed")),
        "failed_process": SLOTS[PROCESS_NAMES.index(fp)] if fp in PROCESS_NAMES else None,
        "exit_status": int(jdoc.get("exit_status") or 0),
        "respawn_time": extra["respawn_time"] if "respawn_time" in extra else
        (respawn_time - wall_offset if respawn_time else None),
        "respawn_count": int(jdoc.get("respawn_count") or 0),
        "kill_timer": "kill_timer" in jdoc and jdoc["kill_timer"] is not None,
        "stop_on": _latch_in(jdoc.get("stop_on"), cj.get("stop_on"), events, by_index),
        "blocker": by_index.get(jdoc["blocker"]) if isinstance(jdoc.get("blocker"), int)
        else None,
        "blocking": [by_index[i] for i in _blocking_indices(jdoc) if i in by_index],
    })
    return out


def log_fds(doc: dict) -> dict[int, dict]:
    """The job logs 1.13 kept open across its exec: main pid -> {fd (the pty
    master), path, open_errno}; the shell checks each fd before adopting it."""
    out: dict[int, dict] = {}
    for cdoc in doc.get("job_classes") or []:
        for jdoc in (cdoc.get("jobs") or []) if isinstance(cdoc, dict) else []:
            logs = jdoc.get("log") or []
            pid = (jdoc.get("pid") or [0])[0]
            if not logs or not isinstance(logs[0], dict) or not isinstance(pid, int) or pid <= 0:
                continue
            fd = logs[0].get("io_watch_fd")
            if isinstance(fd, int) and fd >= 0 and logs[0].get("path"):
                out[pid] = {"fd": fd, "path": logs[0]["path"],
                            "open_errno": logs[0].get("open_errno", 0)}
    return out


def daemon_state(doc: dict) -> dict:
    """The shell's own state that our `GetState` put beside the engine's (empty
    for a document from 1.13 itself)."""
    ours = doc.get(EXTRA) if isinstance(doc.get(EXTRA), dict) else {}
    return ours.get("daemon") if isinstance(ours.get("daemon"), dict) else {}
