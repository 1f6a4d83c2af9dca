"""The manual pages: they render cleanly, stay in step with their sources, and cover
every stanza the parser knows and every command initctl knows."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from upstart.cli import initctl
from upstart.jobfile import model, parser

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(REPO, "man")
# man/build.py, loaded under its own name (a `build` package may exist too)
_spec = importlib.util.spec_from_file_location("upstart_man_build", os.path.join(MAN, "build.py"))
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

PAGES = sorted(os.path.join(MAN, f"man{sec}", f"{name}.{sec}")
               for _, name, sec in build.sources())

# The pages the project promises (issue #15).
REQUIRED = [
    "init.5", "init.8", "initctl.8", "start.8", "stop.8", "restart.8", "reload.8",
    "status.8", "telinit.8", "runlevel.8", "shutdown.8", "reboot.8", "halt.8",
    "poweroff.8", "init-checkconf.8", "initctl2dot.8", "upstart-monitor.8",
    "upstart-udev-bridge.8", "upstart-file-bridge.8", "upstart-socket-bridge.8",
    "upstart-dbus-bridge.8", "upstart-event-bridge.8", "upstart-time-bridge.8",
    "upstart-local-bridge.8", "upstart-dconf-bridge.8",
    "starting.7", "started.7", "stopping.7", "stopped.7", "startup.7", "ready.7",
    "died.7", "upstart-events.7",
]

# Pages of other packages that ours may refer to.
EXTERNAL = {"dot(1)", "dmesg(1)", "cron(8)", "udev(7)", "inotify(7)", "socket(7)",
            "utmp(5)", "setrlimit(2)", "crontab(5)", "sd_notify(3)",
            "sd_listen_fds(3)", "pam_exec(8)"}

# Console scripts that deliberately have no page of their own.
NO_PAGE = {
    "upstart": "another name of init, covered by init(8)",
    "upstart-rc": "internal helper of the stock rc job",
    "upstart-mountall": "internal helper of the Debian mountall job (docs/boot.md)",
}


def _page(name: str) -> str:
    sec = name.rsplit(".", 1)[1]
    return os.path.join(MAN, f"man{sec}", name)


def _roff(name: str) -> str:
    with open(_page(name), encoding="utf-8") as f:
        return f.read()


def _plain(text: str) -> str:
    """Roff inline markup removed: fonts, escaped hyphens and backslashes."""
    text = re.sub(r"\\f[BIRP]|\\f\(\w\w|\\f\[\w*\]", "", text)
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'")
    text = text.replace("\\(ga", "`").replace("\\&", "").replace("\\ ", " ")
    return text


def _terms(name: str) -> list[str]:
    """The term lines of a page's definition lists (the line after each `.TP`)."""
    lines = _roff(name).splitlines()
    terms = [_plain(lines[i + 1]) for i, line in enumerate(lines[:-1]) if line == ".TP"]
    return [re.sub(r"^\.[BI] ", "", t) for t in terms]


def _term_heads(name: str) -> set[str]:
    """What each term (or each comma-separated part of one) starts with, as the first
    one and the first two words: `start on CONDITION` gives `start` and `start on`."""
    heads = set()
    for term in _terms(name):
        for part in term.split(", "):
            words = part.split()
            if words:
                heads.add(words[0])
                heads.add(" ".join(words[:2]))
    return heads


@pytest.mark.parametrize("name", REQUIRED)
def test_required_page_exists(name):
    assert os.path.isfile(_page(name)), f"{name} missing: run `python man/build.py`"
    assert os.path.isfile(os.path.join(MAN, "src", name + ".rst"))


