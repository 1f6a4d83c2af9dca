"""Fixtures for the VM boot tests: the kernel and initramfs, prepared once.

`vm_paths` runs vm.image.prepare() (fetch the kernel, build the cached base
archive, rebuild the overlay with the current tree) under a file lock, so
pytest-xdist workers build it once and the others reuse it. The tests skip,
saying why, only when qemu (or the rest of the host tooling) cannot be
installed or the kernel cannot be fetched.
"""

from __future__ import annotations

import fcntl
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


@pytest.fixture(scope="session")
def vm_paths():
    from vm import image

    if os.geteuid() != 0:
        pytest.skip("VM tests need root (apt-get for qemu and the kernel .deb)")
    os.makedirs(image.CACHE, exist_ok=True)
    with open(os.path.join(image.CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            image.ensure_host_packages()
        except Exception as exc:  # no apt, no network, no such package
            pytest.skip(f"qemu/busybox/python3.11 cannot be installed: {exc}")
        try:
            image.fetch_kernel()
        except Exception as exc:
            pytest.skip(f"the Debian cloud kernel cannot be fetched: {exc}")
        return image.prepare(quiet=True)
