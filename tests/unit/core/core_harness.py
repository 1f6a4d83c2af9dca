"""Test doubles and helpers for driving the pure core engine.

`FakeClock` is set by hand; `FakeSpawner` hands out increasing pids (or
raises SpawnError for commands listed in `fail`) and records requests;
`Harness` wraps an Engine, parses job texts with a tiny stanza reader built
on the real model, and offers short helpers to look at effects.
"""

from __future__ import annotations

from typing import Any

from upstart.core import effects as fx
from upstart.core.effects import SpawnError, SpawnRequest
from upstart.core.engine import Engine
from upstart.jobfile.model import JobClass, Match, Op, Process


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def monotonic(self) -> float:
        return self.now


class FakeSpawner:
    def __init__(self) -> None:
        self.next_pid = 100
        self.requests: list[SpawnRequest] = []
        self.fail: dict[str, str] = {}      # command -> reason

    def spawn(self, request: SpawnRequest) -> int:
        self.requests.append(request)
        reason = self.fail.get(request.process.command)
        if reason is not None:
            raise SpawnError(reason)
        self.next_pid += 1
        return self.next_pid


def cond(text: str):
    """A tiny condition reader for tests: left-assoc and/or, parentheses."""
    tokens = text.replace("(", " ( ").replace(")", " ) ").split()
    pos = 0

    def term():
        nonlocal pos
        if tokens[pos] == "(":
            pos += 1
            e = expr()
            assert tokens[pos] == ")"
            pos += 1
            return e
        name = tokens[pos]
        pos += 1
        args = []
        while pos < len(tokens) and tokens[pos] not in ("and", "or", "(", ")"):
            args.append(tokens[pos])
            pos += 1
        return Match(name, tuple(args))

    def expr():
        nonlocal pos
        left = term()
        while pos < len(tokens) and tokens[pos] in ("and", "or"):
            kind = tokens[pos]
            pos += 1
            left = Op(kind, left, term())
        return left

    return expr()


def job(name: str, main: str | None = "sleep", **kw: Any) -> JobClass:
    """A JobClass: main/pre_start/... as command strings, start_on/stop_on as text."""
    procs = {}
    if main is not None:
        procs["main"] = Process(False, main)
    for slot in ("pre_start", "post_start", "pre_stop", "post_stop"):
        cmd = kw.pop(slot, None)
        if cmd is not None:
            procs[slot.replace("_", "-")] = Process(False, cmd)
    for key in ("start_on", "stop_on"):
        if isinstance(kw.get(key), str):
            kw[key] = cond(kw[key])
    return JobClass(name=name, process=procs, **kw)


class Harness:
    def __init__(self, *classes: JobClass, session_address: str | None = None,
                 job_env: list[str] | None = None, init_env: dict[str, str] | None = None):
        self.clock = FakeClock()
        self.spawner = FakeSpawner()
        self.engine = Engine(self.clock, self.spawner, session_init=True,
                             job_env=job_env if job_env is not None else ["PATH=/bin"],
                             init_env=init_env or {}, session_address=session_address,
                             confirm_delay=0)
        self.log: list[Any] = []
        self.tokens = 0
        if classes:
            self.feed(self.engine.load({c.name: c for c in classes}))

    def feed(self, effects: list[Any]) -> list[Any]:
        self.log.extend(effects)
        return effects

    def token(self) -> int:
        self.tokens += 1
        return self.tokens

    # ---- inputs
    def start(self, name: str, env: list[str] | None = None, wait: bool = True) -> list[Any]:
        return self.feed(self.engine.job_start(name, env or [], wait=wait, token=self.token()))

    def stop(self, name: str, env: list[str] | None = None, wait: bool = True) -> list[Any]:
        return self.feed(self.engine.job_stop(name, env or [], wait=wait, token=self.token()))

    def restart(self, name: str, env: list[str] | None = None, wait: bool = True) -> list[Any]:
        return self.feed(self.engine.job_restart(name, env or [], wait=wait, token=self.token()))

    def emit(self, name: str, *env: str, wait: bool = True) -> list[Any]:
        return self.feed(self.engine.emit(name, list(env), wait=wait, token=self.token()))

    def exit(self, pid: int, code: int | None = 0, signal: int | None = None) -> list[Any]:
        return self.feed(self.engine.process_exited(pid, None if signal else code, signal))

    def kill_ack(self, job_name: str, inst: str = "") -> list[Any]:
        """The main process of job dies of the kill signal it was sent."""
        pid = self.pid(job_name, inst)
        return self.exit(pid, None, 15)

    # ---- queries
    def pid(self, job_name: str, inst: str = "", slot: str = "main") -> int:
        _g, _s, procs = self.engine.instance_info(job_name, inst)
        return dict(procs)[slot]

    def status(self, job_name: str, inst: str = "") -> str:
        if inst not in self.engine.instances(job_name):
            return "stop/waiting"
        goal, state, _ = self.engine.instance_info(job_name, inst)
        return f"{goal}/{state}"

    def events(self, effects: list[Any] | None = None) -> list[list[str]]:
        src = self.log if effects is None else effects
        return [[e.name, *e.env] for e in src if isinstance(e, fx.EventEmitted)]

    def replies(self, effects: list[Any] | None = None) -> list[fx.Reply]:
        src = self.log if effects is None else effects
        return [e for e in src if isinstance(e, fx.Reply)]

    def logs(self, priority: str | None = None) -> list[str]:
        return [e.message for e in self.log
                if isinstance(e, fx.Log) and (priority is None or e.priority == priority)]
