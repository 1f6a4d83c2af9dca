"""The D-Bus API of init, as data: interfaces, methods, signals, properties.

One table describes `com.ubuntu.Upstart0_6` (manager), `.Job` and
`.Instance`: every method with its named in/out arguments, every signal and
property. The server checks incoming signatures against it and the
introspection XML is generated from it, so the two cannot drift apart.
Also holds the well-known error names and the libdbus/libnih error texts.
Pure data and string building; no I/O.
"""

from __future__ import annotations


MANAGER_IFACE = "com.ubuntu.Upstart0_6"
JOB_IFACE = "com.ubuntu.Upstart0_6.Job"
INSTANCE_IFACE = "com.ubuntu.Upstart0_6.Instance"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
INTROSPECTABLE_IFACE = "org.freedesktop.DBus.Introspectable"
PEER_IFACE = "org.freedesktop.DBus.Peer"

ERR_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
ERR_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
ERR_FAILED = "org.freedesktop.DBus.Error.Failed"
ERR_ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
ERR_PERMISSION = "com.ubuntu.Upstart0_6.Error.PermissionDenied"
ERR_NOT_SUPPORTED = "org.freedesktop.DBus.Error.NotSupported"


def unknown_method_text(member: str, signature: str, interface: str | None) -> str:
    """libdbus's text for an unhandled method call (it ends with a newline)."""
    return 'Method "%s" with signature "%s" on interface "%s" doesn\'t exist\n' % (
        member, signature, interface if interface is not None else "(null)")


def invalid_args_text(member: str) -> str:
    """libnih's text for a known method called with the wrong signature."""
    return "Invalid arguments to %s method" % member


