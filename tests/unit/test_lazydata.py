"""`upstart.lazydata.dataclass`: the class `dataclasses.dataclass` gives, made
at its first instantiation (footprint, issue #23)."""

import dataclasses

import pytest

from upstart.lazydata import dataclass, made


def _classes():
    @dataclass(frozen=True)
    class Base:
        """A doc of its own."""
        x: int
        y: tuple = ()
        z: list = dataclasses.field(default_factory=list)

    @dataclass(frozen=True)
    class Child(Base):
        w: str = "w"

    class Plain(Base):
        pass

    return Base, Child, Plain


def test_nothing_is_made_before_the_first_instance():
    Base, Child, _ = _classes()
    assert not dataclasses.is_dataclass(Base) and not dataclasses.is_dataclass(Child)
    Child(1)
    assert dataclasses.is_dataclass(Base) and dataclasses.is_dataclass(Child)


def test_the_same_behaviour_as_dataclasses():
    Base, Child, Plain = _classes()
    c = Child(1, (2,), [3], "q")
    assert repr(c) == "_classes.<locals>.Child(x=1, y=(2,), z=[3], w='q')"
    assert c == Child(1, (2,), [3], "q") and c != Child(2)
    assert hash(Base(1, z=())) == hash(Base(1, z=())) and Base(1) == Base(1)
    assert Base(1).z == [] and Base(1).z is not Base(1).z
    assert Plain(5) == Plain(5) and repr(Plain(5)).endswith("Plain(x=5, y=(), z=[])")
    assert Base.__doc__ == "A doc of its own."
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.x = 3
    assert dataclasses.replace(c, x=9) == Child(9, (2,), [3], "q")
    with pytest.raises(TypeError):
        Base()                                    # x is required, as ever


def test_made_on_demand_and_slots_at_once():
    Base, _, _ = _classes()
    assert [f.name for f in dataclasses.fields(made(Base))] == ["x", "y", "z"]

    @dataclass(frozen=True, slots=True)
    class Slotted(Base):
        v: int = 0
    assert dataclasses.is_dataclass(Slotted) and "__slots__" in Slotted.__dict__
    assert Slotted(1, v=2).v == 2
