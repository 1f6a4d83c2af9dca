"""Benchmark: job files parsed per second over the shared corpus, on one core.

Reads every corpus file once (I/O is not measured), then parses all of them
repeatedly for about a second and prints one JSON line:
`{"bench": "parse", "files_per_s": N, "files": F}`. Files that fail to parse
count too (the invalid ones are part of the corpus on purpose).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from upstart.jobfile.model import ParseError  # noqa: E402
from upstart.jobfile.parser import parse_job  # noqa: E402


def corpus_texts(root: Path) -> list[str]:
    texts = []
    for sub in ("jobs", "invalid", "nonstandard"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                texts.append(p.read_bytes().decode("utf-8", "surrogateescape"))
    return texts


def main() -> int:
    shared = Path(os.environ.get("UPSTART_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
    texts = corpus_texts(shared / "corpus")
    if not texts:
        print(json.dumps({"bench": "parse", "error": "no corpus"}))
        return 1
    done = 0
    start = time.perf_counter()
    while True:
        for t in texts:
            try:
                parse_job(t, "bench")
            except ParseError:
                pass
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= 1.0:
            break
    print(json.dumps({"bench": "parse", "files_per_s": round(done / elapsed), "files": len(texts)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