class _Spec:
    """A value: equal by its fields, hashable, immutable by convention.
    footprint (issue #23): plain classes, not data classes, because all of
    them are made when this module is imported, on init's start path."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (f, getattr(self, f)) for f in self._fields))


class Method(_Spec):
    __slots__ = ("name", "args_in", "args_out", "in_sig", "out_sig")
    _fields = ("name", "args_in", "args_out")

    def __init__(self, name: str, args_in: tuple[tuple[str, str], ...] = (),
                 args_out: tuple[tuple[str, str], ...] = ()):
        self.name = name
        self.args_in = args_in          # ((name, type), ...)
        self.args_out = args_out
        # perf: the router compares a call's signature with it on every call
        self.in_sig = "".join(t for _, t in args_in)
        self.out_sig = "".join(t for _, t in args_out)


class Signal(_Spec):
    __slots__ = ("name", "args", "sig")
    _fields = ("name", "args")

    def __init__(self, name: str, args: tuple[tuple[str, str], ...] = ()):
        self.name = name
        self.args = args
        self.sig = "".join(t for _, t in args)


class Property(_Spec):
    __slots__ = ("name", "type", "access")
    _fields = ("name", "type", "access")

    def __init__(self, name: str, type: str, access: str = "read"):
        self.name = name
        self.type = type
        self.access = access


class Interface(_Spec):
    __slots__ = ("name", "methods", "signals", "properties", "_by_name")
    _fields = ("name", "methods", "signals", "properties")

    def __init__(self, name: str, methods: tuple[Method, ...] = (),
                 signals: tuple[Signal, ...] = (), properties: tuple[Property, ...] = ()):
        self.name = name
        self.methods = methods
        self.signals = signals
        self.properties = properties
        self._by_name = {m.name: m for m in reversed(methods)}   # the first of a name

    def method(self, name: str) -> Method | None:
        return self._by_name.get(name)

    def prop(self, name: str) -> Property | None:
        for p in self.properties:
            if p.name == name:
                return p
        return None


_JD = ("job_details", "as")

MANAGER = Interface(
    MANAGER_IFACE,
    methods=(
        Method("ReloadConfiguration"),
        Method("GetJobByName", (("name", "s"),), (("job", "o"),)),
        Method("GetAllJobs", (), (("jobs", "ao"),)),
        Method("GetState", (), (("state", "s"),)),
        Method("Restart"),
        Method("GetEnv", (_JD, ("name", "s")), (("value", "s"),)),
        Method("SetEnv", (_JD, ("var", "s"), ("replace", "b"))),
        Method("SetEnvList", (_JD, ("vars", "as"), ("replace", "b"))),
        Method("UnsetEnv", (_JD, ("name", "s"))),
        Method("UnsetEnvList", (_JD, ("names", "as"))),
        Method("ListEnv", (_JD,), (("env", "as"),)),
        Method("ResetEnv", (_JD,)),
        Method("EmitEvent", (("name", "s"), ("env", "as"), ("wait", "b"))),
        Method("EmitEventWithFile",
               (("name", "s"), ("env", "as"), ("wait", "b"), ("file", "h"))),
        Method("NotifyDiskWriteable"),
        Method("NotifyDBusAddress", (("address", "s"),)),
        Method("NotifyCGroupManagerAddress", (("address", "s"),)),
        Method("EndSession"),
        # roadmap (issue #7): named states
        Method("SetState", (("name", "s"), ("env", "as"))),
        Method("ClearState", (("name", "s"),)),
        Method("ListStates", (), (("states", "a(sas)"),)),
        # roadmap (issue #12): the event record; `what` is log|why|failed|status,
        # the answer JSON text
        Method("Observe", (("what", "s"), ("args", "as")), (("answer", "s"),)),
        # roadmap 07 §9 (CT-27, `initctl --global`): this private connection sees
        # the global jobs even from inside a chroot session, and only looks there
        Method("UseGlobalScope"),
    ),
    signals=(
        Signal("JobAdded", (("job", "o"),)),
        Signal("JobRemoved", (("job", "o"),)),
        Signal("EventEmitted", (("name", "s"), ("env", "as"))),
        Signal("Restarted"),
    ),
    properties=(
        Property("version", "s"),
        Property("log_priority", "s", "readwrite"),
    ),
)

JOB = Interface(
    JOB_IFACE,
    methods=(
        Method("GetInstance", (("env", "as"),), (("instance", "o"),)),
        Method("GetInstanceByName", (("name", "s"),), (("instance", "o"),)),
        Method("GetAllInstances", (), (("instances", "ao"),)),
        Method("Start", (("env", "as"), ("wait", "b")), (("instance", "o"),)),
        Method("Stop", (("env", "as"), ("wait", "b"))),
        Method("Restart", (("env", "as"), ("wait", "b")), (("instance", "o"),)),
    ),
    signals=(
        Signal("InstanceAdded", (("instance", "o"),)),
        Signal("InstanceRemoved", (("instance", "o"),)),
    ),
    properties=(
        Property("name", "s"),
        Property("description", "s"),
        Property("author", "s"),
        Property("version", "s"),
        Property("usage", "s"),
        Property("start_on", "aas"),
        Property("stop_on", "aas"),
        # our additions: the `while` and `ready on` conditions, same RPN form
        Property("while", "aas"),
        Property("ready_on", "aas"),
        Property("emits", "as"),
        # our additions (roadmap 07 §11, RM-09): the same trees in the seed's form,
        # an array of variants: "AND"/"OR", or (event name, its match arguments)
        Property("start_on_variant", "av"),
        Property("stop_on_variant", "av"),
        Property("while_variant", "av"),
        Property("ready_on_variant", "av"),
    ),
)

INSTANCE = Interface(
    INSTANCE_IFACE,
    methods=(
        Method("Start", (("wait", "b"),)),
        Method("Stop", (("wait", "b"),)),
        Method("Restart", (("wait", "b"),)),
        Method("Reload"),
        # our addition (roadmap 07 §7, RM-15): continue the processes paused by the
        # `debug` stanza (or otherwise stopped)
        Method("Resume"),
    ),
    signals=(
        Signal("GoalChanged", (("goal", "s"),)),
        Signal("StateChanged", (("state", "s"),)),
        Signal("Failed", (("status", "i"),)),
    ),
    properties=(
        Property("name", "s"),
        Property("goal", "s"),
        Property("state", "s"),
        Property("processes", "a(si)"),
        # our addition (readiness, docs/design/readiness.md): "" when the job has
        # no `ready on` stanza, "ready" once it is, "waiting" while it is not yet
        Property("ready", "s"),
        # our addition (back-off, docs/design/backoff.md): "" or "respawn N in Xs"
        Property("respawn", "s"),
    ),
)

DOCTYPE = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
           '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n')

_PROPERTIES_XML = (
    '  <interface name="org.freedesktop.DBus.Properties">\n'
    '    <method name="Get">\n'
    '      <arg name="interface_name" type="s" direction="in"/>\n'
    '      <arg name="property_name" type="s" direction="in"/>\n'
    '      <arg name="value" type="v" direction="out"/>\n'
    '    </method>\n'
    '    <method name="Set">\n'
    '      <arg name="interface_name" type="s" direction="in"/>\n'
    '      <arg name="property_name" type="s" direction="in"/>\n'
    '      <arg name="value" type="v" direction="in"/>\n'
    '    </method>\n'
    '    <method name="GetAll">\n'
    '      <arg name="interface_name" type="s" direction="in"/>\n'
    '      <arg name="props" type="a{sv}" direction="out"/>\n'
    '    </method>\n'
    '  </interface>\n')

_INTROSPECTABLE_XML = (
    '  <interface name="org.freedesktop.DBus.Introspectable">\n'
    '    <method name="Introspect">\n'
    '      <arg name="data" type="s" direction="out"/>\n'
    '    </method>\n'
    '  </interface>\n')


def _xml_escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def introspect_xml(path: str, interfaces: tuple[Interface, ...], children: list[str]) -> str:
    """The Introspect answer for an object: its interfaces in libnih's layout,
    then Properties (if any property) and Introspectable, then child nodes."""
    out = [DOCTYPE, '<node name="%s">\n' % _xml_escape(path)]
    have_props = False
    for iface in interfaces:
        out.append('  <interface name="%s">\n' % iface.name)
        for m in iface.methods:
            out.append('    <method name="%s">\n' % m.name)
            for name, t in m.args_in:
                out.append('      <arg name="%s" type="%s" direction="in"/>\n' % (name, t))
            for name, t in m.args_out:
                out.append('      <arg name="%s" type="%s" direction="out"/>\n' % (name, t))
            out.append("    </method>\n")
        for s in iface.signals:
            out.append('    <signal name="%s">\n' % s.name)
            for name, t in s.args:
                out.append('      <arg name="%s" type="%s"/>\n' % (name, t))
            out.append("    </signal>\n")
        for p in iface.properties:
            have_props = True
            out.append('    <property name="%s" type="%s" access="%s"/>\n'
                       % (p.name, p.type, p.access))
        out.append("  </interface>\n")
    if have_props:
        out.append(_PROPERTIES_XML)
    out.append(_INTROSPECTABLE_XML)
    for child in children:
        out.append('  <node name="%s"/>\n' % _xml_escape(child))
    out.append("</node>\n")
    return "".join(out)
