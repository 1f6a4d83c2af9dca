"""The command line: --list against a live control server, errors, --help."""

import pytest

from control_harness import ServerThread
from membackend import MemoryBackend, ToyJob
from upstart.timebridge.main import main


def test_list_against_a_session(tmp_path, monkeypatch, capsys):
    backend = MemoryBackend([ToyJob("nightly", start_on=[["time", "CRON=0 3 * * *"]]),
                             ToyJob("soon", start_on=[["time", "EVERY=5m", "COUNT=2"]])])
    with ServerThread(backend) as st:
        monkeypatch.setenv("UPSTART_SESSION", st.address)
        monkeypatch.setenv("TZ", "UTC")
        assert main(["--user", "--list", "--state-file", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('time CRON="0 3 * * *"  next ')
    assert lines[0].endswith(" 03:00:00 +0000  last -  fired 0  start on: nightly")
    assert lines[1].startswith("time EVERY=5m COUNT=2  next ")
    assert lines[1].endswith("  last -  fired 0/2  start on: soon")
    assert backend.emitted == []                  # listing never emits
    assert not (tmp_path / "s").exists()          # nor writes the state


def test_unreachable_init(monkeypatch, capsys):
    monkeypatch.setenv("UPSTART_SESSION", "unix:abstract=/upstart-py/test/absent")
    assert main(["--user"]) == 1
    assert "upstart-time-bridge: Unable to connect to Upstart: " in capsys.readouterr().err
    monkeypatch.delenv("UPSTART_SESSION")
    assert main(["--user"]) == 1
    assert "UPSTART_SESSION isn't set in environment" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--state-file" in capsys.readouterr().out
