"""The daemon side of observability: feeding the recorder, answering queries.

`Observer` is made by the daemon once its engine exists, with what it needs
as parameters (the log directory, the loop that batches writes, init's log
and the cgroup status of a job); it never imports the daemon. It owns the
`Recorder`, the JSON-lines file (`jsonlog.default_path`, never in the job log
directory; flushed
once per loop turn) and a spawner wrapper that tells the recorder each pid.
The daemon's control backend tells it who asked for what (`requested`,
`commanded`) and passes the `Observe` D-Bus method's queries (`log`, `why`,
`failed`, `status`) to `answer`, whose result is JSON text.

The observer must never change what init does: every hook is wrapped so a
failure here is logged once and otherwise ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import json
import os
import time
import weakref
from collections.abc import Callable
from typing import Any

from upstart.control.backend import Caller
from upstart.core.effects import ControlFailure, upstart_error
from upstart.observe.history import MAX_BYTES as HISTORY_BYTES
from upstart.observe.history import History
from upstart.observe.jsonlog import JsonLog, read_lines
from upstart.observe.recorder import Recorder
from upstart.process import procstat

LOG_TAIL_LINES = 10
LOG_PAGE = 5000          # records per `log` answer (a D-Bus message stays small)

if TYPE_CHECKING:
    from upstart.reactor.loop import Reactor


def _cmdline(pid: int) -> str:
    if pid <= 0:
        return ""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return ""
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    if parts:
        parts[0] = os.path.basename(parts[0])
    # `python -m x` / a script run by the interpreter: show the script
    if len(parts) > 1 and parts[0].startswith("python"):
        parts = [os.path.basename(parts[1])] + parts[2:]
    return " ".join(parts)


# id(Caller) -> (weak reference to it, its command line, its `emit` by-dict)
_CMD_CACHE: dict[int, tuple[Any, str, dict]] = {}
_CMD_CACHE_MAX = 1024


def _caller_entry(caller: Caller) -> tuple[Any, str, dict] | None:
    """The caller's command line, read once per `Caller` object. perf: the
    server makes one Caller per connection (per sender on a bus), so a client
    sending many requests is looked up in /proc once, not once per request."""
    key = id(caller)
    hit = _CMD_CACHE.get(key)
    if hit is not None and hit[0]() is caller:
        return hit
    cmd = _cmdline(caller.pid)
    try:
        ref = weakref.ref(caller)
    except TypeError:
        return None
    if len(_CMD_CACHE) >= _CMD_CACHE_MAX:
        _CMD_CACHE.clear()
    hit = _CMD_CACHE[key] = (ref, cmd, {"uid": caller.uid, "pid": caller.pid, "cmd": cmd,
                                         "type": "emit"})
    return hit


def _caller_cmd(caller: Caller) -> str:
    hit = _caller_entry(caller)
    return hit[1] if hit is not None else _cmdline(caller.pid)


def _by(caller: Caller, **extra) -> dict[str, Any]:
    """Who asked: uid, pid and command line of the caller, and `extra`."""
    return {"uid": caller.uid, "pid": caller.pid, "cmd": _caller_cmd(caller), **extra}


def _emit_by(caller: Caller) -> dict[str, Any]:
    """`_by(caller, type="emit")`, one dict per caller (perf, issue #23 item
    5: a pipelined EmitEvent builds none; the records never change a `by`
    of an emit, only the one of a failure, which the recorder makes)."""
    hit = _caller_entry(caller)
    if hit is None or hit[2]["uid"] != caller.uid or hit[2]["pid"] != caller.pid:
        return _by(caller, type="emit")
    return hit[2]


def log_tail(path: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 8192))
            data = f.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-lines:]


class RecordingSpawner:
    """The engine's spawner, telling the recorder about each process."""

    def __init__(self, inner, observer: "Observer"):
        self.inner = inner
        self.observer = observer

    def spawn(self, request) -> int:
        from upstart.core.effects import SpawnError
        try:
            pid = self.inner.spawn(request)
        except SpawnError as err:
            self.observer.guard(self.observer.recorder.spawn_failed, request.job,
                                request.instance, request.slot, err.reason)
            raise
        self.observer.guard(self.observer.recorder.spawned, request.job, request.instance,
                            request.slot, pid)
        return pid

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Observer:
    def __init__(self, *, logdir: str | None, events_path: str | None,
                 loop: Reactor, log: Callable[[str, str], None],
                 cgroups_status: Callable[[str], list[dict]] | None = None,
                 history_bytes: int | None = None, events_dir_mode: int = 0o700):
        """`logdir`: the job logs (`failed` shows their tails); `events_path`: the
        event log file, never in `logdir`, which holds job logs only as in 1.13
        (`jsonlog.default_path`); None: no file."""
        self.logdir = logdir
        self.loop = loop
        self.log = log
        self.cgroups_status = cgroups_status
        # the control server's counters (`ControlServer.statistics`), set by
        # the daemon once it listens; None until then
        self.control_status: Callable[[], dict] | None = None
        self.path = events_path
        if events_path is not None:
            try:
                os.makedirs(os.path.dirname(events_path), mode=events_dir_mode, exist_ok=True)
            except OSError:
                pass                    # JsonLog waits until it can write
        self.file = JsonLog(events_path, monotonic=time.monotonic) if events_path else None
        # the records: the newest in memory, bounded in bytes, encoded once for
        # both memory and the file; the older ones read back from the file
        # (history.py, issue #23)
        history = History(history_bytes or HISTORY_BYTES,
                          spill=self.file.add_lines if self.file is not None else None,
                          read_older=self._read_older if self.file is not None else None)
        self.recorder = Recorder(monotonic=time.monotonic, wall=time.time,
                                 made=self._made if self.file is not None else None,
                                 history=history)
        self._flush_scheduled = False
        self._complained = False

    # ------------------------------------------------------------ hooks

    def attach(self, engine) -> None:
        """Wrap the engine's spawner (call again after the engine is rebuilt)."""
        if engine is not None and not isinstance(engine.spawner, RecordingSpawner):
            engine.spawner = RecordingSpawner(engine.spawner, self)

    def guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the record is best effort; init goes on
            if not self._complained:
                self._complained = True
                self.log("warn", f"event recorder failed: {exc!r}")

    def effects(self, effects) -> None:
        self.guard(self.recorder.effects, effects)

    def note(self, note) -> None:
        self.guard(self.recorder.note, note)

    def requested(self, caller: Caller, name: str) -> None:
        """`caller` is about to emit event `name`."""
        self.guard(self.recorder.expect_emit, name, _emit_by(caller))

    def commanded(self, caller: Caller, verb: str) -> None:
        """`caller` asked for a job command (`start`, `stop`, `restart`)."""
        self.guard(self.recorder.command, _by(caller, type="command", command=verb))

    def _made(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _read_older(self):
        """The log file's lines, oldest first, once what is waiting is written
        (History seals its records before it reads)."""
        self.file.flush()
        return read_lines(self.file.path)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.recorder.records.seal()
        if self.file is not None:
            # a failure waits (bounded) for the next records, for the log
            # directory to appear or for notify-disk-writeable (`retry`): no
            # timer, so that an idle init sleeps (issue #23)
            self.file.flush()

    def retry(self) -> None:
        """The disk may be writable now: write what waits."""
        if self.file is not None:
            self.file.retry_now()
            self._flush()

    # ------------------------------------------------------------ queries

    def answer(self, engine, what: str, args: list[str]) -> str:
        """The `Observe` D-Bus method: a JSON answer about `engine`'s jobs."""
        return json.dumps(self.query(engine, what, list(args)), separators=(",", ":"))

    def query(self, engine, what: str, args: list[str]) -> Any:
        if what == "log":        # a page: the first LOG_PAGE records after SINCE
            since = int(args[0]) if args and args[0].isdigit() else 0
            return self.recorder.records.since(since, LOG_PAGE)
        if what == "why":
            return self._why(engine, args)
        if what == "failed":
            return self._failures(None)
        if what == "stats":      # the engine's and the control server's counters
            return {"engine": engine.statistics(),
                    "control": self.control_status() if self.control_status else None}
        if what == "status":
            if not args:
                raise ControlFailure(upstart_error("UnknownJob", "Unknown job: "))
            answer = {"failures": self._failures(args[0]), "paused": self._paused(args[0]),
                      "deaths": self._deaths(args[0])}
            if self.cgroups_status is not None:       # cgroups (issue #9)
                answer["cgroups"] = self.cgroups_status(args[0])
            return answer
        raise ControlFailure(upstart_error("UnknownQuery", f"Unknown query: {what}"))

    @staticmethod
    def _conditions(engine) -> dict:
        from upstart.jobfile.model import expr_to_rpn
        out = {}
        for name in engine.job_names():
            cls = engine.get_class(name)
            out[name] = (expr_to_rpn(cls.start_on), expr_to_rpn(cls.stop_on))
        return out

    def _why(self, engine, args: list[str]) -> dict:
        from upstart.observe.why import explain, render, while_story
        from upstart.states.model import State
        if not args:
            raise ControlFailure(upstart_error("UnknownJob", "Unknown job: "))
        job = args[0]
        if engine.get_class(job) is None:
            raise ControlFailure(upstart_error("UnknownJob", f"Unknown job: {job}"))
        try:
            inst = engine.get_instance(job, list(args[1:]))
        except ControlFailure:
            inst = None
        condition = engine.get_class(job).while_
        while_now = None if condition is None else \
            (condition, [State(n, tuple(e)) for n, e in engine.list_states()])
        if inst is None:
            failure = self.recorder.all_failures().get((job, ""))
            text = f"{job}: not running"
            tree = {"text": text, "children": []}
            if failure:
                tree["text"] += f" (it failed: {failure['reason']})"
                tail = self._tail(job, "")
                if tail:      # RM-12: what the job said last (read now, never kept)
                    tree["children"].append({"text": "last lines of its log:", "children": [
                        {"text": line, "children": []} for line in tail]})
            if while_now is not None:
                tree["children"] = while_story(self.recorder, None, job, "", None, *while_now)
        else:
            goal, _state, _procs = engine.instance_info(job, inst)
            env = list(engine.env_list([job, inst]))
            tree = explain(self.recorder, job, inst, goal, env, self._conditions(engine),
                           while_now)
            death = self.recorder.deaths.get((job, inst))
            if death is not None:           # RM-12: a flapping job says so
                tree["children"].append(self._death_node(death, self._tail(job, inst)))
        return {"tree": tree, "text": render(tree)}

    def _failures(self, job: str | None) -> list[dict]:
        out = []
        for (name, inst), failure in sorted(self.recorder.all_failures().items()):
            if job is not None and name != job:
                continue
            item = dict(failure)
            item["log"] = self._tail(name, inst)
            out.append(item)
        return out

    @staticmethod
    def _death_node(death: dict, tail: list[str]) -> dict:
        from upstart.observe.why import death_text
        node = {"text": death_text(death), "children": []}
        if tail:
            node["children"].append({"text": "last lines of its log:", "children": [
                {"text": line, "children": []} for line in tail]})
        return node

    def _tail(self, job: str, inst: str) -> list[str]:
        """The last lines of an instance's job log, read at the query (RM-12)."""
        from upstart.process.joblog import log_path
        return log_tail(log_path(self.logdir, job, inst)) if self.logdir else []

    def _deaths(self, job: str) -> list[dict]:
        """RM-12: each instance's last abnormal main exit (`died`), with its
        log tail unless a failure of the same instance already shows it."""
        failed = {k for k in self.recorder.all_failures() if k[0] == job}
        out = []
        for (name, inst), death in sorted(self.recorder.deaths.items()):
            if name == job:
                item = dict(death)
                item["log"] = [] if (name, inst) in failed else self._tail(name, inst)
                out.append(item)
        return out

    def _paused(self, job: str) -> list[dict]:
        out = []
        for pid, rec in sorted(self.recorder.pauses.items()):
            if rec["job"] == job and procstat.stopped(pid):
                out.append({"pid": pid, "slot": rec.get("slot", ""),
                            "instance": rec.get("instance", "")})
        return out
