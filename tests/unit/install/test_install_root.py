"""upstart-install-root (upstart/install.py), the SysV rc's skip of scripts
that have a job (upstart/cli/rc.py) and the mountall helper's event order
(upstart/cli/mountall.py), on temporary directories."""

from __future__ import annotations

import os
import subprocess
import sys

from upstart import install
from upstart.cli import mountall, rc
from upstart.jobfile.conf import load_sources


def test_the_wheel_carries_the_stock_and_debian_jobs_and_they_parse(tmp_path):
    stock = install.job_files("stock")
    debian = install.job_files("debian")
    for name in ("rc-sysinit.conf", "tty1.conf", "failsafe.conf", "wait-for-state.conf",
                 "flush-early-job-log.conf", "console.conf", "upstart-udev-bridge.conf"):
        assert name in stock
    for name in ("udev.conf", "udevtrigger.conf", "dbus.conf", "rsyslog.conf", "cron.conf",
                 "ssh.conf", "networking.conf", "ttyS0.conf", "hostname.conf",
                 "udev-settle.conf", "network-interface.conf"):
        assert name in debian and name not in stock
    # the Debian set replaces the stock mountall and rc-sysinit
    assert debian["mountall.conf"] != stock["mountall.conf"]
    assert "static-network-up" in debian["rc-sysinit.conf"]
    # the bridges no Debian job uses are off there (manual overrides), not in stock
    off = {f"upstart-{b}-bridge" for b in ("local", "time", "file", "dbus", "socket")}
    assert {n[:-len(".override")] for n in debian if n.endswith(".override")} == off
    assert not any(n.endswith(".override") for n in stock)
    for name, text in debian.items():
        (tmp_path / name).write_text(text)
    result = load_sources([str(tmp_path)])
    assert list(result.errors) == []
    assert set(result.classes) >= {n[:-5] for n in debian if n.endswith(".conf")}
    for name in off:
        assert result.classes[name].start_on is None, name
    assert result.classes["upstart-udev-bridge"].start_on is not None


def test_install_writes_init_jobs_and_log_dir_and_keeps_a_foreign_init(tmp_path, capsys):
    root = tmp_path
    (root / "sbin").mkdir()
    os.symlink("/lib/systemd/systemd", root / "sbin/init")
    code = install.main([str(root), "--jobs", "debian", "--python", "/usr/bin/python3"])
    err = capsys.readouterr().err
    assert code == 1 and "sbin/init: exists and differs (--force replaces it)" in err
    assert os.readlink(root / "sbin/init") == "/lib/systemd/systemd"
    assert (root / "etc/init/ssh.conf").read_text() == install.job_files("debian")["ssh.conf"]
    assert (root / "var/log/upstart").is_dir()
    assert install.main([str(root), "--jobs", "debian", "--python", "/usr/bin/python3",
                         "--force"]) == 0
    init = (root / "sbin/init").read_text()
    assert not os.path.islink(root / "sbin/init")
    assert init.startswith("#!/usr/bin/python3\n") and "upstart.cli.init" in init
    assert os.stat(root / "sbin/init").st_mode & 0o111
    # a second run changes nothing and says nothing
    capsys.readouterr()
    assert install.main([str(root), "--jobs", "debian", "--python", "/usr/bin/python3"]) == 0
    assert capsys.readouterr().out == ""


def test_install_named_init_dry_run_and_bad_arguments(tmp_path, capsys):
    assert install.main([str(tmp_path), "--init-name", "upstart", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would install {tmp_path}/sbin/upstart" in out
    assert list(tmp_path.iterdir()) == []
    assert install.main([str(tmp_path / "missing")]) == 2
    assert install.main([str(tmp_path), "--init-name", "../x"]) == 2
    # the console script as a user runs it
    out = subprocess.run([sys.executable, "-m", "upstart.install", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--jobs {stock,debian}" in out.stdout


def test_rc_skips_the_sysv_scripts_of_services_that_have_a_job(tmp_path):
    (tmp_path / "etc/rc2.d").mkdir(parents=True)
    (tmp_path / "etc/init").mkdir()
    (tmp_path / "etc/init/ssh.conf").write_text("exec true\n")
    for name in ("S01ssh", "S01cron", "S02rmnologin"):
        p = tmp_path / "etc/rc2.d" / name
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
    got = [os.path.basename(p) for p in rc._scripts("2", "S", str(tmp_path))]
    assert got == ["S01cron", "S02rmnologin"]


def test_mountall_emits_the_1_13_events_in_order(tmp_path):
    emitted, ran = [], []
    fstab = tmp_path / "fstab"
    fstab.write_text("# comment\n/dev/vda / ext4 errors=remount-ro 0 1\n"
                     "tmpfs /tmp tmpfs nosuid,nodev 0 0\n/swapfile none swap sw 0 0\n"
                     "/dev/vdb /data ext4 noauto 0 2\nsrv:/x /net nfs defaults 0 0\n"
                     "/dev/bad /bad ext4 defaults 0 2\n")
    m = mountall.Mountall(emit=lambda n, env, wait: emitted.append((n, env[:1], wait)),
                          run=lambda argv: ran.append(argv) or argv[-1] != "/bad")
    already = {p for p, *_ in mountall.VIRTUAL} | {"/"}
    assert m.main(mountall.fstab(str(fstab)), already) == 1      # /bad failed
    names = [(n, env[0] if env else None) for n, env, _ in emitted]
    assert names[:2] == [("mounting", "MOUNTPOINT=/proc"), ("mounted", "MOUNTPOINT=/proc")]
    order = [n for n, _ in names if not n.startswith("mount")]
    assert order == ["virtual-filesystems", "all-swaps", "local-filesystems",
                     "remote-filesystems", "filesystem"]
    assert names.index(("mounted", "MOUNTPOINT=/")) < names.index(("mounted", "MOUNTPOINT=/tmp"))
    assert ("mounting", "MOUNTPOINT=/bad") in names and ("mounted", "MOUNTPOINT=/bad") not in names
    assert ("mounting", "MOUNTPOINT=/data") not in names          # noauto
    assert names.index(("mounted", "MOUNTPOINT=/net")) > names.index(("local-filesystems", None))
    assert ["mount", "-o", "remount,rw", "/"] in ran and ["swapon", "-a"] in ran
    assert all(w for n, _, w in emitted if n in ("mounting", "mounted"))
