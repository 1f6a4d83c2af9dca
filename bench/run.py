"""`make bench`: run every benchmark in bench/ and write docs/benchmarks.md.

Each bench script prints JSON lines (`{"bench": NAME, ...}`); this driver runs
them one after another on the same machine, keeps the raw lines in
`bench/results.json`, and renders a table. Timings live here and only here:
no test passes or fails on a figure.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = ["parse.py", "engine.py", "control.py", "spawn.py", "boot.py", "ready.py"]


def run_one(script: str) -> list[dict]:
    path = os.path.join(HERE, script)
    if not os.path.exists(path):
        return []
    proc = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=900)
    rows = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            row["script"] = script
            rows.append(row)
    if proc.returncode != 0:
        rows.append({"bench": script, "error": proc.stderr.strip()[-500:], "script": script})
    return rows


def _figure(row: dict) -> str:
    for key in ("value", "files_per_s", "spawns_per_s", "median_ms", "seconds", "ms"):
        if key in row:
            return f"{row[key]}"
    return ""


def render(rows: list[dict]) -> str:
    out = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.date.today()} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}).",
        "Figures are medians or rates from one run; these machines are noisy, so compare",
        "ratios measured in the same run rather than absolute numbers across runs.",
        "",
        "| script | benchmark | figure | target | details |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        details = {k: v for k, v in row.items()
                   if k not in ("bench", "script", "target", "value", "files_per_s",
                                "spawns_per_s", "median_ms", "error")}
        target = row.get("target", row.get("target_ms", ""))
        if "error" in row:
            out.append(f"| {row['script']} | {row['bench']} | error | | "
                       f"{row['error'][:120]} |")
            continue
        out.append(f"| {row['script']} | {row['bench']} | {_figure(row)} | {target} | "
                   f"{json.dumps(details) if details else ''} |")
    out.append("")
    return "\n".join(out)


def main() -> int:
    rows: list[dict] = []
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        got = run_one(script)
        for row in got:
            print(json.dumps(row), flush=True)
        rows += got
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(REPO, "docs", "benchmarks.md"), "w") as f:
        f.write(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
