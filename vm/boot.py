"""`make vm-boot`: boot upstart-py as PID 1 of a real kernel in qemu and check it.

    python -m vm.boot                      boot, report, `shutdown -h now`: must power off
    python -m vm.boot --then reboot        ... `reboot`: must restart (qemu exits, -no-reboot)
    python -m vm.boot --scenario crash     a respawning job that dies of SIGSEGV
    python -m vm.boot --scenario orphans   1,000 orphans left to PID 1
    python -m vm.boot --scenario crash,orphans   both, in one boot
    python -m vm.boot --cad                stay up, press ctrl-alt-del in the monitor
    python -m vm.boot --shell              interactive: login on the serial console
                                           (root, no password; ctrl-a x quits qemu)

Prints the console, the boot time (kernel start to the default runlevel,
from the console's kernel timestamps) and every failed check; exits 1 if any.
Each boot has an ext2 test disk: a file written (not synced) by a job
before the shutdown must be on it after qemu exits.
The same checks back tests/vm/.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from vm import image
from vm.qemu import SMP, VM, accel_args, boot_timeout, kernel_lines, kernel_time

RUNLEVEL_MARK = r"vm-report: runlevel (\S+) reached"
THEN_MARK = r"vm-report: then (poweroff|reboot)"
CAD_MARK = r"vm-cad: control-alt-delete event"
# At shutdown, after what asked for it (THEN_MARK or CAD_MARK), each of these
# chains must appear in order. The runlevel change stops vm-top before vm-base
# (`stop on stopping vm-base`); `upstart-rc 0|6` then asks for the final
# stage, which stops what is left (vm-last has no `stop on`) before reboot(2).
# The two chains may interleave: rc runs alongside the jobs stopping on the
# runlevel, so the final stage can begin while vm-base is still stopping (it
# then waits for it). The kernel's last line comes after every post-stop.
STOP_CHAINS = (
    (r"vm-stop: vm-base pre-stop", r"vm-stop: vm-top post-stop",
     r"vm-stop: vm-base post-stop", r"reboot: (Power down|Restarting system)"),
    (r"init: Will now (power off|reboot)", r"vm-stop: vm-last post-stop",
     r"reboot: (Power down|Restarting system)"),
)


def untimed(console: str) -> str:
    """The console without the kernel's `[   1.234567] ` prefixes: init's lines
    read the same whether they went through /dev/kmsg or straight to the
    console."""
    return re.sub(r"^\[\s*\d+\.\d+\] ?", "", console, flags=re.M)


def positions(console: str, patterns) -> list[int | None]:
    """Where each pattern first matches in the console (None: nowhere)."""
    out = []
    for p in patterns:
        m = re.search(p, console, re.M)
        out.append(m.start() if m else None)
    return out


def check_boot(console: str, end: str = "poweroff", runlevel: str = "2",
               trigger: str = THEN_MARK) -> list[str]:
    """Problems with a boot that should reach `runlevel`, then see `trigger`
    and end with `end`, every job stopped in order on the way."""
    console = untimed(console)
    problems = []
    if "Kernel panic" in console:
        problems.append("kernel panic: " + console[console.index("Kernel panic"):][:200])
    if re.search(r"^init: .*(Traceback|internal error)", console, re.M):
        problems.append("init logged an internal error")
    for m in re.finditer(r"^init: (Failed to spawn .*|(?!vm-crash )\S+ respawning too fast.*)$",
                         console, re.M):
        problems.append(f"init: {m.group(1)}")
    if not re.search(rf"vm-report: runlevel {runlevel} reached", console):
        problems.append(f"runlevel {runlevel} not reached")
    if not re.search(r"^vm-report:   rc-sysinit stop/waiting$", console, re.M):
        problems.append("no `initctl list` output on the console")
    final = {"poweroff": "reboot: Power down", "reboot": "reboot: Restarting system",
             "halt": "reboot: System halted"}[end]
    if final not in console:
        problems.append(f"no {final!r}: the VM did not {end}")
    if end in ("poweroff", "reboot"):
        for chain in STOP_CHAINS:
            order = (trigger, *chain)
            where = positions(console, order)
            missing = [p for p, w in zip(order, where) if w is None]
            if missing:
                problems.append(f"shutdown lines missing: {missing}")
            elif where != sorted(where):
                got = [p for _, p in sorted(zip(where, order))]
                problems.append(f"shutdown out of order: {got}")
    return problems


def boot_time(console: str) -> dict[str, float | None]:
    """Kernel timestamps (s since kernel start) of the boot's milestones."""
    return {
        "startup_event": kernel_time(console, r"vm-startup: startup event"),
        "runlevel": kernel_time(console, RUNLEVEL_MARK),
        "end": kernel_time(console, r"reboot: (Power down|Restarting system|System halted)"),
    }


