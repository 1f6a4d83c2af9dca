"""The control server's parts (issue #24): the method table covers the API, the
`Backend` protocol names every method the table calls, one permission policy."""

import ast
import inspect
from pathlib import Path

from upstart.control import api, backend, methods, policy
from upstart.control.backend import Caller
from upstart.core.effects import ControlFailure

CONTROL = Path(backend.__file__).parent


def test_every_api_method_has_a_row_and_no_row_is_extra():
    want = {(kind, m.name) for kind, iface in (("manager", api.MANAGER), ("job", api.JOB),
                                               ("instance", api.INSTANCE))
            for m in iface.methods}
    assert set(methods.METHODS) == want


def test_rows_take_the_api_arguments():
    for (kind, member), row in methods.METHODS.items():
        iface = {"manager": api.MANAGER, "job": api.JOB, "instance": api.INSTANCE}[kind]
        nargs = len(iface.method(member).args_in)
        assert len(inspect.signature(row).parameters) == 2 + nargs, (kind, member)


def test_backend_protocol_is_complete():
    """Every backend method the table calls is in the protocol: the server
    never probes a backend with getattr."""
    called = set()
    tree = ast.parse((CONTROL / "methods.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                and node.value.attr in ("backend", "tbackend"):
            called.add(node.attr)
    tree = ast.parse((CONTROL / "methods.py").read_text())
    for node in ast.walk(tree):        # _own(c, job).instance_start(...)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", "") == "_own":
            called.add(node.attr)
    protocol = {n for n, _ in inspect.getmembers(backend.Backend) if not n.startswith("_")}
    assert called and called <= protocol, called - protocol
    for name in ("server.py", "router.py", "methods.py", "properties.py"):
        text = (CONTROL / name).read_text()
        assert "getattr(" not in text, name


def test_daemon_backend_implements_the_whole_protocol():
    from upstart.daemon.backend import EngineBackend
    protocol = {n for n, _ in inspect.getmembers(backend.Backend) if not n.startswith("_")}
    missing = {n for n in protocol if not callable(getattr(EngineBackend, n, None))}
    assert not missing


def test_one_permission_rule_and_its_texts():
    root, user = Caller(uid=0), Caller(uid=1000)
    assert policy.permitted(root, user_mode=False, uid=0, pid=1)
    assert not policy.permitted(user, user_mode=False, uid=0, pid=1)
    assert policy.permitted(user, user_mode=True, uid=0, pid=1)      # a Session Init
    assert policy.permitted(user, user_mode=False, uid=1001, pid=5)  # not root, not PID 1
    assert not policy.permitted(user, user_mode=False, uid=1001, pid=1)
    try:
        policy.require(user, "EmitEvent", user_mode=False, uid=0)
    except ControlFailure as exc:
        assert exc.error.name == api.ERR_PERMISSION
        assert exc.error.message == "You do not have permission to emit an event"
    else:
        raise AssertionError("not refused")
    # the texts live in the policy only
    for path in (CONTROL.parent / "daemon").glob("*.py"):
        assert "You do not have permission to" not in path.read_text(), path
