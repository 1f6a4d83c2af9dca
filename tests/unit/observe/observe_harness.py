"""A real engine (fake clock and spawner) feeding a Recorder, for the observe tests."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "core"))

from core_harness import Harness, job  # noqa: E402

from upstart.jobfile.model import expr_to_rpn  # noqa: E402
from upstart.observe.recorder import Recorder  # noqa: E402

__all__ = ["Observed", "job"]


class _Ticker:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


class Observed(Harness):
    """Harness whose every effect list also goes through a Recorder."""

    def __init__(self, *classes, **kw):
        self.ticker = _Ticker()
        self.rec = Recorder(monotonic=self.ticker, wall=lambda: 1.7e9 + self.ticker.now)
        super().__init__(*classes, **kw)
        inner = self.spawner
        rec = self.rec

        class Spawner:
            def spawn(self, request):
                pid = inner.spawn(request)
                rec.spawned(request.job, request.instance, request.slot, pid)
                return pid
        self.engine.spawner = Spawner()

    def feed(self, effects):
        self.rec.effects(effects)
        return super().feed(effects)

    def emit_by(self, name, *env, uid=1000, pid=4242, cmd=None):
        self.rec.expect_emit(name, {"type": "emit", "uid": uid, "pid": pid,
                                    "cmd": cmd or f"initctl emit {name}"})
        return self.emit(name, *env, wait=False)

    def exited(self, pid, code=0, signal=None):
        class Exited:
            pass
        note = Exited()
        note.pid, note.code, note.signal = pid, code, signal
        self.rec.note(note)
        return self.exit(pid, code, signal)

    def conditions(self):
        out = {}
        for name in self.engine.job_names():
            cls = self.engine.get_class(name)
            out[name] = (expr_to_rpn(cls.start_on), expr_to_rpn(cls.stop_on))
        return out

    def kinds(self, kind):
        return [r for r in self.rec.records if r["kind"] == kind]
