"""Coverage-guided fuzzing with atheris, bounded (issue #14).

Runs each target of `atheris_targets.py` in a subprocess for a bounded
number of runs (`ATHERIS_RUNS`, default 3000; at most 20 s each), the job-file
target seeded with the repository's own job files. A crash makes atheris exit
non-zero with the input and traceback on stderr, which the assertion shows.
Skipped when atheris is not installed (it needs a wheel for this Python).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("atheris")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUNS = int(os.environ.get("ATHERIS_RUNS", "3000"))


@pytest.mark.parametrize("target", ["jobfile", "wire", "initctl-args"])
def test_atheris_target(target, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if target == "jobfile":
        for path in sorted(glob.glob(os.path.join(REPO, "examples", "**", "*.conf"),
                                     recursive=True))[:40]:
            shutil.copy(path, corpus / f"{len(os.listdir(corpus))}.conf")
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "atheris_targets.py"), target, f"-runs={RUNS}",
         "-max_total_time=20", "-max_len=4096", str(corpus)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-4000:]
    assert f"Done {RUNS} runs" in out.stderr or "DONE" in out.stderr
