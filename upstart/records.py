"""Record classes: the part of `dataclasses` upstart uses, made at first use.

A record is a class of annotated fields whose `__init__`, `__repr__`,
`__eq__`, `__hash__` (and, when frozen, `__setattr__`/`__delattr__`) are
generated, with the standard `dataclasses` rules: `@dataclass`,
`@dataclass(frozen=True)`, `(eq=False)`, `(slots=True)`, `field(default=...,
default_factory=...)`, `fields()`, `replace()`, `FrozenInstanceError`.
Why not the standard module in PID 1 (docs/design/records.md): it imports
`inspect` (with `ast`, `dis`, `tokenize`, ...), about 0.3 s under qemu TCG,
and it compiles each method of each class from its own source text.

Here the fields are read when the class is defined (a loop over its
annotations: `fields()` works at once, and a bad class fails at once), and
the methods are made when the first instance is made (or by `made(cls)`), so
a class never instantiated costs no compilation. Only `__init__` is compiled
for each class (one `exec` of one short source text: its arguments are the
fields); `__eq__` and `__hash__` are compiled once per number of fields and
renamed for each class; `__repr__` and the frozen `__setattr__` are closures.
A frozen `__init__` sets each field with a bound `object.__setattr__`, as
`dataclasses` does but without its attribute lookup: about a third faster.
`slots=True` makes the new class with `__slots__` at once, its methods later.

The rules kept exactly (tests/unit/test_records.py compares with
`dataclasses`): fields in definition order after those of record bases; a
`ClassVar` annotation (a string here, under `from __future__ import
annotations`) is not a field; a field without a default may not follow one
with a default; a list, dict or set default is refused (`default_factory`),
and a factory is called for each instance; `__eq__` compares the field
tuples of two instances of the same class only; frozen and eq give a
`__hash__` of the field tuple, eq without frozen sets `__hash__ = None`,
`eq=False` keeps identity; a method the class defines itself is kept;
`repr` is `Name(a=1, b='x')` by the class's `__qualname__`, `...` for an
instance already being printed; `__post_init__` is called when defined.
Not supported (refused or absent): `order`, `unsafe_hash`, `init`, `repr`,
`kw_only`, `match_args` flags, `InitVar`, per-field `repr`/`compare`/`init`,
and a generated `__doc__` (a class keeps the docstring it has).

Pure: imports only `_thread` (the thread id of the repr guard, loaded by
any Python start) and `operator` (`attrgetter`, the field tuple; init's
start loads it anyway, with `collections`).
"""

from __future__ import annotations

from _thread import get_ident
from operator import attrgetter

PENDING = "__record_pending__"     # set on a class whose methods are not made yet
FIELDS = "__record_fields__"       # the Field tuple, bases' first
PARAMS = "__record_params__"       # (eq, frozen)


class FrozenInstanceError(AttributeError):
    """An assignment to (or deletion of) a field of a frozen record."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class _Factory:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()               # the default of an argument whose field has a factory


class Field:
    """One field: its name, annotation (a string) and default or factory."""

    __slots__ = ("name", "type", "default", "default_factory")

    def __init__(self, default=MISSING, default_factory=MISSING):
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name: str = ""
        self.type = None
        self.default = default
        self.default_factory = default_factory

    def __repr__(self) -> str:
        return (f"Field(name={self.name!r},type={self.type!r},default={self.default!r},"
                f"default_factory={self.default_factory!r})")


def field(*, default=MISSING, default_factory=MISSING):
    """A field's default, or the factory called for each new instance."""
    return Field(default, default_factory)


def dataclass(cls=None, /, *, eq: bool = True, frozen: bool = False, slots: bool = False):
    """Make `cls` a record (see the module's docstring); methods at first use."""
    def wrap(cls):
        return _define(cls, eq, frozen, slots)
    return wrap if cls is None else wrap(cls)


def made(cls) -> type:
    """Make the methods of `cls` and of its record bases now (idempotent)."""
    for base in reversed(cls.__mro__):
        if PENDING in base.__dict__:
            _make(base)
    return cls


