"""`upstart.records`: the record classes behave as the standard `dataclasses`
ones do, for every feature the code base uses (eq, hash, repr, replace,
fields, frozen errors, defaults and factories, slots, inheritance, ClassVar,
copy and pickle), and their methods are made at the first instance.

Each sample is written once and defined twice, with `dataclasses` and with
`upstart.records`, and the two are compared value for value."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys
from typing import ClassVar  # noqa: F401  (dataclasses looks the samples' ClassVar up here)

import pytest

from upstart import records
from upstart.records import FrozenInstanceError, dataclass, field, fields, made, replace

SAMPLES = '''
@dataclass(frozen=True)
class Effect:
    job: str
    instance: str
    state: str

@dataclass(frozen=True)
class Defaults:
    kind: str
    name: str = ""
    pid: int = 0
    data: tuple = ()
    env: tuple = field(default_factory=tuple)

@dataclass(frozen=True)
class One:
    x: object

@dataclass(frozen=True)
class Empty:
    pass

@dataclass
class Mutable:
    a: int
    items: list = field(default_factory=list)
    table: dict = field(default_factory=dict)
    flag: bool = False
    limit: int = field(default=5)
    KIND: ClassVar[str] = "mutable"

@dataclass(eq=False)
class Identity:
    name: str
    env: list = field(default_factory=list)

@dataclass(slots=True)
class Slotted:
    a: int
    b: str = "b"
    c: list = field(default_factory=list)

@dataclass(eq=False, slots=True)
class SlottedIdentity:
    id: int
    name: str
    blocking: list = field(default_factory=list)
    failed: bool = False

@dataclass(frozen=True)
class Base:
    """A doc of its own."""
    x: int
    y: tuple = ()
    z: list = field(default_factory=list)

@dataclass(frozen=True)
class Child(Base):
    w: str = "w"
    y: tuple = (1,)

class Plain(Base):
    pass

@dataclass
class Own:
    a: int

    def __repr__(self):
        return "own"

    def __eq__(self, other):
        return True
'''

NAMES = ("Effect", "Defaults", "One", "Empty", "Mutable", "Identity", "Slotted",
         "SlottedIdentity", "Base", "Child", "Plain", "Own")


def _define(module) -> dict[str, type]:
    ns = {"dataclass": module.dataclass, "field": module.field, "__name__": __name__}
    exec(SAMPLES, ns)
    return {name: ns[name] for name in NAMES}


@pytest.fixture
def both():
    return _define(dataclasses), _define(records)


# instances made the same way in both, by class name
ARGS = {
    "Effect": [("svc", "", "running"), ("svc", "", "waiting"), ("a", "b", "c")],
    "Defaults": [("queued",), ("queued", "startup", 3, ("A=1",), ("B=2",)), ("x", "y")],
    "One": [(1,), (float("nan"),), ((1, 2),)],
    "Empty": [()],
    "Mutable": [(1,), (1, [2], {"k": 3}, True, 9), (2,)],
    "Identity": [("a",), ("a", ["X=1"])],
    "Slotted": [(1,), (1, "q", [3])],
    "SlottedIdentity": [(1, "startup"), (2, "x", ["j"], True)],
    "Base": [(1,), (1, (2,), [3])],
    "Child": [(1,), (1, (2,), [3], "q")],
    "Plain": [(5,)],
    "Own": [(1,)],
}


def _pairs(both):
    std, ours = both
    for name, arglist in ARGS.items():
        for args in arglist:
            yield name, std[name](*args), ours[name](*args)


def test_repr_is_the_same(both):
    for name, a, b in _pairs(both):
        assert repr(a) == repr(b), name
    _, ours = both
    assert repr(ours["Child"](1, (2,), [3], "q")) == "Child(x=1, y=(2,), z=[3], w='q')"
    assert repr(ours["Effect"]("svc", "", "running")) == \
        "Effect(job='svc', instance='', state='running')"


def test_eq_and_hash_follow_the_same_rules(both):
    std, ours = both
    for name, arglist in ARGS.items():
        sa = [std[name](*args) for args in arglist]
        oa = [ours[name](*args) for args in arglist]
        sb = [std[name](*args) for args in arglist]
        ob = [ours[name](*args) for args in arglist]
        for i in range(len(arglist)):
            for j in range(len(arglist)):
                assert (sa[i] == sb[j]) == (oa[i] == ob[j]), (name, i, j)
                assert (sa[i] != sb[j]) == (oa[i] != ob[j]), (name, i, j)
            assert (sa[i] == sa[i]) == (oa[i] == oa[i])
            hashable = std[name].__hash__ is not None
            assert (ours[name].__hash__ is not None) == hashable, name
            if std[name].__hash__ is object.__hash__:
                assert ours[name].__hash__ is object.__hash__    # identity, eq=False
            else:
                assert _hash(sa[i]) == _hash(oa[i]), name        # the field tuple's, or none


def _hash(obj):
    try:
        return hash(obj)
    except TypeError as e:
        return str(e)


def test_eq_only_with_the_same_class(both):
    _, ours = both
    base, child, plain = ours["Base"](1), ours["Child"](1), ours["Plain"](1)
    assert base != child and child != base and base != plain and plain == ours["Plain"](1)
    assert ours["Effect"]("a", "b", "c") != ("a", "b", "c")
    assert ours["Effect"].__eq__(ours["Effect"]("a", "b", "c"), 1) is NotImplemented
    assert ours["One"](float("nan")) != ours["One"](float("nan"))
    nan = float("nan")
    assert ours["One"](nan) == ours["One"](nan)                  # tuple: identity first


def test_frozen_records_refuse_assignment_as_dataclasses_does(both):
    std, ours = both
    for name in ("Effect", "Defaults", "Base", "Child"):
        a, b = std[name](*ARGS[name][0]), ours[name](*ARGS[name][0])
        for attr in ("job", "kind", "x", "other"):
            with pytest.raises(dataclasses.FrozenInstanceError) as want:
                setattr(a, attr, 1)
            with pytest.raises(FrozenInstanceError) as got:
                setattr(b, attr, 1)
            assert str(got.value) == str(want.value)
            with pytest.raises(FrozenInstanceError, match="cannot delete field"):
                delattr(b, attr)
    assert issubclass(FrozenInstanceError, AttributeError)
    plain = ours["Plain"](5)
    plain.extra = 1                             # a subclass's own attribute, as dataclasses
    with pytest.raises(FrozenInstanceError):
        plain.x = 2


def test_defaults_and_fresh_factories(both):
    _, ours = both
    m1, m2 = ours["Mutable"](1), ours["Mutable"](1)
    assert m1.items == [] and m1.items is not m2.items and m1.table is not m2.table
    assert m1.limit == 5 and ours["Mutable"].limit == 5 and ours["Mutable"].flag is False
    assert ours["Mutable"].KIND == "mutable" and "KIND" not in [f.name for f in fields(m1)]
    assert not hasattr(ours["Mutable"], "items")       # a factory leaves no class attribute
    assert ours["Defaults"]("k").env == ()
    assert ours["Child"](1).y == (1,) and ours["Base"](1).y == ()
    with pytest.raises(TypeError):
        ours["Base"]()                                  # x is required, as ever
    with pytest.raises(TypeError):
        ours["Effect"]("a", "b")


def test_fields_and_replace(both):
    std, ours = both
    for name in NAMES:
        want = [(f.name, f.type, f.default, f.default_factory)
                for f in dataclasses.fields(std[name])]
        got = [(f.name, f.type, f.default, f.default_factory) for f in fields(ours[name])]
        assert [w[:2] for w in want] == [g[:2] for g in got], name
        for w, g in zip(want, got):
            assert (w[2] is dataclasses.MISSING) == (g[2] is records.MISSING)
            assert (w[3] is dataclasses.MISSING) == (g[3] is records.MISSING)
            if g[2] is not records.MISSING:
                assert g[2] == w[2]
    c = ours["Child"](1, (2,), [3], "q")
    assert fields(c) == fields(ours["Child"])
    assert replace(c, x=9) == ours["Child"](9, (2,), [3], "q")
    assert replace(c, x=9).w == "q" and c.x == 1
    m = ours["Mutable"](1, [2])
    assert replace(m, a=3).items is m.items             # replace copies nothing, as dataclasses
    with pytest.raises(TypeError):
        replace(c, nope=1)
    with pytest.raises(TypeError):
        fields(object())


def test_slots(both):
    std, ours = both
    for name in ("Slotted", "SlottedIdentity"):
        assert ours[name].__slots__ == std[name].__slots__
        obj = ours[name](*ARGS[name][0])
        assert not hasattr(obj, "__dict__") and not hasattr(obj, "__weakref__")
        with pytest.raises(AttributeError):
            obj.not_a_field = 1
    s = ours["Slotted"](1)
    s.b = "changed"
    assert s.b == "changed" and ours["Slotted"](1).b == "b"

    @dataclass(frozen=True, slots=True)
    class FrozenSlots(ours["Base"]):
        v: int = 0
    assert "__slots__" in FrozenSlots.__dict__ and FrozenSlots(1, v=2).v == 2
    assert copy.deepcopy(FrozenSlots(1, v=2)) == FrozenSlots(1, v=2)


def test_own_methods_are_kept_and_docstrings_too(both):
    _, ours = both
    assert repr(ours["Own"](1)) == "own" and ours["Own"](1) == 2
    assert ours["Base"].__doc__ == "A doc of its own."


def test_a_record_that_holds_itself_prints_dots(both):
    std, ours = both
    for ns in both:
        m = ns["Mutable"](1)
        m.items.append(m)
    a, b = std["Mutable"](1), ours["Mutable"](1)
    a.items.append(a)
    b.items.append(b)
    assert repr(a) == repr(b) == "Mutable(a=1, items=[...], table={}, flag=False, limit=5)"


def test_copy_and_deepcopy(both):
    _, ours = both
    for name, _, obj in _pairs(both):
        dup = copy.deepcopy(obj)
        assert repr(dup) == repr(obj)
        if name not in ("Identity", "SlottedIdentity", "Own") and name != "One":
            assert dup == obj and copy.copy(obj) == obj
    m = ours["Mutable"](1, [[2]])
    assert copy.deepcopy(m).items[0] is not m.items[0]


@dataclass(frozen=True)
class PickledFrozen:
    a: int
    b: tuple = ()


@dataclass(eq=False, slots=True)
class PickledSlots:
    a: int
    b: list = field(default_factory=list)


def test_pickle_round_trip():
    for obj in (PickledFrozen(1, (2,)), PickledSlots(1, [2])):
        back = pickle.loads(pickle.dumps(obj))
        assert repr(back) == repr(obj)
    assert pickle.loads(pickle.dumps(PickledFrozen(1))) == PickledFrozen(1)


def test_bad_classes_fail_at_definition_as_dataclasses():
    for module in (dataclasses, records):
        with pytest.raises(ValueError, match="mutable default"):
            @module.dataclass
            class A:
                x: list = []
        with pytest.raises(TypeError, match="non-default argument 'y' follows default"):
            @module.dataclass
            class B:
                x: int = 0
                y: int
        @module.dataclass(frozen=True)
        class Frozen:
            x: int = 0
        with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen"):
            @module.dataclass
            class C(Frozen):
                z: int = 0
    with pytest.raises(TypeError):
        dataclass(order=True)


def test_methods_are_made_at_the_first_instance():
    _, ours = None, _define(records)
    base, child = ours["Base"], ours["Child"]
    assert records.PENDING in base.__dict__ and records.PENDING in child.__dict__
    assert [f.name for f in fields(base)] == ["x", "y", "z"]     # before any instance
    assert "__eq__" not in base.__dict__
    child(1)
    assert records.PENDING not in base.__dict__ and records.PENDING not in child.__dict__
    assert "__eq__" in base.__dict__ and "__hash__" in child.__dict__
    assert made(base) is base and made(base) is base             # idempotent
    mutable = ours["Mutable"]
    assert mutable.__hash__ is None                              # before it is made, too
    assert made(ours["Plain"])(3) == ours["Plain"](3)
    assert ours["Effect"].__match_args__ == ("job", "instance", "state")


def test_a_class_with_its_own_init_is_made_at_once_after_its_bases():
    ours = _define(records)

    @dataclass(frozen=True)
    class WithInit(ours["Base"]):
        v: int = 0

        def __init__(self, x):
            object.__setattr__(self, "x", x)
    assert records.PENDING not in ours["Base"].__dict__
    assert records.PENDING not in WithInit.__dict__ and "__eq__" in WithInit.__dict__
    w = WithInit(3)
    assert w.x == 3
    with pytest.raises(FrozenInstanceError):
        w.x = 4


def test_post_init_is_called():
    seen = []

    @dataclass
    class P:
        a: int

        def __post_init__(self):
            seen.append(self.a)
    P(4)
    assert seen == [4]


# init's start path in a fresh interpreter, as `upstart/cli/init.py` runs it;
# a finder first on the meta path notes which module imports `dataclasses`
# or `inspect`, so a failure names the culprit. (A real PID 1 and Session
# Init are checked the same way in tests/e2e/test_init_imports_e2e.py.)
START = r"""
import json, sys
seen = {}
class Watch:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in ("dataclasses", "inspect") and name not in seen:
            frame, who = sys._getframe(1), []
            while frame is not None:
                mod = frame.f_globals.get("__name__", "")
                if not mod.startswith(("importlib", "_frozen_importlib")):
                    who.append(mod)
                frame = frame.f_back
            seen[name] = who[0] if who else "?"
        return None
sys.meta_path.insert(0, Watch)
sys.modules.setdefault("ssl", None)
from upstart.daemon.options import parse_options
from upstart.daemon.daemon import Daemon
import upstart.control.server                   # started by the daemon, not imported
import upstart.core.effects as effects, upstart.jobfile.model as model
from upstart.records import made, PENDING
opts = parse_options(["--user", "--no-log"])
made_now = [c for m in (effects, model) for c in vars(m).values()
            if isinstance(c, type) and PENDING in c.__dict__]
for c in made_now:
    made(c)
print(json.dumps([len(made_now), opts.user, seen]))
"""


def test_init_start_path_imports_neither_dataclasses_nor_inspect():
    out = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    count, user, seen = json.loads(out.stdout)
    assert count >= 20 and user is True                # the records were made
    assert seen == {}, seen                            # importer of each, if any
