"""The control server: init's D-Bus endpoint, put together.

A peer-to-peer D-Bus server on a unix socket (`unix:abstract=/com/ubuntu/upstart`
for PID 1, `.../upstart-session/UID/PID` for a Session Init, `unix:path=`
for tests), and optionally a client of a message bus serving the same
objects. Its parts, one concept each:

* `transport` — the listening socket, connections, SASL, framing, bounds;
* `busclient` — the connection to the system or session bus;
* `codec` — jeepney's messages with fast paths from `wire`;
* `policy` — who may do what (the gate applied here before anything is
  looked up; the backends apply upstream's per-method checks from it);
* `router` — object paths, introspection, the order of dispatch;
* `properties` — Get/GetAll/Set;
* `methods` — the table from D-Bus method to `Backend` call.

This module joins them: it dispatches each call (gate, scope, route), runs
asynchronous backend methods as tasks so other clients are served meanwhile,
maps errors to D-Bus errors (ControlFailure → its name and text; anything
else is a bug: `Failed`, logged, never fatal) and broadcasts the signals of
the engine's effects to every connection.
"""

from __future__ import annotations

from types import CoroutineType

from jeepney.low_level import HeaderFields, Message, MessageFlag, MessageType
from jeepney.wrappers import DBusAddress, new_error, new_method_return, new_signal

from upstart.control import api, policy
from upstart.control.backend import NoSuchMethod
from upstart.control.busclient import BusClient
from upstart.control.methods import NO_REPLY, _unit, isawaitable
from upstart.control.codec import (
    U32, empty_reply, fast_emit_call, fast_parse_call, fast_reply_parts, fast_signal_parts,
)
from upstart.control.router import Call, Router, unknown
from upstart.control.signals import Restarted, signal_for
from upstart.control.transport import (  # noqa: F401  (limits: re-exported for tests)
    LIMITS_EXCEEDED, MAX_CALLS_IN_FLIGHT, MAX_CONNECTIONS, MAX_MESSAGE, Connection, Transport,
    close_fd,
)
from upstart.core import effects as fx
from upstart.core.effects import ControlFailure
from upstart.reactor.futures import sleep

# effects whose fields are all strings (or tuples of them): equal effects give
# equal bytes, so a signal's bytes can be looked up by its effect (JobFailed,
# with an int that equals a float or a bool, is not among them)
_BYTES_CACHEABLE = frozenset({fx.JobAdded, fx.JobRemoved, fx.EventEmitted, fx.InstanceAdded,
                              fx.InstanceRemoved, fx.GoalChanged, fx.StateChanged, Restarted})
_BYTES_CACHE_MAX = 4096
_NO_REPLY = int(MessageFlag.no_reply_expected)


def _call(conn: Connection, msg: Message, fds: list[int]) -> Call:
    """The `Call` of the method call `msg` from `conn`."""
    fields = msg.header.fields
    return Call(conn, msg, fields.get(HeaderFields.path, "/"), fields.get(HeaderFields.interface),
                fields.get(HeaderFields.member, ""), fields.get(HeaderFields.signature, ""),
                msg.body, fds)


