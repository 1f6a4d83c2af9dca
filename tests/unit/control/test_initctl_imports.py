"""initctl's start path (issue #23): `version` and `status` import only the
client, the wire format and the formatter, nothing that drags in the
standard library's heavier modules. A real initctl process against a real
control server; the modules it loaded are read from `sys.modules` at exit.
No timing here: the wall times are figures of `make bench` (bench/cli.py)."""

import json
import os
import subprocess
import sys

import pytest

# modules the two commands never need (each costs a measurable share of a
# Python start: `re` via textwrap, collections via functools, enum via socket)
HEAVY = ("re", "textwrap", "functools", "collections", "enum", "socket", "json", "asyncio",
         "jeepney", "upstart.control.server", "upstart.core", "upstart.jobfile",
         "__future__")

PROBE = """
import atexit, sys
def report():
    names = sorted(sys.modules)          # before the json this report needs
    import json
    sys.stderr.write("\\nMODULES " + json.dumps(names) + "\\n")
atexit.register(report)
sys.argv = ["initctl"] + sys.argv[1:]
from upstart.cli.initctl import main
code = main()
sys.exit(code)
"""


def _loaded(server, *args):
    env = dict(os.environ, UPSTART_SESSION=server.address)
    r = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stderr.splitlines() if x.startswith("MODULES ")][-1]
    return r.stdout, set(json.loads(line[len("MODULES "):]))


@pytest.mark.parametrize("args,expect", [
    (("version",), "init (upstart 1.13.2)"),
    (("status", "svc"), "svc stop/waiting"),
])
def test_start_path_imports_only_the_client(server, args, expect):
    out, mods = _loaded(server, *args)
    assert out.startswith(expect)
    assert "upstart.control.client" in mods
    heavy = sorted(m for m in mods if m in HEAVY or m.split(".")[0] in ("asyncio", "jeepney"))
    assert heavy == [], heavy
