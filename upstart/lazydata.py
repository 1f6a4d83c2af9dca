"""`dataclass`, made when the class is first used rather than when it is defined.

Footprint (issue #23, docs/design/footprint.md): `dataclasses.dataclass`
writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` (and, when
frozen, `__setattr__`/`__delattr__`) as source text and compiles it with
`exec`: about half a millisecond a class. Init defines some fifty of them
on its start path (the effects, the job-file model, the control API) and
uses few of them before it answers its first client. This decorator takes
the same arguments and gives the same class, but defers that work to the
class's first instantiation (or to `made(cls)`), so a class never used costs
nothing and the start does not pay for the rest.

What it cannot defer is made at once, as `dataclasses.dataclass` would:
`slots=True` (it makes a new class), and a class that defines its own
`__init__`. `dataclasses.fields(cls)` on a class never instantiated needs
`made(cls)` first. Pure: imports only `dataclasses`.
"""

from __future__ import annotations

import dataclasses

_PENDING = "__lazy_dataclass__"


def dataclass(cls=None, /, **kw):
    """`dataclasses.dataclass(cls, **kw)`, made at the class's first use."""
    def wrap(cls):
        if kw.get("slots") or "__init__" in cls.__dict__:
            made(cls)                          # its lazy bases first
            return dataclasses.dataclass(cls, **kw)
        setattr(cls, _PENDING, kw)

        def __init__(self, *args, **kwargs):
            made(cls)
            cls.__init__(self, *args, **kwargs)

        __init__.__qualname__ = cls.__qualname__ + ".__init__"
        cls.__init__ = __init__
        return cls

    return wrap if cls is None else wrap(cls)


def made(cls) -> type:
    """Make `cls` and its lazy bases dataclasses now (idempotent)."""
    for base in reversed(cls.__mro__):
        kw = base.__dict__.get(_PENDING)
        if kw is not None:
            delattr(base, _PENDING)
            del base.__init__                  # dataclasses keeps a class's own
            dataclasses.dataclass(base, **kw)
    return cls
