"""The console checks behind the VM tests and `make vm-boot` (vm/boot.py),
on recorded consoles: they must pass a good boot and catch a bad one."""

from __future__ import annotations

from vm.boot import CAD_MARK, boot_time, check_boot

GOOD = """\
[    0.000000] Linux version 6.1.0-56-cloud-amd64
[    3.852609] vm-startup: startup event
init: rc-sysinit main process (82) killed by TERM signal
[    5.222301] vm-report: runlevel 2 reached
vm-report:   rc-sysinit stop/waiting
[    6.221260] vm-report: then poweroff
[    7.029839] vm-stop: vm-base pre-stop
init: vm-top main process (101) killed by TERM signal
init: Will now power off
[    7.554011] vm-stop: vm-top post-stop
init: vm-base main process (99) killed by TERM signal
[    7.590167] vm-stop: vm-last post-stop
[    7.745913] vm-stop: vm-base post-stop
[    8.026214] reboot: Power down
"""


def test_a_good_boot_passes_even_with_the_final_stage_overlapping():
    # recorded under load: the final stage began while vm-base was stopping
    assert check_boot(GOOD, end="poweroff") == []
    assert boot_time(GOOD) == {"startup_event": 3.852609, "runlevel": 5.222301,
                               "end": 8.026214}


def test_dependency_order_broken_is_caught():
    bad = GOOD.replace("vm-top post-stop", "TMP").replace("vm-base post-stop", "vm-top post-stop")
    bad = bad.replace("TMP", "vm-base post-stop")
    assert any("out of order" in p for p in check_boot(bad, end="poweroff"))


def test_final_stage_after_the_last_job_is_caught():
    bad = GOOD.replace("init: Will now power off\n", "").replace(
        "[    8.026214] reboot", "init: Will now power off\n[    8.026214] reboot")
    assert any("out of order" in p for p in check_boot(bad, end="poweroff"))


def test_panic_wrong_end_missing_runlevel_and_spawn_failures_are_caught():
    panic = GOOD.replace("[    8.026214] reboot: Power down",
                         "[    8.0] Kernel panic - not syncing: Attempted to kill init!")
    problems = check_boot(panic, end="poweroff")
    assert any(p.startswith("kernel panic") for p in problems)
    assert any("did not poweroff" in p for p in problems)
    assert any("did not reboot" in p for p in check_boot(GOOD, end="reboot"))
    assert "runlevel 3 not reached" in check_boot(GOOD, end="poweroff", runlevel="3")
    failed = GOOD + "init: Failed to spawn foo main process: unable to execute\n"
    assert check_boot(failed, end="poweroff") == [
        "init: Failed to spawn foo main process: unable to execute"]
    # the crash scenario's job may hit its respawn limit, no other job may
    limit = GOOD + "init: vm-crash respawning too fast, stopped\n"
    assert check_boot(limit, end="poweroff") == []
    limit = GOOD + "init: tty1 respawning too fast, stopped\n"
    assert check_boot(limit, end="poweroff") == ["init: tty1 respawning too fast, stopped"]


def test_init_lines_through_kmsg_read_the_same():
    # once init logs through /dev/kmsg, its lines carry kernel timestamps
    timed = GOOD.replace("init: Will now power off", "[    7.100000] init: Will now power off")
    assert check_boot(timed, end="poweroff") == []
    failed = timed + "[    9.000000] init: Failed to spawn foo main process: unable to execute\n"
    assert check_boot(failed, end="poweroff") == [
        "init: Failed to spawn foo main process: unable to execute"]


def test_the_trigger_must_come_first():
    # a ctrl-alt-del boot: the key press, not vm-report, asked for the shutdown
    cad = GOOD.replace("vm-report: then poweroff", "vm-cad: control-alt-delete event")
    assert check_boot(cad, end="poweroff", trigger=CAD_MARK) == []
    assert any("missing" in p for p in check_boot(cad, end="poweroff"))
