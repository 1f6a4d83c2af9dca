"""The daemon's shape (issue #24 item 3), read from the source with `ast`: one
`World` type for the global engine and the chroot sessions, and no
collaborator looked up with `getattr`. (No import cycle in `daemon/` and
`observe/` never importing `daemon/` are checked with the other layering
rules in tests/unit/test_architecture.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import upstart

DAEMON = Path(upstart.__file__).parent / "daemon"


def test_one_world_type_serves_the_global_engine_and_the_sessions():
    sessions = (DAEMON / "sessions.py").read_text()
    assert "class Session:" not in sessions and "World" in sessions
    daemon = (DAEMON / "daemon.py").read_text()
    assert "self.world = self.make_world(None," in daemon


def test_no_collaborator_is_found_with_getattr():
    """`getattr(self, …)`, `getattr(daemon, …)` or `getattr(x.y, …)`: a part
    probed for instead of passed in."""
    for path in DAEMON.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
                target = node.args[0]
                assert not (isinstance(target, ast.Name) and target.id in ("self", "daemon")), \
                    f"{path.name}:{node.lineno}: getattr on a collaborator"
                assert not isinstance(target, ast.Attribute), \
                    f"{path.name}:{node.lineno}: getattr on a collaborator"
