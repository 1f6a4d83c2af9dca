"""The daemon's layering (issue #24 item 3), read from the source with `ast`:
no import cycle among the modules of `upstart/daemon/` (counting every import,
at module level, under TYPE_CHECKING or inside a function), and
`upstart/observe/` imports nothing of `upstart/daemon/` (observers get what
they need as parameters)."""

from __future__ import annotations

import ast
from pathlib import Path

import upstart

PKG = Path(upstart.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every `upstart.…` module a file imports, wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("upstart"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.startswith("upstart"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _module(path: Path) -> str:
    return ".".join(("upstart",) + path.relative_to(PKG).with_suffix("").parts)


def test_observe_never_imports_the_daemon():
    offenders = {_module(p): sorted(m for m in _imports(p) if m.startswith("upstart.daemon"))
                 for p in (PKG / "observe").glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycle_inside_the_daemon():
    files = {_module(p): p for p in (PKG / "daemon").glob("*.py")}
    graph = {name: {m for m in _imports(p) if m in files and m != name}
             for name, p in files.items()}
    seen: dict[str, int] = {}          # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> None:
        seen[name] = 1
        for dep in sorted(graph[name]):
            if seen.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [name, dep]))
            if dep not in seen:
                visit(dep, path + [name])
        seen[name] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name, [])


def test_one_world_type_serves_the_global_engine_and_the_sessions():
    """The daemon and the sessions registry both build `World`s (no second
    session type), and nothing in the daemon looks its collaborators up with
    `getattr(self…)`/`getattr(daemon…)`."""
    sessions = (PKG / "daemon" / "sessions.py").read_text()
    assert "class Session:" not in sessions and "World" in sessions
    for path in (PKG / "daemon").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
                target = node.args[0]
                assert not (isinstance(target, ast.Name) and target.id in ("self", "daemon")), \
                    f"{path.name}:{node.lineno}: getattr on a collaborator"
                assert not isinstance(target, ast.Attribute), \
                    f"{path.name}:{node.lineno}: getattr on a collaborator"
