"""The registry of job classes and the configuration reload rules.

A `ClassEntry` pairs one parsed `JobClass` with its runtime state: the
class-wide latching `start on` tree and the instances by name. The
`Registry` maps each job name to the *registered* entry, and applies
upstream's reload rules (`job_class_consider`/`reconsider`):

* a new definition replaces the registered one only while the old one has
  no instances; otherwise it waits (`pending`) until the last instance is
  gone, so running jobs keep their class;
* a deleted definition is kept (marked `deleted`) while instances run and
  is dropped when the last one goes;
* an unchanged definition keeps its entry; a changed one inherits the latch
  state of its `start on` tree when the tree has the same shape.

The registry also indexes entries by the event names their conditions
mention, so an event is only offered to classes that could match it, and
keeps the names of the classes with a `while` condition, so a change of
states re-evaluates those without scanning every class.
It reports registrations as (added, removed) name lists; it never emits
effects or touches instances' state machines.
"""

from __future__ import annotations

from upstart.core.job import Instance
from upstart.core.operator import Operator
from upstart.jobfile.model import JobClass
from upstart.records import dataclass, field


@dataclass(eq=False, slots=True)   # footprint (issue #23): no per-object dict
class ClassEntry:
    job_class: JobClass
    start_on: Operator | None = None
    instances: dict[str, Instance] = field(default_factory=dict)
    deleted: bool = False
    pending: JobClass | None = None      # replacement waiting for instances to go
    counters: dict[str, int] = field(
        default_factory=lambda: {"starts": 0, "failures": 0, "respawns": 0, "died": 0})
    # `while`: instance names the condition held for at the last evaluation
    # (a new entry starts empty: its condition is evaluated on current states)
    while_names: set[str] = field(default_factory=set)
    # respawn backoff (issue #14): instance name -> respawns it gave up after,
    # kept until that instance is started again
    gave_up: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, job_class: JobClass) -> ClassEntry:
        start_on = Operator.from_expr(job_class.start_on) if job_class.start_on else None
        return cls(job_class, start_on)

    @property
    def name(self) -> str:
        return self.job_class.name

    def event_names(self) -> set[str]:
        names: set[str] = set()
        if self.start_on is not None:
            names |= self.start_on.names()
        if self.job_class.stop_on is not None:
            names |= Operator.from_expr(self.job_class.stop_on).names()
        if self.job_class.ready_on is not None:
            names |= Operator.from_expr(self.job_class.ready_on).names()
        return names

    def sorted_instances(self) -> list[Instance]:
        return [self.instances[k] for k in sorted(self.instances)]


class Registry:
    def __init__(self) -> None:
        self.entries: dict[str, ClassEntry] = {}
        self._index: dict[str, list[ClassEntry]] = {}
        self._while: list[str] = []              # names of `while` classes, sorted

    # ------------------------------------------------------------ queries

    def get(self, name: str) -> ClassEntry | None:
        return self.entries.get(name)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def for_event(self, event_name: str) -> list[ClassEntry]:
        return self._index.get(event_name, [])

    def while_jobs(self) -> list[str]:
        """Names of the registered classes with a `while` condition, sorted."""
        return list(self._while)

    def _reindex(self) -> None:
        index: dict[str, list[ClassEntry]] = {}
        whiles: list[str] = []
        for name in sorted(self.entries):
            entry = self.entries[name]
            for ev in entry.event_names():
                index.setdefault(ev, []).append(entry)
            if entry.job_class.while_ is not None:
                whiles.append(name)
        self._index = index
        self._while = whiles

    # ------------------------------------------------------------ changes

    def load(self, classes: dict[str, JobClass]) -> tuple[list[str], list[str]]:
        """Apply a new configuration; return (added, removed) job names in order
        of the signals to send (a replaced class is removed then added)."""
        added: list[str] = []
        removed: list[str] = []
        for name in sorted(set(self.entries) - set(classes)):
            entry = self.entries[name]
            entry.pending = None
            if entry.instances:
                entry.deleted = True
            else:
                del self.entries[name]
                removed.append(name)
        for name in sorted(classes):
            new = classes[name]
            old = self.entries.get(name)
            if old is None:
                self.entries[name] = ClassEntry.build(new)
                added.append(name)
                continue
            old.deleted = False
            if old.job_class == new:
                old.pending = None
                continue
            if old.instances:
                old.pending = new
                continue
            self.entries[name] = self._replacement(old, new)
            removed.append(name)
            added.append(name)
        self._reindex()
        return added, removed

    def _replacement(self, old: ClassEntry, new: JobClass) -> ClassEntry:
        entry = ClassEntry.build(new)
        if entry.start_on is not None and old.start_on is not None:
            entry.start_on.copy_latch_from(old.start_on)
        return entry

    def reconsider(self, entry: ClassEntry) -> tuple[list[str], list[str]]:
        """The entry lost its last instance: apply a pending delete/replace."""
        if entry.instances or self.entries.get(entry.name) is not entry:
            return [], []
        if entry.deleted:
            del self.entries[entry.name]
            self._reindex()
            return [], [entry.name]
        if entry.pending is not None:
            self.entries[entry.name] = self._replacement(entry, entry.pending)
            self._reindex()
            return [entry.name], [entry.name]
        return [], []
