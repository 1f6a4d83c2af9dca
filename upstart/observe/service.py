"""The daemon side of observability: feeding the recorder, answering queries.

`Observer` is created by the daemon once its engine exists. It owns the
`Recorder`, the JSON-lines file (`<logdir>/upstart-events.jsonl`, flushed
once per loop turn) and a spawner wrapper that tells the recorder each pid.
`ObservedBackend` is the daemon's control backend with the caller of each
`EmitEvent` and job command handed to the recorder first, plus the
`observe()` query behind the `Observe` D-Bus method (`log`, `why`, `failed`,
`status`), whose answer is JSON text.

The observer must never change what init does: every hook is wrapped so a
failure here is logged once and otherwise ignored.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from typing import TYPE_CHECKING, Any

from upstart.control.backend import Caller
from upstart.core.effects import ControlFailure, upstart_error
from upstart.daemon.backend import EngineBackend
from upstart.observe.history import MAX_BYTES as HISTORY_BYTES
from upstart.observe.history import History
from upstart.observe.jsonlog import FILE_NAME, JsonLog, read_lines
from upstart.observe.recorder import Recorder

if TYPE_CHECKING:
    from upstart.daemon.daemon import Daemon

LOG_TAIL_LINES = 10
LOG_PAGE = 5000          # records per `log` answer (a D-Bus message stays small)


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


# id(Caller) -> (weak reference to it, its command line)
_CMD_CACHE: dict[int, tuple[Any, str]] = {}
_CMD_CACHE_MAX = 1024


def _caller_cmd(caller: Caller) -> str:
    """The caller's command line, read once per `Caller` object. perf: the
    server makes one Caller per connection (per sender on a bus), so a client
    sending many requests is looked up in /proc once, not once per request."""
    key = id(caller)
    hit = _CMD_CACHE.get(key)
    if hit is not None and hit[0]() is caller:
        return hit[1]
    cmd = _cmdline(caller.pid)
    try:
        ref = weakref.ref(caller)
    except TypeError:
        return cmd
    if len(_CMD_CACHE) >= _CMD_CACHE_MAX:
        _CMD_CACHE.clear()
    _CMD_CACHE[key] = (ref, cmd)
    return cmd


def _caller_info(caller: Caller) -> dict[str, Any]:
    return {"uid": caller.uid, "pid": caller.pid, "cmd": _caller_cmd(caller)}


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] in (["T"], ["t"])


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
    def __init__(self, daemon: "Daemon"):
        self.d = daemon
        logdir = daemon.log_dir()
        self.logdir = logdir
        self.file = JsonLog(os.path.join(logdir, FILE_NAME), monotonic=time.monotonic) \
            if logdir else None
        # the records: the newest in memory, bounded in bytes, encoded once for
        # both memory and the file; the older ones read back from the file
        # (history.py, issue #23)
        history = History(getattr(daemon.opts, "history_bytes", None) or HISTORY_BYTES,
                          spill=self.file.add_lines if self.file is not None else None,
                          read_older=self._read_older if self.file is not None else None)
        self.recorder = Recorder(monotonic=time.monotonic, wall=time.time,
                                 sink=self._sink if self.file is not None else None,
                                 history=history)
        self._flush_scheduled = False
        self._complained = False

    # ------------------------------------------------------------ hooks

    def attach(self) -> None:
        """Wrap the engine's spawner (call again after the engine is rebuilt)."""
        engine = self.d.engine
        if engine is not None and not isinstance(engine.spawner, RecordingSpawner):
            engine.spawner = RecordingSpawner(engine.spawner, self)

    def guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the record is best effort; init goes on
            if not self._complained:
                self._complained = True
                self.d.logger.log("warn", f"event recorder failed: {exc!r}")

    def effects(self, effects) -> None:
        self.guard(self.recorder.effects, effects)

    def note(self, note) -> None:
        self.guard(self.recorder.note, note)

    def _sink(self, _record: dict) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.d.loop.call_soon(self._flush)

    def _read_older(self):
        """The log file's lines, oldest first, once what is waiting is written
        (History seals its records before it reads)."""
        self.file.flush()
        return read_lines(self.file.path)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.recorder.records.seal()
        if self.file is not None and not self.file.flush():
            self._flush_scheduled = True
            self.d.loop.call_later(1.0, self._flush)

    # ------------------------------------------------------------ queries

    def query(self, what: str, args: list[str]) -> Any:
        if what == "log":        # a page: the first LOG_PAGE records after SINCE
            since = int(args[0]) if args and args[0].isdigit() else 0
            return self.recorder.records.since(since, LOG_PAGE)
        if what == "why":
            return self._why(args)
        if what == "failed":
            return self._failures(None)
        if what == "status":
            if not args:
                raise ControlFailure(upstart_error("UnknownJob", "Unknown job: "))
            answer = {"failures": self._failures(args[0]), "paused": self._paused(args[0])}
            cgroups = getattr(self.d, "cgroups", None)   # cgroups hook (issue #9)
            if cgroups is not None:
                answer["cgroups"] = cgroups.status(args[0])
            return answer
        raise ControlFailure(upstart_error("UnknownQuery", f"Unknown query: {what}"))

    def _conditions(self) -> dict:
        from upstart.jobfile.model import expr_to_rpn
        engine = self.d.engine
        out = {}
        for name in engine.job_names():
            cls = engine.get_class(name)
            out[name] = (expr_to_rpn(cls.start_on), expr_to_rpn(cls.stop_on))
        return out

    def _why(self, args: list[str]) -> dict:
        from upstart.observe.why import explain, render
        if not args:
            raise ControlFailure(upstart_error("UnknownJob", "Unknown job: "))
        engine = self.d.engine
        job = args[0]
        if engine.get_class(job) is None:
            raise ControlFailure(upstart_error("UnknownJob", f"Unknown job: {job}"))
        try:
            inst = engine.get_instance(job, list(args[1:]))
        except ControlFailure:
            inst = None
        if inst is None:
            failure = self.recorder.all_failures().get((job, ""))
            text = f"{job}: not running"
            if failure:
                text += f" (it failed: {failure['reason']})"
            tree = {"text": text, "children": []}
        else:
            goal, _state, _procs = engine.instance_info(job, inst)
            env = list(engine.env_list([job, inst]))
            tree = explain(self.recorder, job, inst, goal, env, self._conditions())
        return {"tree": tree, "text": render(tree)}

    def _failures(self, job: str | None) -> list[dict]:
        from upstart.process.joblog import log_path
        out = []
        for (name, inst), failure in sorted(self.recorder.all_failures().items()):
            if job is not None and name != job:
                continue
            item = dict(failure)
            item["log"] = log_tail(log_path(self.logdir, name, inst)) if self.logdir else []
            out.append(item)
        return out

    def _paused(self, job: str) -> list[dict]:
        out = []
        for pid, rec in sorted(self.recorder.pauses.items()):
            if rec["job"] == job and _stopped(pid):
                out.append({"pid": pid, "slot": rec.get("slot", ""),
                            "instance": rec.get("instance", "")})
        return out


