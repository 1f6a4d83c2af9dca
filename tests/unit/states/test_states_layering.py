"""The layering rules of issue #24 for the states package, checked with `ast`:
`upstart/core/` and `upstart/states/` import none of os, time, socket,
asyncio, subprocess, select, ctypes; `upstart/states/` imports nothing of
`upstart` but `jobfile/` and itself; `upstart/timebridge/` imports nothing of
`core/` or `daemon/` (it shares matching through `jobfile/match.py`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import upstart

ROOT = Path(upstart.__file__).parent
FORBIDDEN = {"os", "time", "socket", "asyncio", "subprocess", "select", "ctypes"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("folder", ["core", "states"])
def test_pure_folders_import_no_io(folder):
    for path in _modules(folder):
        bad = {m for m in _imports(path) if m.split(".")[0] in FORBIDDEN}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_states_imports_only_jobfile_and_itself():
    assert _modules("states"), "upstart/states/ is missing"
    for path in _modules("states"):
        ours = {m for m in _imports(path) if m.startswith("upstart.")}
        bad = {m for m in ours if not m.startswith(("upstart.jobfile", "upstart.states"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_timebridge_imports_nothing_of_core_or_daemon():
    for path in _modules("timebridge"):
        bad = {m for m in _imports(path) if m.startswith(("upstart.core", "upstart.daemon"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_one_name_per_idea():
    """The job state machine and the states are not one letter apart."""
    assert not (ROOT / "core" / "state.py").exists()
    assert not (ROOT / "core" / "states.py").exists()
    assert (ROOT / "core" / "machine.py").exists()
