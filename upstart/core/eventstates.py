"""States that events open and close: the `state` stanza (RM-01, 07 §1 Q1).

`EventStates` is a mixin of `Engine`. A job file may declare

    state NAME [KEY...] on CONDITION
    state NAME until CONDITION

(docs/design/states.md). This module keeps the declarations of the
registered classes (`_state_decls`, rebuilt on every load: the first class in
name order owns a name, a second declaration is ignored with a warning) and,
for each event handled, before any job sees it:

* closes every open declared state whose `until` tree (a latching operator
  per open state, `$VAR` expanded from the state's env, as `stop on` against
  an instance) the event completes;
* opens the state of every declaration whose `on` tree (latching, as
  `start on`) the event completes, with the matched events' env in tree
  order; the values of the declared KEYs name the state (one per identity).

Opening or closing never holds the event (decision a). States live in the
engine's `StateTable` with their owner, so `list-states` shows them and a
re-exec carries them; a declaration removed by a reload closes its states.
Never performs I/O.
"""

from __future__ import annotations


from upstart.core.effects import ControlFailure, upstart_error
from upstart.core.event import Event
from upstart.core.operator import Operator
from upstart.jobfile.environ import env_lookup, env_merge
from upstart.jobfile.model import StateDecl
from upstart.records import dataclass


@dataclass(eq=False)
class Declared:
    owner: str                   # the job file that declares it
    decl: StateDecl
    on: Operator | None


class EventStates:
    """Mixin: states opened and closed by events (see module doc)."""

    def _load_state_decls(self) -> None:
        """After a (re)load: the declarations of the registered classes."""
        old: dict[str, Declared] = self._state_decls
        new: dict[str, Declared] = {}
        for job in self.registry.names():
            for decl in self.registry.entries[job].job_class.states:
                have = new.get(decl.name)
                if have is not None:
                    self._log("warn", f"{job}: state {decl.name} is already declared "
                                      f"by {have.owner}, ignored")
                    continue
                prev = old.get(decl.name)
                if prev is not None and prev.owner == job and prev.decl == decl:
                    new[decl.name] = prev           # unchanged: keeps its latch
                    continue
                on = Operator.from_expr(decl.on) if decl.on is not None else None
                new[decl.name] = Declared(job, decl, on)
        self._state_decls = new
        for owner in sorted({d.owner for d in old.values()} | {d.owner for d in new.values()}):
            for name, ident in self.states.owned(owner):
                kept = new.get(name)
                if kept is None or kept.owner != owner or \
                        (name in old and kept.decl != old[name].decl):
                    self._close_declared(name, ident, "its declaration changed")

    def _declared_refusal(self, name: str) -> None:
        found = self._state_decls.get(name)
        if found is not None:
            raise ControlFailure(upstart_error(
                "PermissionDenied", f"State is kept by job {found.owner}: {name}"))

    def _handle_state_events(self, event: Event) -> None:
        for (name, ident), oper in sorted(self._state_until.items()):
            env = self.states.env(name, ident)
            if env is None:
                del self._state_until[(name, ident)]
                continue
            if oper.handle(event, list(env)) and oper.value:
                self._close_declared(name, ident, f"event {event.name}")
        for name in sorted(self._state_decls):
            declared = self._state_decls[name]
            oper = declared.on
            if oper is None or not oper.handle(event, None) or not oper.value:
                continue
            env: list[str] = []
            for ev in oper.matched():
                env_merge(env, ev.env)
            oper.reset()
            ident = tuple(f"{key}={env_lookup(env, key) or ''}" for key in declared.decl.keys)
            self._open_declared(declared, ident, env, event)

    def _open_declared(self, declared: Declared, ident: tuple[str, ...], env: list[str],
                       event: Event) -> None:
        name = declared.decl.name
        if self.states.open(name, ident, env, declared.owner):
            self._log("info", f"State {' '.join((name,) + ident)} opened by event {event.name}")
            self._trace("moved", name, data=("opened",) + tuple(env))
            self._states_dirty = True
        if declared.decl.until is not None:
            self._state_until[(name, ident)] = Operator.from_expr(declared.decl.until)

    def _close_declared(self, name: str, ident: tuple[str, ...], why: str) -> None:
        self._state_until.pop((name, ident), None)
        env = self.states.env(name, ident)
        if self.states.close(name, ident):
            self._log("info", f"State {' '.join((name,) + ident)} closed by {why}")
            self._trace("moved", name, data=("closed",) + tuple(env or ()))
            self._states_dirty = True


__all__ = ["EventStates", "Declared"]
