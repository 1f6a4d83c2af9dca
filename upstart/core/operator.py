"""The latching operator tree of a `start on` / `stop on` condition.

Built from the parser's immutable `Expr` (Match leaves, and/or nodes), an
`Operator` tree adds runtime state: every leaf has a `value` and, once true,
the `event` it matched. `handle(event)` latches every false leaf the event
matches and recomputes and/or values bottom-up; the owner checks
`root.value` to see whether the condition fired, then collects the events
and their environment from the true subtrees (in tree order) and `reset()`s.

Decision 07 §6 (a): a leaf *remembers* its event but does not hold it (no
blocker is taken here); the engine attaches the matched events to the job
only when the whole condition fires.

A leaf matches an event by `upstart.jobfile.match.match_args` (02 §3),
the rule `while` leaves and the time bridge share.

Never performs I/O and never touches jobs or the event queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upstart.jobfile.match import match_args
from upstart.jobfile.model import Expr, Match, Op

if TYPE_CHECKING:
    from upstart.core.event import Event


class Operator:
    """One node of the runtime tree: kind is `match`, `and` or `or`."""

    __slots__ = ("kind", "name", "args", "left", "right", "value", "event")

    def __init__(self, kind: str, name: str = "", args: tuple[str, ...] = (),
                 left: Operator | None = None, right: Operator | None = None):
        self.kind = kind
        self.name = name
        self.args = args
        self.left = left
        self.right = right
        self.value = False
        self.event: Event | None = None

    # ---------------------------------------------------------- building

    @classmethod
    def from_expr(cls, expr: Expr) -> Operator:
        if isinstance(expr, Match):
            return cls("match", expr.name, tuple(expr.args))
        assert isinstance(expr, Op)
        return cls(expr.kind, left=cls.from_expr(expr.left), right=cls.from_expr(expr.right))

    def leaves(self) -> list[Operator]:
        if self.kind == "match":
            return [self]
        assert self.left is not None and self.right is not None
        return self.left.leaves() + self.right.leaves()

    def names(self) -> set[str]:
        return {leaf.name for leaf in self.leaves()}

    def same_shape(self, other: Operator) -> bool:
        if self.kind != other.kind:
            return False
        if self.kind == "match":
            return self.name == other.name and self.args == other.args
        assert self.left and self.right and other.left and other.right
        return self.left.same_shape(other.left) and self.right.same_shape(other.right)

    def copy_latch_from(self, other: Operator) -> None:
        """Carry latched values over from an identical old tree (config reload)."""
        if not self.same_shape(other):
            return
        for new, old in zip(self.leaves(), other.leaves()):
            new.value, new.event = old.value, old.event
        self._update_all()

    # ---------------------------------------------------------- runtime

    def _update_all(self) -> None:
        if self.kind == "match":
            return
        assert self.left and self.right
        self.left._update_all()
        self.right._update_all()
        self._update()

    def _update(self) -> None:
        assert self.left and self.right
        if self.kind == "and":
            self.value = self.left.value and self.right.value
        else:
            self.value = self.left.value or self.right.value

    def handle(self, event: Event, env: Any = None) -> bool:
        """Latch every false leaf the event matches; True if any did."""
        if self.kind == "match":
            if not self.value and match_args(self.name, self.args, event.name, event.env, env):
                self.value = True
                self.event = event
                return True
            return False
        assert self.left and self.right
        hit = self.left.handle(event, env)
        hit = self.right.handle(event, env) or hit
        self._update()
        return hit

    def latch_names(self, names: set[str] | frozenset[str], event: Event) -> bool:
        """Latch every false leaf *named* in `names`, whatever its arguments
        (readiness: a `notify`/`notify-fd` leaf is satisfied by its process,
        not by an event); True if any did."""
        if self.kind == "match":
            if not self.value and self.name in names:
                self.value = True
                self.event = event
                return True
            return False
        assert self.left and self.right
        hit = self.left.latch_names(names, event)
        hit = self.right.latch_names(names, event) or hit
        self._update()
        return hit

    def matched(self) -> list[Event]:
        """Events of the true leaves under true nodes, in tree order."""
        if not self.value:
            return []
        if self.kind == "match":
            return [self.event] if self.event is not None else []
        assert self.left and self.right
        return self.left.matched() + self.right.matched()

    def reset(self) -> None:
        self.value = False
        self.event = None
        if self.kind != "match":
            assert self.left and self.right
            self.left.reset()
            self.right.reset()

    # ---------------------------------------------------------- snapshot

    def latch_state(self) -> list[dict[str, Any] | None]:
        return [
            {"name": leaf.event.name, "env": list(leaf.event.env)} if leaf.value and leaf.event else None
            for leaf in self.leaves()
        ]