def run(append: str = "", then: str = "poweroff", cad: bool = False,
        timeout: float | None = None, paths: dict | None = None,
        disk: str | None = None) -> tuple[str, int | None, float]:
    """One boot; returns (console, qemu exit status, wall seconds). Kills qemu
    always. `disk`: a raw ext2 image the guest mounts on /mnt (vm-disk)."""
    paths = paths or image.prepare(quiet=True)
    timeout = boot_timeout() if timeout is None else timeout
    append = f"vm.then={'wait' if cad else then} {append}".strip()
    if disk:
        append += " vm.disk"
    with VM(paths["kernel"], paths["initrd"], append=append, disk=disk) as vm:
        if cad:
            if not vm.wait_for(r"vm-report: then wait", timeout):
                return vm.console, vm.wait(1), time.monotonic() - vm.started
            time.sleep(0.3)
            vm.sendkey("ctrl-alt-delete")
        code = vm.wait(timeout)
        return vm.console, code, time.monotonic() - vm.started


def make_disk(path: str, size_mb: int = 8) -> None:
    """An empty ext2 image for vm-disk."""
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", path], check=True)


def read_disk_file(image_path: str, name: str) -> str | None:
    """A file's text from an ext2 image, read with debugfs (no mount)."""
    out = subprocess.run(["debugfs", "-R", f"cat /{name}", image_path],
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 and out.stdout else None


def shell(paths: dict) -> int:
    """Interactive boot: getty on ttyS0, qemu in the foreground."""
    argv = ["qemu-system-x86_64", *accel_args(), "-nodefaults", "-display", "none",
            "-serial", "mon:stdio", "-no-reboot", "-nic", "none", "-m", "512", "-smp", str(SMP),
            "-kernel", paths["kernel"], "-initrd", paths["initrd"],
            "-append", "console=ttyS0 panic=-1 rdinit=/sbin/init printk.devkmsg=on "
                       "loglevel=6 vm.then=wait vm.getty"]
    return subprocess.call(argv)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Boot upstart-py in qemu and check the boot.")
    ap.add_argument("--then", choices=("poweroff", "reboot"), default="poweroff")
    ap.add_argument("--scenario", help="crash, orphans or crash,orphans")
    ap.add_argument("--cad", action="store_true", help="press ctrl-alt-del once booted")
    ap.add_argument("--shell", action="store_true", help="interactive boot")
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    args = ap.parse_args(argv)
    paths = image.prepare(quiet=True)
    if args.shell:
        return shell(paths)
    append = f"vm.scenario={args.scenario}" if args.scenario else ""
    with tempfile.TemporaryDirectory(prefix="upstart-vm-disk-") as tmp:
        disk = os.path.join(tmp, "disk.img")
        make_disk(disk)
        console, code, wall = run(append, then=args.then, cad=args.cad, paths=paths, disk=disk)
        synced = read_disk_file(disk, "vm-sync-test")
    if not args.quiet:
        sys.stdout.write(console)
    end = "reboot" if args.cad or args.then == "reboot" else "poweroff"
    problems = check_boot(console, end=end, trigger=CAD_MARK if args.cad else THEN_MARK)
    if code is None:
        problems.append("qemu did not exit")
    steps = (args.scenario or "").split(",")
    if "crash" in steps and "vm-crash respawning too fast, stopped" not in console:
        problems.append("vm-crash was not stopped at the respawn limit")
    if not synced:
        problems.append("/mnt/vm-sync-test did not reach the disk: no sync before reboot(2)")
    if "orphans" in steps and not re.search(
            r"vm-orphans: orphans left=0 zombies of init=0", console):
        problems.append("orphans were not all reaped")
    times = boot_time(console)
    sys.stdout.write(
        f"\nvm-boot: kernel start -> startup event {times['startup_event']} s, "
        f"-> runlevel {times['runlevel']} s, -> {end} {times['end']} s; "
        f"qemu wall time {wall:.1f} s, exit {code}\n")
    for line in kernel_lines(console, r"^vm-stop: "):
        sys.stdout.write(f"vm-boot: [{line[0]:9.3f}] {line[1]}\n")
    for p in problems:
        sys.stdout.write(f"vm-boot: FAILED: {p}\n")
    sys.stdout.write("vm-boot: OK\n" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":

    sys.exit(main())
