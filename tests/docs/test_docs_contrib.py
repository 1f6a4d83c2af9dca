"""contrib/: bash completion for initctl, the vim syntax file and the Pygments lexer.
Each knows every stanza and command of the code, and does its job on real input."""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

from upstart.cli import initctl
from upstart.jobfile import parser

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(REPO, "contrib")
COMPLETION = os.path.join(CONTRIB, "bash-completion", "initctl")
VIM = os.path.join(CONTRIB, "vim")
LEXER = os.path.join(CONTRIB, "pygments", "upstart_lexer.py")
EXAMPLES = sorted(glob.glob(os.path.join(REPO, "jobs", "examples", "*.conf")))
STOCK = sorted(glob.glob(os.path.join(REPO, "jobs", "*.conf"))
               + glob.glob(os.path.join(REPO, "jobs", "session", "*.conf")))

from init_harness import SessionInit  # noqa: E402

# One line per stanza form, so a highlighter can be checked on all of them.
ALL_STANZAS = """\
description "d"
author "a"
version "1"
usage "u"
instance $N
env A=1
export A
emits ev
start on (a and b) or c X=1
stop on runlevel [!2345]
while bar and baz
state online IFACE on net-device-up IFACE!=lo
state online until net-device-down IFACE=$IFACE
ready on file FILE=/x
ready timeout 5
manual
exec /bin/true
script
    echo hi
end script
pre-start exec /bin/true
post-start script
    if true; then :; fi
end script
pre-stop exec /bin/true
post-stop exec /bin/true
expect fork
task
kill timeout 5
kill signal TERM
reload signal HUP
respawn
respawn limit 10 5
respawn delay 1 60 2
normal exit 0 TERM
console log
umask 022
nice 5
oom score never
limit nofile 1024 4096
chroot /srv
chdir /
setuid nobody
setgid nogroup
debug
apparmor load /etc/apparmor.d/x
cgroup memory limit_in_bytes 1000
"""


def test_all_stanzas_sample_parses_and_covers_the_parser():
    cls = parser.parse_job(ALL_STANZAS, "sample")
    assert cls.while_ is not None and cls.respawn_delay == (1, 60, 2)
    keywords = {line.split()[0] for line in ALL_STANZAS.splitlines()
                if line and not line.startswith(" ")}
    assert set(parser.STANZAS) <= keywords | {"end"}


# -- bash completion ---------------------------------------------------------------

def test_completion_is_valid_bash():
    res = subprocess.run(["bash", "-n", COMPLETION], capture_output=True, text=True)
    assert (res.returncode, res.stderr) == (0, "")


def test_completion_knows_every_initctl_command():
    with open(COMPLETION, encoding="utf-8") as f:
        text = f.read()
    listed = re.search(r'_upstart_commands="([^"]*)"', text)[1].split()
    assert sorted(listed) == sorted(initctl.COMMANDS)
    assert re.search(r"^complete -F _initctl initctl start stop restart reload status$",
                     text, re.M)


_DRIVER = r"""
source "$1"
comp() {
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
    _initctl
    printf '%s\n' "${COMPREPLY[*]}"
}
comp initctl sta
comp initctl start f
comp initctl stop ''
comp stop ''
comp status ''
comp initctl emit ''
comp initctl log-priority w
comp initctl start --n
comp initctl --us
comp initctl -q restart o
comp initctl help show
"""


def test_completion_against_a_running_init():
    jobs = {"first-job": "exec sleep 3600\n",
            "fixer": "start on helloworld\nemits ping pong-*\ntask\nexec true\n",
            "other": "exec sleep 3600\n"}
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "other").returncode == 0
        res = init.run("bash", "-c", _DRIVER, "driver", COMPLETION)
    assert res.stderr == ""
    assert res.stdout.splitlines() == [
        "start status",                       # commands
        "first-job fixer",                    # start: every job
        "other",                              # stop: running jobs only
        "other",                              # ... also as `stop`
        "other",                              # status: running ones first
        "helloworld ping started starting startup stopped stopping",   # no patterns
        "warn",
        "--no-wait",
        "--user",
        "other",
        "show-config",
    ]


# -- vim ------------------------------------------------------------------------

