"""The D-Bus bridge's env building, feedback guard and activation rules."""

from upstart.bridges import dbus_env as d
from upstart.control import wire


def fields(**kw):
    names = {"path": wire.F_PATH, "interface": wire.F_INTERFACE, "member": wire.F_MEMBER,
             "sender": wire.F_SENDER, "destination": wire.F_DESTINATION,
             "signature": wire.F_SIGNATURE}
    return {names[k]: v for k, v in kw.items()}


def test_env_order_and_argument_formats():
    f = fields(member="Changed", interface="org.x.Y", path="/org/x", sender=":1.5",
               signature="sbidyoa{sv}t")
    body = ["text", True, -3, 1.5, 7, "/obj", {}, 2 ** 40]
    assert d.signal_env(f, body, "system") == [
        "SIGNAL=Changed", "BUS=system", "INTERFACE=org.x.Y", "OBJPATH=/org/x", "SENDER=:1.5",
        "ARG0=text", "ARG1=TRUE", "ARG2=-3", "ARG3=1.500000", "ARG4=7", "ARG5=/obj",
        "ARG7=1099511627776"]


def test_absent_fields_are_left_out():
    assert d.signal_env(fields(member="Ping", destination=":1.9"), []) == \
        ["SIGNAL=Ping", "DESTINATION=:1.9"]


def test_feedback_guard():
    assert d.guarded(fields(sender="com.ubuntu.Upstart", interface="x"))
    assert d.guarded(fields(interface="com.ubuntu.Upstart0_6"))
    assert d.guarded(fields(interface="com.ubuntu.Upstart0_6.Instance"))
    assert not d.guarded(fields(interface="com.ubuntu.Upstart0_60"))
    assert not d.guarded(fields(interface="org.freedesktop.DBus", sender="org.freedesktop.DBus"))


def test_activation_request_must_come_from_the_bus_itself():
    ok = fields(interface=d.ACTIVATOR_IFACE, member="ActivationRequest",
                sender="org.freedesktop.DBus")
    assert d.is_activation_request(ok)
    assert not d.is_activation_request({**ok, wire.F_SENDER: ":1.4"})


def test_activation_name_from_unit():
    assert d.activation_name("org.example.Svc.service") == "org.example.Svc"
    assert d.activation_name("dbus-org.freedesktop.hostname1.service") == \
        "org.freedesktop.hostname1"
    assert d.activation_env("x.service") == ["NAME=x", "UNIT=x.service"]


def test_leaf_accepts_positional_named_negated_and_globs():
    env = d.activation_env("org.example.Svc.service")
    assert d.leaf_accepts(("org.example.Svc",), env)
    assert d.leaf_accepts(("org.example.*",), env)
    assert d.leaf_accepts(("NAME=org.example.Svc",), env)
    assert d.leaf_accepts((), env)
    assert not d.leaf_accepts(("org.other",), env)
    assert not d.leaf_accepts(("NAME!=org.example.Svc",), env)
    assert not d.leaf_accepts(("MISSING=x",), env)
    assert d.leaf_accepts(("org.example.Svc", "org.example.Svc.service"), env)