def test_every_source_is_built():
    assert len(PAGES) >= len(REQUIRED)
    for page in PAGES:
        assert os.path.isfile(page), f"{page} missing: run `python man/build.py`"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_groff_renders_without_warnings(page):
    res = subprocess.run(["groff", "-t", "-man", "-Tutf8", "-ww", "-z", page],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0
    assert res.stderr == ""


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_man_renders_without_warnings(page):
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    res = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                         env=env, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    name = os.path.basename(page).rsplit(".", 1)[0]
    out = re.sub(".\b", "", res.stdout)         # undo overstriking (bold, underline)
    assert re.search(r"^NAME$", out, re.M), out[:400]
    assert re.search(rf"^ +{re.escape(name)} +- +\S", out, re.M), out[:400]


@pytest.mark.skipif(importlib.util.find_spec("docutils") is None,
                    reason="docutils (the `docs` extra) is not installed")
def test_committed_pages_match_sources(tmp_path):
    """The roff under man/ is what man/build.py makes of man/src/ today."""
    import docutils
    if docutils.__version__ != build.DOCUTILS_VERSION:
        pytest.skip(f"pages are built with docutils {build.DOCUTILS_VERSION}, "
                    f"not {docutils.__version__}")
    assert build.build(check=True) == [], "stale pages: run `python man/build.py`"


def test_every_parser_stanza_is_documented_in_init5():
    heads = _term_heads("init.5")
    missing = [kw for kw in parser.STANZAS if kw not in heads]
    assert missing == [], f"stanzas without an entry in init(5): {missing}"


def test_every_roadmap_stanza_form_is_documented_in_init5():
    heads = _term_heads("init.5")
    forms = ["while", "ready on", "ready timeout", "respawn delay", "respawn limit",
             "kill timeout", "kill signal", "reload signal", "normal exit", "oom score",
             "apparmor load", "apparmor switch", "start on", "stop on"]
    forms += [f"{kw} exec" for kw in parser.PROCESS_KEYWORDS]
    forms += [f"{kw} script" for kw in parser.PROCESS_KEYWORDS]
    assert [f for f in forms if f not in heads] == []
    assert set(parser.ROADMAP_STANZAS) <= heads


def test_init5_lists_every_value_of_enumerated_stanzas():
    text = " ".join(_terms("init.5"))
    for mode in parser.EXPECT_MODES:
        assert re.search(rf"expect .*\b{mode}\b", text), mode
    for mode in parser.CONSOLE_MODES:
        assert re.search(rf"console .*\b{mode}\b", text), mode
    body = _plain(_roff("init.5"))
    for res in model.LIMIT_RESOURCES:
        assert re.search(rf"\b{res}\b", body), res


def test_init5_marks_unimplemented_roadmap_behaviour():
    """Nothing of the roadmap stanzas is left (planned): states opened and closed
    by events (`state`), back-off, readiness sources and cgroups without a manager
    are built."""
    body = _plain(_roff("init.5"))
    roadmap = body.split("ROADMAP CONDITIONS", 1)[1].split(".SH", 1)[0]
    assert "Unknown stanza" in roadmap         # 1.13 rejects them: said so
    state = roadmap.split("state", 1)[1]
    assert "until" in state and "set-state" in state
    assert body.count("(planned)") == 0
    delay = body.split("respawn delay", 1)[1].split(".TP", 1)[0]
    assert "respawn" in delay and "in" in delay   # the status line of the pause
    for term in ("notify", "notify-fd", "FPATH=", "PROTO=unix", "NAME="):
        assert term in roadmap, term
    cgroups = body.split("CONTROL GROUPS", 1)[1].split(".SH", 1)[0]
    assert "memory max" in cgroups and "cpu weight" in cgroups


def test_every_initctl_command_is_documented_in_initctl8():
    heads = _term_heads("initctl.8")
    missing = [cmd for cmd in initctl.COMMANDS if cmd not in heads]
    assert missing == [], f"commands without an entry in initctl(8): {missing}"


def test_every_initctl_option_is_documented_in_initctl8():
    text = _plain(_roff("initctl.8"))
    options = list(initctl.GLOBAL_OPTS.values())
    for opts in initctl.COMMAND_OPTS.values():
        options += opts.values()
    for short, long, _ in options:
        if long == "debug":          # hidden, as upstream
            continue
        assert f"--{long}" in text, long
        if short:
            assert f"-{short}" in text, short


def test_every_shorthand_has_a_page():
    for prog in ("start", "stop", "restart", "reload", "status"):
        assert prog in initctl.COMMANDS
        text = _plain(_roff(f"{prog}.8"))
        assert f"initctl {prog}" in text


def test_every_installed_program_has_a_page():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    have = {os.path.basename(p).rsplit(".", 1)[0] for p in PAGES if p.endswith(".8")}
    missing = sorted(s for s in scripts if s not in have and s not in NO_PAGE)
    assert missing == []


def test_cross_references_resolve():
    ours = {f"{name}({sec})" for _, name, sec in build.sources()}
    for page in PAGES:
        with open(page, encoding="utf-8") as f:
            text = _plain(f.read())
        refs = set(re.findall(r"([a-z][\w.-]*)\((\d)\)", text))
        for name, sec in refs:
            ref = f"{name}({sec})"
            assert ref in ours or ref in EXTERNAL, f"{os.path.basename(page)} cites {ref}"


def test_upstart_events_lists_every_event_the_daemon_emits():
    text = _plain(_roff("upstart-events.7"))
    for event in ("startup", "starting", "started", "stopping", "stopped", "ready", "died",
                  "/failed", "control-alt-delete", "keyboard-request",
                  "power-status-changed", "session-end", "child-subreaper-failed",
                  "runlevel", "-device-added", "file", "socket", "dbus", ":sys:",
                  ":sys:restarted", "time", "dbus-activation"):
        assert event in text, event


# Programs whose --help lists their options, and the page that must document them.
HELP_PAGES = {
    "init": "init.8", "init-checkconf": "init-checkconf.8", "initctl2dot": "initctl2dot.8",
    "upstart-monitor": "upstart-monitor.8", "upstart-time-bridge": "upstart-time-bridge.8",
    "upstart-udev-bridge": "upstart-udev-bridge.8",
    "upstart-file-bridge": "upstart-file-bridge.8",
    "upstart-socket-bridge": "upstart-socket-bridge.8",
    "upstart-dbus-bridge": "upstart-dbus-bridge.8",
    "upstart-event-bridge": "upstart-event-bridge.8", "telinit": "telinit.8",
    "upstart-local-bridge": "upstart-local-bridge.8",
    "upstart-dconf-bridge": "upstart-dconf-bridge.8",
    "upstart-install-root": "upstart-install-root.8",
    "upstart-user-session": "upstart-user-session.8",
}


@pytest.mark.parametrize("prog", sorted(HELP_PAGES))
def test_every_option_in_help_is_documented(prog):
    exe = os.path.join(os.path.dirname(sys.executable), prog)
    if not os.path.exists(exe):
        pytest.skip(f"{prog} is not installed")
    res = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, UPSTART_SESSION=""))
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", res.stdout))
    assert options, res.stdout + res.stderr
    page = _plain(_roff(HELP_PAGES[prog]))
    missing = sorted(o for o in options if o not in page)
    assert missing == [], f"{prog} options not in {HELP_PAGES[prog]}: {missing}"