def _vim_stanzas() -> set[str]:
    with open(os.path.join(VIM, "syntax", "upstart.vim"), encoding="utf-8") as f:
        text = f.read()
    found = set()
    for m in re.finditer(r'syn match\s+upstart(?:Stanza|Process)\s+"([^"]*)"', text):
        pattern = m[1].replace("\\zs", " ")
        found.update(re.findall(r"[a-z]+(?:-[a-z]+)?", pattern.replace("\\s", " ")))
    if re.search(r"\bscript\\>", text):
        found.add("script")
    if re.search(r"\bexec\\>", text):
        found.add("exec")
    return found


def test_vim_syntax_knows_every_stanza():
    missing = set(parser.STANZAS) - _vim_stanzas()
    assert missing == set()


_PROBE = """
set nocompatible
let &rtp = '{vim},' . &rtp
filetype on
syntax on
let out = []
for [file, probes] in {probes}
  execute 'edit ' . fnameescape(file)
  call add(out, &filetype)
  for [l, c] in probes
    call add(out, synIDattr(synID(l, c, 1), 'name'))
  endfor
endfor
call writefile(out, '{out}')
qa!
"""


def _run_vim(tmp_path, probes) -> list[str]:
    script = tmp_path / "probe.vim"
    out = tmp_path / "out.txt"
    script.write_text(_PROBE.format(vim=VIM, out=out, probes=repr(probes)))
    res = subprocess.run(["vim", "-es", "-N", "-u", "NONE", "-i", "NONE", "-S", str(script)],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, HOME=str(tmp_path)))
    assert res.returncode == 0, res.stdout + res.stderr
    return out.read_text().splitlines()


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
def test_vim_detects_and_highlights_a_job_file(tmp_path):
    guarded = os.path.join(REPO, "jobs", "examples", "guarded.conf")
    # line 2: `description "..."`; line 6: `if` inside the pre-start script
    got = _run_vim(tmp_path, [[guarded, [[2, 1], [2, 13], [6, 5]]]])
    assert got == ["upstart", "upstartStanza", "upstartString", "shConditional"]


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
def test_vim_highlights_every_stanza_form(tmp_path):
    sample = tmp_path / "jobs" / "examples" / "sample.conf"
    sample.parent.mkdir(parents=True)
    sample.write_text(ALL_STANZAS)
    lines = ALL_STANZAS.splitlines()
    probes = [[i + 1, 1] for i, line in enumerate(lines)
              if line and not line.startswith(" ") and not line.startswith("end ")]
    got = _run_vim(tmp_path, [[str(sample), probes]])
    assert got[0] == "upstart"
    names = dict(zip([lines[line - 1] for line, _ in probes], got[1:]))
    plain = {line: name for line, name in names.items()
             if name not in ("upstartStanza", "upstartProcess", "upstartScriptKw",
                             "upstartExecKw")}
    assert plain == {}


# -- Pygments -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lexer_module():
    pytest.importorskip("pygments")
    spec = importlib.util.spec_from_file_location("upstart_lexer", LEXER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lexer_knows_every_stanza(lexer_module):
    assert sorted(lexer_module.STANZAS) == sorted(parser.STANZAS)


@pytest.mark.parametrize("path", EXAMPLES + STOCK, ids=os.path.basename)
def test_lexer_reads_real_job_files_without_errors(lexer_module, path):
    from pygments.token import Error
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tokens = list(lexer_module.UpstartLexer().get_tokens(text))
    assert [v for t, v in tokens if t in Error] == []
    assert "".join(v for _, v in tokens) == text      # nothing lost or added


def test_lexer_marks_stanzas_conditions_and_shell(lexer_module):
    from pygments.token import Keyword, Name, Operator, String
    tokens = [(t, v) for t, v in lexer_module.UpstartLexer().get_tokens(ALL_STANZAS)
              if v.strip()]
    keywords = {word for t, v in tokens if t in Keyword for word in v.split()}
    for kw in parser.STANZAS:
        assert kw in keywords, kw
    assert (Operator.Word, "and") in tokens and (Operator.Word, "or") in tokens
    assert (Name.Attribute, "X") in tokens
    assert (String.Double, '"d"') in tokens
    # the script body went through the Bash lexer: `if` is a shell keyword there
    assert (Keyword, "if") in tokens
