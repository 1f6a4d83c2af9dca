"""`initctl help` as a user types it (issue #26 item 6): 1.13's sections exactly
as the golden recording (scenario 086) holds them, then a section of their own
listing every command this project has beyond 1.13's, then 1.13's closing line.

The list of our commands is derived from initctl's command table (the one that
dispatches) minus the commands of the recording, so a command added later
without a help entry, or left out of the section, fails here."""

import json
import re
import subprocess
import sys
from pathlib import Path

from testdata import SCENARIOS as GOLDEN
from upstart.cli import initctl
from upstart.cli.initctl_help import OWN_GROUP

BIN = Path(sys.executable).parent
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def _initctl(*argv):
    p = subprocess.run([str(BIN / "initctl"), *argv], env=ENV, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def _recorded_help() -> str:
    steps = json.loads((GOLDEN / "086-version-and-help.json").read_text())["steps"]
    return next(s for s in steps if s.get("run") == ["initctl", "help"])["stdout"]


def test_help_keeps_113_sections_and_lists_our_commands_after_them():
    recorded = _recorded_help()
    sections, footer = recorded.rsplit("\n", 2)[0] + "\n", recorded.rsplit("\n", 2)[1] + "\n"
    assert footer == "For more information on a command, try `initctl COMMAND --help'.\n"
    theirs = re.findall(r"^  (\S+)", recorded, re.M)
    ours = [c for c in initctl.COMMANDS if c not in theirs]
    assert {"why", "timeline", "set-state", "clear-state", "list-states",
            "list-timers"} <= set(ours)

    rc, out, err = _initctl("help")
    assert (rc, err) == (0, "")
    assert out.startswith(sections), "1.13's sections are not byte-identical"
    assert out.endswith("\n" + footer)
    own = out[len(sections):-len(footer)]
    header = "%s commands:\n" % OWN_GROUP
    assert own.startswith(header) and own.endswith("\n\n")
    entries = own[len(header):-1].splitlines()
    assert [line.split()[0] for line in entries] == ours
    for line in entries:
        assert re.fullmatch(r"  \S+ +\S.*", line), line


def test_each_of_our_commands_has_its_help():
    recorded = _recorded_help()
    for command in (c for c in initctl.COMMANDS if "  %s " % c not in recorded):
        rc, out, err = _initctl(command, "--help")
        assert (rc, err) == (0, ""), command
        assert out.startswith("Usage: initctl %s [OPTION]..." % command)
        assert _initctl("help", command) == (0, out, "")
