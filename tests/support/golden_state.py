"""The serialised states recorded from the real Upstart 1.13.2 (golden/state/).

Read from the copy under tests/conformance/golden/ when there is one, else from
the shared corpus beside the checkout (`UPSTART_SHARED` overrides its place).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_LOCAL = REPO / "tests" / "conformance" / "golden" / "state"
_SHARED = Path(os.environ.get("UPSTART_SHARED", str(REPO.parent / "shared"))) / "golden" / "state"
STATE_DIR = _LOCAL if _LOCAL.is_dir() else _SHARED
NAMES = sorted(p.stem for p in STATE_DIR.glob("*.json"))
PID1 = {"05-pid1-runlevel"}           # recorded with init as PID 1


def confdir(name: str) -> Path:
    return STATE_DIR / f"{name}.conf.d"


def load(name: str, tdir: str) -> dict:
    """The document with `@DIR@` made `tdir` (its conf dir is `tdir/conf`)."""
    text = (STATE_DIR / f"{name}.json").read_text()
    return json.loads(text.replace("@DIR@", tdir))
