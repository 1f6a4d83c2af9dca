"""init-checkconf as a user runs it: the installed command, in a subprocess."""

import subprocess
import sys
from pathlib import Path

import pytest

from upstart.cli.checkconf import main

BIN = Path(sys.executable).parent / "init-checkconf"


def run(*args):
    cmd = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "upstart.cli.checkconf"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=30)


def test_valid_file(tmp_path):
    f = tmp_path / "good.conf"
    f.write_text("start on startup\nscript\n  echo hi\nend script\n")
    r = run(f)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"File {f}: syntax ok\n", "")


def test_invalid_file(tmp_path):
    f = tmp_path / "bad.conf"
    f.write_text("exec true\nbogus stanza\n")
    r = run(f)
    assert r.returncode == 1
    assert r.stderr == f"ERROR: File {f}: syntax invalid:\ninit:{f}:2: Unknown stanza\n"


def test_signal_error_has_no_line(tmp_path):
    f = tmp_path / "sig.conf"
    f.write_text("kill signal NOPE\n")
    r = run(f)
    assert r.returncode == 1
    assert r.stderr.splitlines()[1] == (
        f"init:{f}: Error while loading configuration file: Illegal signal status, expected integer")


def test_missing_file_and_wrong_suffix(tmp_path):
    r = run(tmp_path / "nope.conf")
    assert (r.returncode, r.stderr) == (1, f"ERROR: File {tmp_path}/nope.conf does not exist\n")
    f = tmp_path / "job.txt"
    f.write_text("task\n")
    r = run(f)
    assert (r.returncode, r.stderr) == (1, "ERROR: File must end in .conf\n")


def test_shell_syntax_checked_unless_noscript(tmp_path):
    f = tmp_path / "sh.conf"
    f.write_text("pre-start script\n  if then\nend script\nexec true\n")
    r = run(f)
    assert r.returncode == 1
    assert r.stderr.startswith(f"ERROR: File {f}: shell syntax invalid in pre-start section:\n")
    assert len(r.stderr.splitlines()) >= 2          # sh's own message follows
    r = run("-s", f)
    assert (r.returncode, r.stdout) == (0, f"File {f}: syntax ok\n")


def test_debug_lists_events_and_emitters(tmp_path):
    (tmp_path / "emitter.conf").write_text("emits thing-*\ntask\nexec true\n")
    (tmp_path / "other.conf").write_text("exec true\n")
    f = tmp_path / "waiter.conf"
    f.write_text("start on thing-ready and started other\nstop on nobody-emits or runlevel [06]\n")
    r = run("--debug", f)
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        "DEBUG: start on: event thing-ready: emitted by emitter",
        "DEBUG: start on: event started: emitted by init",
        "DEBUG: stop on: event nobody-emits: no known emitter",
        "DEBUG: stop on: event runlevel: emitted by init",
        f"File {f}: syntax ok",
    ]


def test_job_event_for_unknown_job_has_no_emitter(tmp_path, capsys):
    f = tmp_path / "w.conf"
    f.write_text("start on started ghost\n")
    assert main(["-d", str(f)]) == 0
    assert "DEBUG: start on: event started: no known emitter" in capsys.readouterr().out


def test_died_is_emitted_by_init_for_a_known_job(tmp_path, capsys):
    (tmp_path / "svc.conf").write_text("respawn\nexec sleep 1\n")
    f = tmp_path / "alert.conf"
    f.write_text("start on died JOB=svc or died ghost\n")
    assert main(["-d", str(f)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "DEBUG: start on: event died: emitted by init",
        "DEBUG: start on: event died: no known emitter"]


@pytest.mark.parametrize("flag", ["-f", "--file"])
def test_file_option(tmp_path, flag, capsys):
    f = tmp_path / "x.conf"
    f.write_text("task\n")
    assert main([flag, str(f)]) == 0
    assert capsys.readouterr().out == f"File {f}: syntax ok\n"
