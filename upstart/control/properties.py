"""`org.freedesktop.DBus.Properties` on init's objects: Get, GetAll, Set.

Which properties exist and their types is `upstart.control.api`'s table; how
each one's value is read from the backend is the table below, one line per
property. The only writable property is the manager's `log_priority`
(the backend checks the caller, `upstart.control.policy`).
"""

from __future__ import annotations

from upstart.control import api
from upstart.control.backend import InstanceProps, JobProps
from upstart.core.effects import ControlError, ControlFailure


def _rpn(value) -> list:
    return [list(x) for x in value]


_OPERATORS = {"/AND": "AND", "/OR": "OR"}


def _variants(value) -> list:
    """1.13's RPN (`aas`, operators as `["/AND"]`) in the seed's form (`av`):
    an operator is the string "AND" or "OR", a match the structure
    (event name, its arguments) (spec 07 §11)."""
    out = []
    for item in value:
        if len(item) == 1 and item[0] in _OPERATORS:
            out.append(("s", _OPERATORS[item[0]]))
        else:
            out.append(("(sas)", (item[0], list(item[1:]))))
    return out


def _ready(props: InstanceProps) -> str:
    return "" if props.ready is None else ("ready" if props.ready else "waiting")


# property -> its value, from the backend (manager) or its props (job, instance)
MANAGER_VALUES = {
    "version": lambda backend: backend.version(),
    "log_priority": lambda backend: backend.get_log_priority(),
}
JOB_VALUES = {
    "name": lambda p: p.name or "",
    "description": lambda p: p.description or "",
    "author": lambda p: p.author or "",
    "version": lambda p: p.version or "",
    "usage": lambda p: p.usage or "",
    "start_on": lambda p: _rpn(p.start_on),
    "stop_on": lambda p: _rpn(p.stop_on),
    "while": lambda p: _rpn(p.while_on),
    "ready_on": lambda p: _rpn(p.ready_on),
    "emits": lambda p: list(p.emits),
    "start_on_variant": lambda p: _variants(p.start_on),
    "stop_on_variant": lambda p: _variants(p.stop_on),
    "while_variant": lambda p: _variants(p.while_on),
    "ready_on_variant": lambda p: _variants(p.ready_on),
}
INSTANCE_VALUES = {
    "name": lambda p: p.name or "",
    "goal": lambda p: p.goal or "",
    "state": lambda p: p.state or "",
    "processes": lambda p: [(slot, int(pid)) for slot, pid in p.processes],
    "ready": _ready,
    "respawn": lambda p: p.respawn or "",
}


def _props(backend, target) -> JobProps | InstanceProps | None:
    kind = target[0]
    if kind == "job":
        return backend.job_props(target[1])
    if kind == "instance":
        return backend.instance_props(target[1], target[2])
    return None


def value(backend, target, name: str, props=None):
    """The value of property `name` of the object `target`; `props`: the
    backend's props of that object when already read (GetAll)."""
    kind = target[0]
    if kind == "manager":
        return MANAGER_VALUES[name](backend)
    if props is None:
        props = _props(backend, target)
    return (JOB_VALUES if kind == "job" else INSTANCE_VALUES)[name](props)


def _invalid(member: str) -> ControlFailure:
    return ControlFailure(ControlError(api.ERR_INVALID_ARGS, api.invalid_args_text(member)))


def handle(call, target, interfaces) -> tuple:
    """Answer Get/GetAll/Set on `target` (whose interfaces are given)."""
    member = call.member
    want = {"Get": "ss", "GetAll": "s", "Set": "ssv"}[member]
    if call.sig != want:
        raise _invalid(member)
    backend = call.tbackend
    iname = call.body[0]
    if member == "GetAll":
        values = {}
        props = _props(backend, target)
        for spec in interfaces:
            if iname and iname != spec.name:
                continue
            for prop in spec.properties:
                if prop.name not in values:
                    values[prop.name] = (prop.type, value(backend, target, prop.name, props))
        return ("a{sv}", (values,))
    pname = call.body[1]
    for spec in interfaces:
        if iname and iname != spec.name:
            continue
        prop = spec.prop(pname)
        if prop is None:
            continue
        if member == "Get":
            return ("v", ((prop.type, value(backend, target, pname)),))
        if prop.access == "read":
            continue
        vtype, new = call.body[2]
        if vtype != prop.type:
            raise ControlFailure(ControlError(api.ERR_INVALID_ARGS,
                                              "Invalid arguments to %s property" % pname))
        call.backend.set_log_priority(call.caller, new)
        return ("", ())
    raise ControlFailure(ControlError(api.ERR_UNKNOWN_METHOD, api.unknown_method_text(
        member, call.sig, api.PROPERTIES_IFACE if call.iface else None)))
