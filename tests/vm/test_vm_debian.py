"""Debian 12 booted by our init in qemu (issue #21): `make vm-debian`'s check.

One session: build the image (cached by package versions; our wheel is
reinstalled every time), boot to `login:` on ttyS0, log in as root over
the serial console, `initctl list`/`who`/`runlevel`/`why`/`timeline`, the
missing daemon's failure, `telinit u` keeping every daemon's PID, `reboot`
and a second boot, `poweroff`; then `e2fsck -fn` and the superblock of the
image. The transcript is in vm/.cache/debian/console.log.
"""

from __future__ import annotations

import fcntl
import os

import pytest

from vm import debian


@pytest.fixture(scope="module")
def debian_paths():
    if os.geteuid() != 0:
        pytest.skip("the Debian image needs root (mmdebstrap, chroot, apt-get)")
    os.makedirs(debian.CACHE, exist_ok=True)
    with open(os.path.join(debian.CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            debian.ensure_host_packages()
        except Exception as exc:  # no apt, no network
            pytest.skip(f"mmdebstrap/qemu cannot be installed: {exc}")
        return debian.build()


@pytest.mark.timeout(1800)
def test_debian_boots_to_login_reboots_and_powers_off_clean(debian_paths):
    rep = debian.run_check(debian_paths)
    print("\n" + debian.timings_line(rep.timings))
    with open(os.path.join(debian.CACHE, "console.log"), encoding="utf-8",
              errors="replace") as f:
        console = f.read()
    assert rep.problems == [], "\n".join(rep.problems) + "\n--- console tail:\n" + console[-6000:]
    assert "Will now power off" in console
    assert {"startup", "services", "login", "poweroff"} <= set(rep.timings)
    assert rep.timings["startup"] < rep.timings["services"]