class ControlServer(BusClient, Transport):
    """The D-Bus server of init. See the module docstring."""

    def __init__(self, backend, address: str, *, loop=None,
                 user_mode: bool = False, allowed_uids=None, log=None):
        super().__init__(address, loop=loop, allowed_uids=allowed_uids, log=log)
        self.backend = backend
        self.user_mode = user_mode
        self.router = Router(backend)
        self._tasks: set = set()   # the tasks of calls being answered
        self._signal_heads: dict = {}       # perf: fast_signal_parts' header cache
        self._signal_bytes: dict = {}       # perf: effect -> its signal's bytes (no serial)
        # observe: method calls answered by `_fast_call` / by `_dispatch` (two
        # counts, one increment a call; `statistics`, docs/design/dbus.md)
        self.calls_fast = 0
        self.calls_full = 0

    @property
    def sessions(self):
        """Chroot sessions (docs/design/sessions.md): None (every caller is
        global), or an object with `scope(caller) -> (backend, root or None)`,
        `backend_of(root) -> backend or None` and `roots() -> list of roots`."""
        return self.router.sessions

    @sessions.setter
    def sessions(self, value) -> None:
        self.router.sessions = value

    def close(self) -> None:
        """Stop listening, drop every connection, cancel pending calls."""
        super().close()
        for task in list(self._tasks):
            task.cancel()

    def statistics(self) -> dict[str, int]:
        """The connections open and the method calls answered since start
        (a re-exec starts again at 0), by the path that answered them: the
        dedicated one (`_fast_call`) or the full one (`_dispatch`). Read by
        the `stats` query of `Observe` (docs/design/observability.md)."""
        return {"connections": len(self._conns), "calls_fast": self.calls_fast,
                "calls_full": self.calls_full}

    def permitted(self, caller) -> bool:
        """May `caller` change init (`upstart.control.policy`)?"""
        return policy.permitted(caller, user_mode=self.user_mode, uid=self.uid)

    async def drain_for_exec(self, timeout: float = 2.0) -> None:
        """Before a re-exec: stop accepting and reading (new clients wait in
        the backlog, requests in their sockets), then wait at most `timeout`
        until every call being answered is answered and its reply sent; the
        connections still busy then close with the exec (`export_for_exec`)."""
        self.pause_for_exec()
        deadline = self.loop.time() + timeout
        while not self.exec_ready() and self.loop.time() < deadline:
            await sleep(self.loop, 0.002)

    def _spawn(self, coro) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ signals

    def broadcast(self, effect, root: str | None = None) -> None:
        """Send the D-Bus signal matching `effect` on every connection; `root`:
        the chroot session whose engine produced it (None: the global one)."""
        if not self._conns:                # perf: nobody to tell, nothing to encode
            return
        key = effect if root is None else (root, effect)
        try:                               # perf: the same effect, the same bytes
            parts = self._signal_bytes.get(key)
        except TypeError:                  # unhashable: not from the engine
            parts = None
        if parts is None:
            spec = signal_for(effect, root)
            if spec is None:
                return
            path, iface, member, sig, body = spec
            try:
                parts = fast_signal_parts(self._signal_heads, path, iface, member, sig, body)
            except Exception:
                parts = None
            if parts is None:              # jeepney's path: same bytes, same errors
                msg = new_signal(DBusAddress(path, interface=iface), member, sig or None, body)
                for conn in list(self._conns.values()):
                    if conn.sasl.done and not conn.closed:
                        self._send(conn, msg)
                return
            if type(effect) in _BYTES_CACHEABLE:
                if len(self._signal_bytes) >= _BYTES_CACHE_MAX:
                    self._signal_bytes.clear()
                try:
                    self._signal_bytes[key] = parts
                except TypeError:          # unhashable: not cached
                    pass
        head, rest = parts
        for conn in list(self._conns.values()):
            if conn.sasl.done and not conn.closed:
                self._write(conn, head + U32(conn.next_serial()) + rest)

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, conn: Connection, msg: Message, fds: list[int]) -> None:
        header = msg.header
        if header.message_type != MessageType.method_call:
            for fd in fds:
                close_fd(fd)
            if conn.bus and header.message_type in (MessageType.method_return,
                                                    MessageType.error):
                self._resolve(conn, msg)
            return
        if conn.bus:
            sender = header.fields.get(HeaderFields.sender)
            if sender not in conn.callers:
                self._spawn(self._dispatch_from_bus(conn, msg, fds, sender))
                return
            conn.caller = conn.callers[sender]
        self.calls_full += 1
        # perf: int() of the IntFlag, not the enum's own `&` (a Python call)
        want_reply = not (int(header.flags) & _NO_REPLY)
        call = _call(conn, msg, fds)
        try:
            policy.access(conn.caller, call.iface, call.member, user_mode=self.user_mode,
                          uid=self.uid)
            call.backend, call.root = self.router.scope(conn)
            result = self.router.handle(call)
        except Exception as exc:
            call.close_fds()
            self._answer(call, want_reply, error=exc)
            return
        self._handled(call, want_reply, result)

    def _fast_call(self, conn: Connection, raw: bytes) -> bool:
        """perf (issue #23 item 5): the manager's `EmitEvent` with wait=false
        from a private connection, read from its bytes (`fast_emit_call`) and
        answered without a `Message`, a `Call` or the router: the same checks
        (the gate, the caller's scope, the backend's own), the same calls to
        the backend (the observer told who emits), the same bytes out. What
        the gate refuses, a chroot caller and `initctl --global` take the
        full path; so do a refusal and a late answer, after the fact."""
        if conn.bus or conn.global_view:
            return False
        got = fast_emit_call(raw)
        if got is None:
            return False
        caller = conn.caller
        if not policy.permitted(caller, user_mode=self.user_mode, uid=self.uid):
            return False                    # the gate's refusal, worded by the full path
        backend = self.backend
        if self.router.sessions is not None:
            backend, root = self.router.scope(conn)
            if root is not None:
                return False
        flags, serial, name, env = got
        self.calls_fast += 1
        try:
            result = backend.emit_event(caller, name, env, False)
        except Exception as exc:
            self._answer(self._call_of(conn, raw, backend), not flags & _NO_REPLY, error=exc)
            return True
        if result is not None:              # not answered in its input (never so today)
            self._handled(self._call_of(conn, raw, backend), not flags & _NO_REPLY,
                          _unit(result))
            return True
        if not flags & _NO_REPLY and not conn.closed:
            self._write(conn, empty_reply(conn.next_serial(), serial))
        return True

    @staticmethod
    def _call_of(conn: Connection, raw: bytes, backend) -> Call:
        """The `Call` the full path would have made of `raw` (a rare answer)."""
        call = _call(conn, fast_parse_call(raw) or Message.from_buffer(raw), [])
        call.backend = call.tbackend = backend
        return call

    def _handled(self, call, want_reply, result) -> None:
        """Answer `call` with `result`: a reply, or an awaitable of one."""
        conn = call.conn
        if type(result) is not tuple and isawaitable(result):   # perf: a reply first
            if conn.in_flight >= MAX_CALLS_IN_FLIGHT:     # hardening: bounded
                if isinstance(result, CoroutineType):
                    result.close()                      # never started: nothing done
                call.close_fds()
                self._answer(call, want_reply, error=ControlFailure(fx.ControlError(
                    LIMITS_EXCEEDED, "Too many calls in progress on this connection "
                                     "(limit %d)" % MAX_CALLS_IN_FLIGHT)))
                return
            conn.in_flight += 1
            self._spawn(self._finish(call, want_reply, result))
        else:
            call.close_fds()
            self._answer(call, want_reply, result=result)

    async def _finish(self, call, want_reply, awaitable) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            call.close_fds()
            self._answer(call, want_reply, error=exc)
            self._call_done(call.conn)
            return
        except BaseException:      # cancelled (on either loop: CancelledError is a BaseException)
            call.conn.in_flight -= 1
            raise
        call.close_fds()
        self._answer(call, want_reply, result=result)
        self._call_done(call.conn)

    def _answer(self, call, want_reply, result=None, error=None) -> None:
        if not want_reply or call.conn.closed or result is NO_REPLY:
            return
        if error is not None:
            if isinstance(error, NoSuchMethod):     # the backend lacks it: as libdbus
                error = unknown(call.member, call.sig, call.iface)
            if isinstance(error, ControlFailure):
                name, text = error.error.name, error.error.message
            else:
                self._log("error", "Control request %s failed: %r" % (call.member, error))
                name, text = api.ERR_FAILED, str(error) or type(error).__name__
            reply = new_error(call.msg, name, "s", (text,))
        else:
            sig, body = result if result is not None else ("", ())
            try:
                head, rest = fast_reply_parts(call.msg, sig, body)
            except Exception:
                head = None
            if head is not None:           # perf: jeepney's bytes without jeepney
                self._write(call.conn, head + U32(call.conn.next_serial()) + rest)
                return
            reply = new_method_return(call.msg, sig or None, body)
        self._send(call.conn, reply)
