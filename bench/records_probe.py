"""What the record classes cost init's start (docs/design/records.md).

Each figure is taken in a fresh interpreter, best of N runs:

* `import`: `python -X importtime` of init's start imports (`ssl` kept out
  as init does; `upstart.daemon.options.parse_options` and
  `upstart.daemon.daemon.Daemon`): the cumulative times of the top-level
  imports that `python -c pass` does not have, summed; with the number of
  modules they add, and whether `dataclasses` or `inspect` is among them;
  the same for the engine and the job-file loader alone (no event loop:
  asyncio imports `inspect` itself);
* `make`: making every record class of `upstart.core.effects` and
  `upstart.jobfile.model` (what their first instantiation costs);
* `new`: creating one `StateChanged` effect (a frozen record of three
  fields), one `Trace` (five, defaults) and one `Event` (slots, identity),
  by `timeit` (the best of N processes).

    python bench/records_probe.py [--runs 5] [--tree DIR]

`--tree DIR` measures another checkout (e.g. a worktree of an older commit):
its `upstart` package is put first on the path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

START = ("import sys; sys.modules['ssl'] = None; "
         "from upstart.daemon.options import parse_options; "
         "from upstart.daemon.daemon import Daemon")
# the engine and the job-file loader alone: what init imports besides its loop
CORE = "import upstart.core.engine, upstart.jobfile.conf"

MAKE = r"""
import json, sys, time
sys.modules['ssl'] = None
from upstart.daemon.options import parse_options
from upstart.daemon.daemon import Daemon
import upstart.core.effects as effects, upstart.jobfile.model as model
try:
    from upstart.records import made, PENDING as mark
except ImportError:
    from upstart.lazydata import made, _PENDING as mark   # before records.py
classes = [c for m in (effects, model) for c in vars(m).values()
           if isinstance(c, type) and c.__module__ == m.__name__ and mark in c.__dict__]
t0 = time.perf_counter()
for c in classes:
    made(c)
dt = time.perf_counter() - t0
print(json.dumps({"classes": len(classes), "make_ms": dt * 1e3}))
"""

NEW = r"""
import json, timeit
from upstart.core.effects import StateChanged, Trace
from upstart.core.event import Event
out = {}
for name, stmt, glob in (
        ("StateChanged", "C('svc', '', 'running')", {"C": StateChanged}),
        ("Trace", "C('queued', 'startup', 0, ('A=1',), 7)", {"C": Trace}),
        ("Event", "C(7, 'startup', ['A=1'])", {"C": Event})):
    eval(stmt, glob)                             # made before it is timed
    t = timeit.Timer(stmt, globals=glob)
    n = t.autorange()[0]
    out[name] = min(t.repeat(5, n)) / n * 1e9
print(json.dumps(out))
"""


def _env(tree: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.path.abspath(tree) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cwd(env: dict[str, str]) -> str | None:
    """`python -c` puts its working directory first on the path: the tree's."""
    return env["PYTHONPATH"].split(os.pathsep)[0] if "PYTHONPATH" in env else None


def _importtime(code: str, env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """module -> (cumulative us, depth) from `-X importtime`."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=_cwd(env),
                       capture_output=True, text=True, check=True)
    out = {}
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cum, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        out[name.strip()] = (int(cum), depth)
    return out


def start_imports(env: dict[str, str], code: str = START) -> dict[str, object]:
    floor = _importtime("pass", env)
    got = _importtime(code, env)
    new = {m: v for m, v in got.items() if m not in floor}
    top = min(d for _, d in new.values())
    return {"import_ms": sum(c for c, d in new.values() if d == top) / 1e3,
            "modules": len(new), "dataclasses": "dataclasses" in new,
            "inspect": "inspect" in new}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tree", help="checkout whose upstart package is measured")
    args = ap.parse_args()
    env = _env(args.tree)
    runs = [start_imports(env) for _ in range(args.runs)]
    best = min(runs, key=lambda r: r["import_ms"])
    core = min((start_imports(env, CORE) for _ in range(args.runs)),
               key=lambda r: r["import_ms"])
    makes = [json.loads(subprocess.run([sys.executable, "-c", MAKE], env=env, cwd=_cwd(env),
                                       check=True,
                                       capture_output=True, text=True).stdout)
             for _ in range(args.runs)]
    news = [json.loads(subprocess.run([sys.executable, "-c", NEW], env=env, cwd=_cwd(env),
                                      check=True, capture_output=True, text=True).stdout)
            for _ in range(args.runs)]
    new = {k: min(n[k] for n in news) for k in news[0]}
    print(f"import of init's start: {best['import_ms']:.1f} ms, {best['modules']} modules"
          f" (dataclasses: {best['dataclasses']}, inspect: {best['inspect']})")
    print(f"import of the engine and job-file loader: {core['import_ms']:.1f} ms,"
          f" {core['modules']} modules (dataclasses: {core['dataclasses']},"
          f" inspect: {core['inspect']})")
    m = min(makes, key=lambda r: r["make_ms"])
    print(f"make {m['classes']} record classes of effects and jobfile.model: "
          f"{m['make_ms']:.2f} ms")
    print("new instance: " + ", ".join(f"{k} {v:.0f} ns" for k, v in new.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
