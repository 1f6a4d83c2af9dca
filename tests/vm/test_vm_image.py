"""The VM image's building blocks, without booting: the cpio writer and the
guest's tool wrappers (vm/cpio.py, vm/image.py)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys

from vm import image
from vm.cpio import CpioWriter


def _read_newc(data: bytes) -> dict[str, tuple[int, bytes, tuple[int, int]]]:
    """name -> (mode, data, (rdevmajor, rdevminor)), parsed independently of the writer."""
    out = {}
    pos = 0
    while True:
        assert data[pos:pos + 6] == b"070701", f"bad magic at {pos}"
        fields = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        pos += 110
        name = data[pos:pos + namesize - 1].decode()
        pos = (pos + namesize + 3) & ~3
        body = data[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            assert len(data) % 512 == 0
            return out
        out[name] = (mode, body, (rmaj, rmin))


def test_cpio_writer_entries_and_implicit_parents():
    buf = io.BytesIO()
    w = CpioWriter(buf)
    w.file("/usr/local/sbin/tool", b"#!/bin/sh\necho hi\n", 0o755)
    w.symlink("/bin/sh", "dash")
    w.node("/dev/console", "c", 5, 1)
    w.close()
    entries = _read_newc(buf.getvalue())
    assert list(entries)[:3] == ["usr", "usr/local", "usr/local/sbin"]
    mode, body, _ = entries["usr/local/sbin/tool"]
    assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o755
    assert body == b"#!/bin/sh\necho hi\n"
    assert stat.S_ISLNK(entries["bin/sh"][0]) and entries["bin/sh"][1] == b"dash"
    mode, _, rdev = entries["dev/console"]
    assert stat.S_ISCHR(mode) and rdev == (5, 1)


def test_wrappers_keep_argv0_for_shorthands_and_reboot_modes(tmp_path):
    tools = image.tools()
    for name in ("initctl", "start", "stop", "status", "telinit", "runlevel", "shutdown",
                 "reboot", "halt", "poweroff", "upstart-rc"):
        assert name in tools
    assert "init" not in tools  # /sbin/init is our own
    module, func = tools["start"]
    path = tmp_path / "start"
    path.write_text(image.WRAPPER.format(name="start", module=module, func=func))
    out = subprocess.run([sys.executable, str(path), "--help"], capture_output=True,
                         text=True, timeout=60)
    # `start --help` is initctl's shorthand help, which only argv[0] selects
    assert out.returncode == 0, out.stderr
    assert "Usage: start [OPTION]... JOB" in out.stdout


def test_vm_jobs_parse_cleanly():
    """Every VM-only job (and stock job) is accepted by our own parser."""
    from upstart.jobfile.conf import load_sources

    result = load_sources([image.VM_JOBS, image.JOBS])
    assert list(result.errors) == []
    names = set(result.classes)
    for job in ("vm-report", "vm-base", "vm-top", "vm-last", "vm-crash", "vm-orphans",
                "vm-cad", "vm-startup", "vm-disk", "ttyS0", "rc-sysinit"):
        assert job in names, names


def test_cache_dir_is_ignored_by_git():
    with open(os.path.join(image.REPO, ".gitignore")) as f:
        assert "vm/.cache/" in f.read().split()
