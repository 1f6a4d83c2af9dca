"""`upstart.cli.spawn.call`: subprocess.call's status without subprocess,
for the tools on the boot's path (upstart-mountall, upstart-rc)."""

from __future__ import annotations

import subprocess
import sys

from upstart.cli import mountall, rc
from upstart.cli.spawn import call


def test_exit_status_signal_and_path_search(capfd):
    assert call(["true"]) == 0
    assert call(["sh", "-c", "exit 3"]) == 3
    assert call(["sh", "-c", "kill -9 $$"]) == -9
    assert call(["sh", "-c", 'test "$UPSTART_SPAWN_TEST" = yes'], "t") == 1
    capfd.readouterr()


def test_the_child_inherits_the_environment(monkeypatch):
    monkeypatch.setenv("UPSTART_SPAWN_TEST", "yes")
    assert call(["sh", "-c", 'test "$UPSTART_SPAWN_TEST" = yes']) == 0


def test_a_program_that_cannot_run_is_127_and_one_line(capfd):
    assert call(["/nonexistent/no-such-tool", "x"], "upstart-rc") == 127
    err = capfd.readouterr().err
    assert err == "upstart-rc: /nonexistent/no-such-tool: No such file or directory\n"


def test_mountall_reports_a_failed_mount(capfd):
    assert mountall._run(["sh", "-c", "exit 32"]) is False
    assert "upstart-mountall: sh -c exit 32 failed (exit 32)" in capfd.readouterr().err
    assert mountall._run(["true"]) is True


def test_rc_runs_start_scripts_in_order_and_skips_those_with_a_job(tmp_path, monkeypatch):
    out = tmp_path / "out"
    d = tmp_path / "etc" / "rc2.d"
    d.mkdir(parents=True)
    (tmp_path / "etc" / "init").mkdir()
    (tmp_path / "etc" / "init" / "ssh.conf").write_text("exec true\n")
    for name in ("S02b", "S01a", "S01ssh", "K01c"):
        script = d / name
        script.write_text(f"#!/bin/sh\necho {name} $1 >> {out}\n")
        script.chmod(0o755)
    names = [p.rsplit("/", 1)[-1] for p in rc._scripts("2", "S", str(tmp_path))]
    assert names == ["S01a", "S02b"]                 # S01ssh has a job
    for script in rc._scripts("2", "S", str(tmp_path)):
        assert call([script, "start"]) == 0
    assert out.read_text() == "S01a start\nS02b start\n"


def test_the_boot_tools_do_not_import_subprocess():
    code = ("import sys; import upstart.cli.mountall, upstart.cli.rc; "
            "print('subprocess' in sys.modules)")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert got.stdout.strip() == "False", got.stderr
