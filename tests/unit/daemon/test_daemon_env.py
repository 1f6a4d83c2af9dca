"""What init's environment decides (DM-25, spec 05 §1 and §10, 1.13's
`handle_logdir` and `job_process_log_path`): `UPSTART_LOGDIR` beats
`--logdir` in system mode and is ignored by a Session Init;
`UPSTART_USE_SESSION_BUS` picks the session bus like `--session`."""

from __future__ import annotations

from upstart.daemon.env import InitEnv
from upstart.daemon.options import parse_options


def env(argv: list[str], environ: dict[str, str]) -> InitEnv:
    return InitEnv(parse_options(argv), dict(environ), pid1=False)


def test_upstart_logdir_in_system_mode_wins_even_over_the_option():
    assert env([], {}).log_dir() == "/var/log/upstart"
    assert env([], {"UPSTART_LOGDIR": "/tmp/l"}).log_dir() == "/tmp/l"
    assert env(["--logdir", "/x"], {}).log_dir() == "/x"
    assert env(["--logdir", "/x"], {"UPSTART_LOGDIR": "/tmp/l"}).log_dir() == "/tmp/l"
    assert env(["--no-log"], {"UPSTART_LOGDIR": "/tmp/l"}).log_dir() is None


def test_a_session_init_ignores_upstart_logdir(tmp_path):
    environ = {"UPSTART_LOGDIR": "/tmp/l", "XDG_CACHE_HOME": str(tmp_path)}
    assert env(["--user"], environ).log_dir() == str(tmp_path / "upstart")
    assert env(["--user", "--logdir", "/x"], environ).log_dir() == "/x"


def test_upstart_use_session_bus_selects_the_session_bus():
    bus = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/s", "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/y"}
    assert env([], bus).bus_label() == "system"
    assert env([], bus).bus_address() == "unix:path=/y"
    assert env([], {**bus, "UPSTART_USE_SESSION_BUS": ""}).bus_address() == "unix:path=/s"
    assert env(["--session"], bus).bus_label() == "session"
