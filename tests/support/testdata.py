"""Where the tests find their data: the repository's own, and the third-party one.

* The golden transcripts recorded from real Upstart 1.13.2 are this project's
  test data and live in the repository (`tests/conformance/golden/`), so a
  fresh clone runs the conformance suite.
* The third-party job corpus stays outside: `$UPSTART_SHARED/corpus`, by
  default `../shared` beside the clone. `needs_shared()` skips the module that
  needs it with one loud line; with `UPSTART_REQUIRE_SHARED=1` (set by
  `.ci/run`) its absence is a failure instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "conformance" / "golden"
SCENARIOS = GOLDEN / "scenarios"


def shared_dir() -> Path:
    """The third-party data's folder: `$UPSTART_SHARED`, else `../shared`."""
    return Path(os.environ.get("UPSTART_SHARED") or REPO.parent / "shared")


def needs_shared(sub: str) -> Path:
    """`shared_dir()/sub`, or (at module level) skip the whole module saying so
    loudly, once; a failure when `UPSTART_REQUIRE_SHARED=1`."""
    path = shared_dir() / sub
    if path.exists():
        return path
    caller = Path(sys._getframe(1).f_code.co_filename).resolve().relative_to(REPO)
    why = (f"THIRD-PARTY DATA MISSING: {path} not found (set UPSTART_SHARED); "
           f"{caller} did not run")
    if os.environ.get("UPSTART_REQUIRE_SHARED") == "1":
        pytest.fail(why + " and UPSTART_REQUIRE_SHARED=1", pytrace=False)
    pytest.skip(why, allow_module_level=True)
