"""upstart-py as PID 1 of a real kernel (qemu, TCG), issue #16.

Each test boots the Debian cloud kernel with our initramfs (vm/image.py),
reads the serial console, and checks what it must show: the default
runlevel reached, `initctl list` printed by a job, every job stopped in
order at shutdown, file systems synced (a file on a test disk survives),
and the VM powered off or restarted by reboot(2) from init's final stage. Three boots, to stay cheap under TCG: a plain boot
ended by `reboot`; a boot with a crashing job and 1,000 orphans ended by
`shutdown -h now`; a boot ended by ctrl-alt-del from the qemu monitor.
`vm.boot.run` kills qemu whatever happens.
"""

from __future__ import annotations

import re

import pytest

from vm.boot import CAD_MARK, boot_time, check_boot, make_disk, read_disk_file, run, untimed

# The boots run one after another in one xdist worker (`make test` uses --dist
# loadgroup): two TCG guests at once on two cores slow every test. The first
# boot's budget also covers preparing the image (packages, kernel, archive).
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("vm")]


def test_vm_boots_to_runlevel_2_then_reboot_restarts_it(vm_paths, tmp_path):
    disk = str(tmp_path / "disk.img")
    make_disk(disk)
    console, code, wall = run(then="reboot", paths=vm_paths, disk=disk)
    assert check_boot(console, end="reboot") == [], console
    # vm-report wrote a file on the ext2 disk and never synced it; reboot(2)
    # does not sync either: it is on the disk only if the shutdown path did
    assert "vm-report: wrote /mnt/vm-sync-test" in console, console
    assert read_disk_file(disk, "vm-sync-test") == "written by vm-report in runlevel 2\n"
    times = boot_time(console)
    console = untimed(console)
    assert code == 0
    # the jobs saw our tools: runlevel from utmp, initctl list from init
    assert re.search(r"^vm-report: runlevel says: N 2$", console, re.M), console
    listed = dict(re.findall(r"^vm-report:   (\S+) (\S+)", console, re.M))
    assert listed["rc-sysinit"] == "stop/waiting"
    assert listed["container-detect"] == "stop/waiting"
    assert listed["vm-report"] == "start/running,"
    assert listed["vm-base"] == listed["vm-top"] == "start/running,"
    assert listed["tty1"] == "start/running,"  # not-container was emitted
    # `reboot`: shutdown -r now, runlevel 6, rc, reboot -f, final stage, reboot(2)
    assert "init: Will now reboot" in console
    assert "reboot: Power down" not in console
    assert times["startup_event"] < times["runlevel"] < times["end"]
    print(f"\nvm boot: startup event {times['startup_event']:.2f} s, runlevel 2 "
          f"{times['runlevel']:.2f} s, restart {times['end']:.2f} s "
          f"(kernel clock); qemu wall {wall:.1f} s")


def test_vm_crashing_job_and_orphans_then_shutdown_powers_off(vm_paths):
    console, code, _ = run("vm.scenario=crash,orphans", paths=vm_paths)
    assert check_boot(console, end="poweroff") == [], console
    console = untimed(console)
    assert code == 0
    # the crash: init logs each death, respawns, gives up at the limit
    deaths = re.findall(r"^init: vm-crash main process \(\d+\) killed by SEGV signal$",
                        console, re.M)
    assert len(deaths) == 6, console  # respawn limit 5 60: the sixth death stops it
    assert len(re.findall(r"^init: vm-crash main process ended, respawning$",
                          console, re.M)) == 5
    assert "init: vm-crash respawning too fast, stopped" in console
    assert re.search(r"vm-report: after the crashes: vm-crash stop/waiting", console)
    # the orphans: PID 1 reaped all 1,000, no zombie left
    assert "vm-orphans: 1000 orphans forked" in console, console
    assert re.search(r"vm-orphans: orphans left=0 zombies of init=0", console), console
    # shutdown -h now: runlevel 0, rc, poweroff -f, final stage, reboot(2)
    assert "init: Will now power off" in console


def test_vm_ctrl_alt_del_reboots(vm_paths):
    console, code, _ = run(cad=True, paths=vm_paths)
    # the kernel sent SIGINT to PID 1, init emitted control-alt-delete, the
    # stock job ran `shutdown -r now`
    assert "vm-report: then wait" in console, console
    assert "vm-cad: control-alt-delete event" in console, console
    assert console.index("vm-report: then wait") < console.index("vm-cad: control-alt-delete")
    assert check_boot(console, end="reboot", trigger=CAD_MARK) == [], console
    assert "vm-report: then reboot" not in console  # the key press asked for it
    assert code == 0
