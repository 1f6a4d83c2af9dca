"""Idempotent bench setup: what `make bench` needs besides our own package.

* runit and s6 from Debian (apt-get, only when `runsvdir`/`s6-svscan` are
  missing; `apt-get update` first if the install fails);
* matplotlib (the chart) and supervisor (supervisord, the reference Python
  supervisor) from PyPI into the running interpreter's environment;
* the C spawn floor `bench/spawnfloor.c` compiled with the system compiler
  (`cc`/`gcc`) into `bench/build/spawnfloor`, rebuilt when the source is newer.

Prints what it did; returns non-zero only if something could not be set up
(the driver then still runs the benchmarks that do not need it).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build")
FLOOR_SRC = os.path.join(HERE, "spawnfloor.c")
FLOOR = os.path.join(BUILD, "spawnfloor")
APT = {"runit": "runsvdir", "s6": "s6-svscan"}
PIP = {"matplotlib": "matplotlib", "supervisor": "supervisor"}


def _apt(packages: list[str]) -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    if subprocess.run(cmd, env=env, capture_output=True).returncode == 0:
        return True
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
    return subprocess.run(cmd, env=env, capture_output=True).returncode == 0


def setup() -> list[str]:
    problems = []
    missing = [pkg for pkg, exe in APT.items() if not shutil.which(exe)]
    if missing:
        print("setup: apt-get install " + " ".join(missing), flush=True)
        if not _apt(missing):
            problems.append("apt-get install %s failed" % " ".join(missing))
    need = [pkg for mod, pkg in PIP.items() if importlib.util.find_spec(mod) is None]
    if need:
        print("setup: pip install " + " ".join(need), flush=True)
        if subprocess.run([sys.executable, "-m", "pip", "install", "-q", *need]).returncode:
            problems.append("pip install %s failed" % " ".join(need))
    if (not os.path.exists(FLOOR)
            or os.path.getmtime(FLOOR) < os.path.getmtime(FLOOR_SRC)):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            if _apt(["gcc", "libc6-dev"]):
                cc = shutil.which("gcc")
        if cc:
            os.makedirs(BUILD, exist_ok=True)
            print(f"setup: {cc} -O2 spawnfloor.c", flush=True)
            if subprocess.run([cc, "-O2", "-o", FLOOR, FLOOR_SRC]).returncode:
                problems.append("compiling spawnfloor.c failed")
        else:
            problems.append("no C compiler")
    return problems


def main() -> int:
    problems = setup()
    for p in problems:
        print("setup: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
