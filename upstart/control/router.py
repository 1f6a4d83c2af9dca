"""Routing a method call to its object, and introspection.

Dispatch order as libnih: `Peer` and `Hello`, then `Introspect`, then
`Properties.Get/GetAll/Set`, then the object's interface methods (the table in
`upstart.control.methods`). A call without an interface field matches by
member. A known method with the wrong signature gets libnih's `InvalidArgs`
text; an unknown object or member libdbus's `UnknownMethod` text (initctl
relies on it for an instance that vanished).

Chroot sessions (docs/design/sessions.md): the server's `sessions` hook gives
the backend and root of each caller (`scope`) and of each object path
(`target`); a caller reads any object it names, and changes only its own.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from upstart.control import api, paths, policy, properties
from upstart.control.methods import METHODS
from upstart.core.effects import ControlError, ControlFailure

INTERFACES = {
    "manager": (api.MANAGER,),
    "job": (api.JOB,),
    "instance": (api.INSTANCE,),
}


class Call:
    """One method call being answered."""

    __slots__ = ("conn", "caller", "msg", "path", "iface", "member", "sig", "body", "fds",
                 "backend", "root", "tbackend", "troot")

    def __init__(self, conn, msg, path, iface, member, sig, body, fds):
        self.conn = conn
        self.caller = conn.caller
        # chroot sessions: the backend and session root of the caller, and of the
        # object the path names (set by the server before the call is handled)
        self.backend = None
        self.root = None
        self.tbackend = None
        self.troot = None
        self.msg = msg
        self.path = path
        self.iface = iface
        self.member = member
        self.sig = sig
        self.body = body
        self.fds = fds

    def close_fds(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def unknown(member: str, sig: str, iface: str | None) -> ControlFailure:
    return ControlFailure(ControlError(api.ERR_UNKNOWN_METHOD,
                                       api.unknown_method_text(member, sig, iface)))


def _invalid(member: str) -> ControlFailure:
    return ControlFailure(ControlError(api.ERR_INVALID_ARGS, api.invalid_args_text(member)))


def machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            pass
    import uuid     # footprint: only here (it imports `platform`), rarely reached
    return uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()).hex


_MANAGER = ("manager",)
# (path, interface, member, signature) -> the manager method's handler: the
# routing of a call already routed once (perf, issue #23 item 5)
_MANAGER_ROUTES: dict[tuple, Any] = {}


class Router:
    """Routes calls for one server: `backend` (the global one) and `sessions`."""

    def __init__(self, backend):
        self.backend = backend
        self.sessions = None
        self._next_unique = 0

    def handle(self, call: Call):
        """Route one method call; returns (sig, body), or an awaitable of it."""
        iface, member = call.iface, call.member
        method = _MANAGER_ROUTES.get((call.path, iface, member, call.sig))
        if method is not None:          # perf: a manager method routed before
            self._looks_only(call)
            call.tbackend, call.troot = call.backend, call.root    # as `target` sets
            return method(call, _MANAGER, *call.body)
        if member == "Ping" and iface in (None, api.PEER_IFACE):
            return ("", ())
        if member == "GetMachineId" and iface in (None, api.PEER_IFACE):
            return ("s", (machine_id(),))
        if iface == "org.freedesktop.DBus" and member == "Hello":
            self._next_unique += 1
            call.conn.unique_name = ":1.%d" % self._next_unique
            return ("s", (call.conn.unique_name,))
        self._looks_only(call)
        target = self.target(call)
        if member == "Introspect" and iface in (None, api.INTROSPECTABLE_IFACE):
            if call.sig != "":
                raise _invalid("Introspect")
            return ("s", (self.introspect(call, target),))
        if target is None:
            raise unknown(member, call.sig, iface)
        interfaces = INTERFACES[target[0]]
        if iface in (None, api.PROPERTIES_IFACE) and member in ("Get", "GetAll", "Set"):
            return properties.handle(call, target, interfaces)
        for spec in interfaces:
            if iface is not None and iface != spec.name:
                continue
            method = spec.method(member)
            if method is None:
                continue
            if call.sig != method.in_sig:
                raise _invalid(member)
            handler = METHODS[(target[0], member)]
            if target == _MANAGER and call.path == paths.MANAGER_PATH:
                # the same path, interface, member and signature route the same
                # way (bounded: only the manager's methods, as called)
                _MANAGER_ROUTES[(call.path, iface, member, call.sig)] = handler
            return handler(call, target, *call.body)
        raise unknown(member, call.sig, iface)

    def scope(self, conn) -> tuple:
        """(backend, root) of the caller: chroot sessions ask the hook, cached
        per private connection (its peer is one process); a bus caller
        changes per sender."""
        if self.sessions is None:
            return self.backend, None
        if conn.bus:
            return self.sessions.scope(conn.caller)
        if conn.scope is None:
            conn.scope = self.sessions.scope(conn.caller)
        if conn.global_view:                 # `initctl --global` (CT-27)
            return self.backend, None
        return conn.scope

    def _looks_only(self, call: Call) -> None:
        """`initctl --global` from inside a chroot session (CT-27): the global
        jobs are there to look at; a change is refused (docs/design/roadmap-apis.md)."""
        if not call.conn.global_view or call.conn.scope is None or call.conn.scope[1] is None:
            return
        if policy.open_to_all(call.iface, call.member):
            return
        raise ControlFailure(ControlError(
            api.ERR_PERMISSION, "You do not have permission to change the global jobs "
                                "from a chroot session (initctl --global only looks)"))

    def target(self, call: Call):
        """The object `call.path` names, or None; sets the backend and the
        session root that own it on the call (`tbackend`, `troot`)."""
        scoped = paths.parse_scoped(call.path)
        if scoped is None:
            return None
        root, target = scoped
        if target[0] == "manager" or root == call.root:
            backend, root = call.backend, call.root
        elif root is None:
            backend = self.backend
        else:
            backend = self.sessions.backend_of(root) if self.sessions is not None else None
            if backend is None:
                return None
        call.tbackend, call.troot = backend, root
        return target if _exists(backend, target) else None

    def introspect(self, call: Call, target) -> str:
        path = call.path
        if target is None:
            children = {"/": ["com"], "/com": ["ubuntu"], "/com/ubuntu": ["Upstart"]}.get(path, [])
            if path == paths.JOBS_PATH:
                if call.root is not None:      # a chroot caller: its session only
                    children = [paths.escape(call.root)]
                else:
                    children = [paths.escape(j) for j in self.backend.get_all_jobs()]
                    if self.sessions is not None:
                        children += [paths.escape(r) for r in self.sessions.roots()]
            elif path.startswith(paths.JOBS_PATH + "/") and self.sessions is not None:
                root = paths.unescape(path[len(paths.JOBS_PATH) + 1:])
                mine = call.root is None or root == call.root    # not another chroot's
                backend = self.sessions.backend_of(root) \
                    if mine and root and root[0] == "/" else None
                if backend is not None:        # a session's element: its jobs
                    children = [paths.escape(j) for j in backend.get_all_jobs()]
            return api.introspect_xml(path, (), children)
        kind = target[0]
        if kind == "manager":
            children = ["jobs"]
        elif kind == "job":
            children = [paths.escape(i) for i in call.tbackend.get_all_instances(target[1])]
        else:
            children = []
        return api.introspect_xml(path, INTERFACES[kind], children)


def _exists(backend, target) -> bool:
    try:
        if target[0] == "job":
            backend.get_job_by_name(target[1])
        elif target[0] == "instance":
            backend.get_instance_by_name(target[1], target[2])
    except ControlFailure:
        return False
    return True