class ObservedBackend(EngineBackend):
    """The daemon's backend, telling the recorder who asked for what."""

    def _observer(self) -> Observer | None:
        return getattr(self.d, "observer", None)

    def _by(self, caller: Caller, **extra) -> dict:
        info = _caller_info(caller)
        info.update(extra)
        return info

    async def emit_event(self, caller, name, env, wait, fd=None):
        obs = self._observer()
        if obs is not None:
            obs.guard(obs.recorder.expect_emit, name, self._by(caller, type="emit"))
        return await super().emit_event(caller, name, env, wait, fd)

    def _command(self, caller: Caller, verb: str) -> None:
        obs = self._observer()
        if obs is not None:
            obs.guard(obs.recorder.command, self._by(caller, type="command", command=verb))

    async def job_start(self, caller, job, env, wait):
        self._command(caller, "start")
        return await super().job_start(caller, job, env, wait)

    async def job_stop(self, caller, job, env, wait):
        self._command(caller, "stop")
        return await super().job_stop(caller, job, env, wait)

    async def job_restart(self, caller, job, env, wait):
        self._command(caller, "restart")
        return await super().job_restart(caller, job, env, wait)

    async def instance_start(self, caller, job, instance, wait):
        self._command(caller, "start")
        return await super().instance_start(caller, job, instance, wait)

    async def instance_stop(self, caller, job, instance, wait):
        self._command(caller, "stop")
        return await super().instance_stop(caller, job, instance, wait)

    async def instance_restart(self, caller, job, instance, wait):
        self._command(caller, "restart")
        return await super().instance_restart(caller, job, instance, wait)

    def observe(self, caller: Caller, what: str, args: list[str]) -> str:
        """The `Observe` D-Bus method: a JSON answer (see `Observer.query`)."""
        self._check(caller, "Observe")
        obs = self._observer()
        if obs is None:
            raise ControlFailure(upstart_error("NotAvailable", "No event record"))
        return json.dumps(obs.query(what, list(args)), separators=(",", ":"))