def fields(class_or_instance) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order."""
    try:
        return getattr(class_or_instance, FIELDS)
    except AttributeError:
        raise TypeError("must be called with a dataclass type or instance") from None


def replace(obj, /, **changes):
    """A new record like `obj` with `changes` (fields by name)."""
    for f in fields(obj):
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return obj.__class__(**changes)


# ------------------------------------------------------------- definition

def _is_classvar(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _define(cls, eq: bool, frozen: bool, slots: bool):
    own = cls.__dict__
    found: dict[str, Field] = {}
    for base in cls.__mro__[-1:0:-1]:
        base_fields = base.__dict__.get(FIELDS)
        if base_fields is not None:
            if base.__dict__[PARAMS][1] != frozen:
                raise TypeError("cannot inherit frozen dataclass from a non-frozen one"
                                if frozen else
                                "cannot inherit non-frozen dataclass from a frozen one")
            for f in base_fields:
                found[f.name] = f
    for name, annotation in own.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        if "InitVar" in str(annotation):
            raise TypeError(f"{cls.__qualname__}.{name}: InitVar is not supported")
        default = own.get(name, MISSING)
        f = default if isinstance(default, Field) else Field(default)
        f.name, f.type = name, annotation
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not"
                             " allowed: use default_factory")
        if isinstance(default, Field):          # the class attribute: the default, or none
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        found[name] = f
    for name, value in own.items():
        if isinstance(value, Field) and name not in found:
            raise TypeError(f"{name!r} is a field but has no type annotation")
    order = tuple(found.values())
    seen_default = False
    for f in order:
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        seen_default = seen_default or has_default
    if frozen and ("__setattr__" in own or "__delattr__" in own):
        raise TypeError(f"Cannot overwrite attribute __setattr__ in class {cls.__name__}")

    if slots:
        cls = _slotted(cls, order, frozen)
    setattr(cls, FIELDS, order)
    setattr(cls, PARAMS, (eq, frozen))
    if "__match_args__" not in cls.__dict__:
        cls.__match_args__ = tuple(f.name for f in order)
    if eq and not frozen and _hash_is_ours(cls):
        cls.__hash__ = None                     # as `dataclasses`: eq without frozen
    if "__init__" in cls.__dict__:             # nothing to hook: its own __init__
        made(cls)                               # (its record bases first)
        _make(cls)
        return cls
    setattr(cls, PENDING, True)

    def __init__(self, *args, **kwargs):
        made(cls)
        cls.__init__(self, *args, **kwargs)

    __init__.__qualname__ = cls.__qualname__ + ".__init__"
    cls.__init__ = __init__
    return cls


def _slotted(cls, order: tuple[Field, ...], frozen: bool):
    """A new class like `cls` with `__slots__` for its own fields (frozen:
    with the pickling state `dataclasses` gives it, a list of the values)."""
    inherited: set[str] = set()
    for base in cls.__mro__[1:-1]:
        names = base.__dict__.get("__slots__", ())
        inherited.update((names,) if isinstance(names, str) else names)
    names = tuple(f.name for f in order)
    body = dict(cls.__dict__)
    body["__slots__"] = tuple(n for n in names if n not in inherited)
    for name in names:
        body.pop(name, None)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    new = type(cls)(cls.__name__, cls.__bases__, body)
    new.__qualname__ = cls.__qualname__
    if frozen:
        if "__getstate__" not in body:
            new.__getstate__ = _getstate
        if "__setstate__" not in body:
            new.__setstate__ = _setstate
    return new


def _getstate(self):
    return [getattr(self, f.name) for f in fields(self)]


def _setstate(self, state):
    for f, value in zip(fields(self), state):
        object.__setattr__(self, f.name, value)


# ---------------------------------------------------------------- methods
#
# Only `__init__` is compiled for each class (its signature is the fields');
# compiling `__eq__`, `__hash__` and `__repr__` with it would triple the cost
# of making a class. Each builder takes (cls, field names, frozen).

_repr_running: set[tuple[int, int]] = set()


def _make(cls) -> None:
    """Set the methods of `cls` that it does not define itself."""
    if PENDING in cls.__dict__:
        delattr(cls, PENDING)
        del cls.__init__                        # the hook; a class's own is kept
    eq, frozen = cls.__dict__[PARAMS]
    names = tuple(f.name for f in cls.__dict__[FIELDS])
    methods = {"__init__": _init, "__repr__": _repr}
    if eq:
        methods["__eq__"] = _eq
        if frozen and _hash_is_ours(cls):
            methods["__hash__"] = _hash
    if frozen:
        methods["__setattr__"] = _setattr
        methods["__delattr__"] = _delattr
    for name, build in methods.items():
        if name == "__hash__" or name not in cls.__dict__:
            fn = build(cls, names, frozen)
            fn.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, fn)


def _init(cls, names: tuple[str, ...], frozen: bool):
    """`__init__(self, <fields>)`, compiled: its arguments are the fields."""
    env: dict[str, object] = {"_FACTORY": _FACTORY, "_set": object.__setattr__}
    # a frozen instance's fields are set by `object.__setattr__`: writing its
    # `__dict__` would be faster here but would make a real dict of the
    # instance's inline values, and every later read of a field slower
    params, body = ["self"], []
    for i, f in enumerate(cls.__dict__[FIELDS]):
        if f.default_factory is not MISSING:
            env[f"_f{i}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            value = f"_f{i}() if {f.name} is _FACTORY else {f.name}"
        else:
            if f.default is not MISSING:
                env[f"_d{i}"] = f.default
                params.append(f"{f.name}=_d{i}")
            else:
                params.append(f.name)
            value = f.name
        body.append(f"_set(self, {f.name!r}, {value})" if frozen
                    else f"self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = (f"def __init__({', '.join(params)}):\n"
              + "".join(f" {line}\n" for line in body or ["pass"]))
    namespace: dict[str, object] = {}
    exec(compile(source, f"<record {cls.__qualname__}>", "exec"), env, namespace)
    return namespace["__init__"]


def _key(names: tuple[str, ...]):
    """The field tuple of an instance, as a C function where it can be."""
    if len(names) >= 2:
        return attrgetter(*names)
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _repr(cls, names: tuple[str, ...], frozen: bool):
    key = _key(names)
    shown = "(" + ", ".join(n.replace("%", "%%") + "=%r" for n in names) + ")"

    def __repr__(self):
        guard = (id(self), get_ident())
        if guard in _repr_running:
            return "..."
        _repr_running.add(guard)
        try:
            return self.__class__.__qualname__ + shown % key(self)
        finally:
            _repr_running.discard(guard)
    return __repr__


def _eq(cls, names: tuple[str, ...], frozen: bool):
    return _from_template(0, names)


def _hash(cls, names: tuple[str, ...], frozen: bool):
    return _from_template(1, names)


# `__eq__` and `__hash__` as dataclasses writes them, compiled once for each
# number of fields with placeholder names, then renamed for each class (a
# code object's attribute names are a tuple: renaming them is exact).
_TEMPLATES: dict[int, tuple] = {}
_FunctionType = type(_key)


def _from_template(which: int, names: tuple[str, ...]):
    codes = _TEMPLATES.get(len(names))
    if codes is None:
        mine = "".join(f"self.__record_{i}__," for i in range(len(names)))
        theirs = mine.replace("self.", "other.")
        source = ("def __eq__(self, other):\n"
                  " if other.__class__ is self.__class__:\n"
                  f"  return ({mine}) == ({theirs})\n"
                  " return NotImplemented\n"
                  f"def __hash__(self):\n return hash(({mine}))\n")
        namespace: dict[str, object] = {}
        exec(compile(source, "<record>", "exec"), {}, namespace)
        codes = _TEMPLATES[len(names)] = (namespace["__eq__"].__code__,
                                          namespace["__hash__"].__code__)
    code = codes[which]
    rename = {f"__record_{i}__": name for i, name in enumerate(names)}
    code = code.replace(co_names=tuple(rename.get(n, n) for n in code.co_names))
    return _FunctionType(code, globals())


def _setattr(cls, names: tuple[str, ...], frozen: bool):
    fields = frozenset(names)

    def __setattr__(self, name, value):
        if type(self) is cls or name in fields:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)
    return __setattr__


def _delattr(cls, names: tuple[str, ...], frozen: bool):
    fields = frozenset(names)

    def __delattr__(self, name):
        if type(self) is cls or name in fields:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)
    return __delattr__


def _hash_is_ours(cls) -> bool:
    """Whether an eq record gets the generated `__hash__` (frozen) or None:
    not when the class wrote its own `__hash__` (a `__hash__ = None` that
    Python set because the class wrote `__eq__` is not its own)."""
    own = cls.__dict__
    if "__hash__" not in own:
        return True
    return own["__hash__"] is None and "__eq__" in own
