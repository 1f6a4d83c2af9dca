"""Run one qemu VM on the prepared kernel and initramfs, and watch its console.

`VM` starts `qemu-system-x86_64` (TCG unless /proc/cpuinfo shows vmx/svm:
the sandbox's /dev/kvm cannot run a stock kernel) with the serial console on
stdout, collects the console in a thread, talks to the human monitor over a
unix socket (`sendkey ctrl-alt-delete`), and always kills qemu on close
(it is a context manager). Kernel command-line words understood by our
VM-only jobs: `vm.then=poweroff|reboot|halt|wait`, `vm.scenario=crash,orphans` (either or both),
`vm.getty`, `vm.disk` (with `disk=`: mount /dev/vda on /mnt).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

BASE_APPEND = ("console=ttyS0 panic=-1 rdinit=/sbin/init printk.devkmsg=on "
               "printk.time=1 loglevel=6")
# two vCPUs (MTTCG: two host threads): the boot runs several Pythons at once
SMP = int(os.environ.get("VM_SMP", "2"))
TIMESTAMP = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")


def _die_with_parent() -> None:
    """In the qemu child: SIGKILL when the process that started us dies, so a
    killed test run (timeout, ^C) leaves no VM behind."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def boot_timeout() -> float:
    """How long one boot may take: 90 s with KVM; under TCG (no /dev/kvm, as in
    CI) a boot on a loaded host took up to 90 s, so it gets 300 s."""
    return 90.0 if "kvm" in accel_args() else 300.0


def accel_args() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        flags = ""
    if os.access("/dev/kvm", os.R_OK | os.W_OK) and re.search(r"\b(vmx|svm)\b", flags):
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg", "-cpu", "max"]


class VM:
    def __init__(self, kernel: str, initrd: str, append: str = "", init_args: str = "",
                 memory: int = 512, disk: str | None = None, base_append: str = BASE_APPEND,
                 reboot: bool = False, interactive: bool = False, log: str | None = None):
        """`reboot`: a guest reboot restarts the machine (else qemu exits);
        `interactive`: `send()` types on the serial console; `log`: a file
        the console is written to as it comes."""
        self._log = open(log, "wb") if log else None
        self.tmp = tempfile.mkdtemp(prefix="upstart-vm-")
        self.monitor_path = os.path.join(self.tmp, "monitor.sock")
        cmdline = f"{base_append} {append}".strip()
        if init_args:
            cmdline += f" -- {init_args}"
        self.argv = [
            shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
            *accel_args(), "-nodefaults", "-display", "none", "-serial", "stdio",
            "-monitor", f"unix:{self.monitor_path},server=on,wait=off",
            *([] if reboot else ["-no-reboot"]),
            "-nic", "none", "-m", str(memory), "-smp", str(SMP),
            "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
        ]
        if disk:  # a raw image as /dev/vda (virtio-blk)
            self.argv += ["-drive", f"file={disk},format=raw,if=virtio"]
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv,
                                     stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.exit_code: int | None = None
        self.wall_time: float | None = None

    # ------------------------------------------------------------ console

    def _read(self) -> None:
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            with self._cond:
                self._buf += chunk
                self._cond.notify_all()
            if self._log:
                self._log.write(chunk)
                self._log.flush()
        with self._cond:
            self._cond.notify_all()

    @property
    def console(self) -> str:
        with self._cond:
            return self._buf.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> re.Match | None:
        """The first match of `pattern` in the console (from byte `since`),
        waiting up to `timeout`."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._buf[since:].decode("utf-8", "replace"))
                if m or self.proc.poll() is not None and not self._reader.is_alive():
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))

    def console_since(self, since: int) -> str:
        """The console after byte `since` (see `mark()`)."""
        with self._cond:
            data = self._buf[since:]
        return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")

    def send(self, text: str) -> None:
        """Type `text` on the serial console (an `interactive` VM)."""
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def mark(self) -> int:
        """The console's length now: `wait_for(..., since=mark)` looks after it."""
        with self._cond:
            return len(self._buf)

    # ------------------------------------------------------------ monitor

    def monitor(self, command: str, timeout: float = 5.0) -> str:
        """One human-monitor command; returns what the monitor answered."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    s.connect(self.monitor_path)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            out = b""
            while b"(qemu)" not in out:
                out += s.recv(4096)
            s.sendall(command.encode() + b"\n")
            out = b""
            while out.count(b"(qemu)") < 1:
                data = s.recv(4096)
                if not data:
                    break
                out += data
            return out.decode("utf-8", "replace")
        finally:
            s.close()

    def sendkey(self, keys: str) -> str:
        return self.monitor(f"sendkey {keys}")

    # ------------------------------------------------------------ end

    def wait(self, timeout: float) -> int | None:
        """qemu's exit status, or None if it still runs after `timeout`."""
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(2)
        self.wall_time = time.monotonic() - self.started
        return self.exit_code

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(2)
        for stream in (self.proc.stdout, self.proc.stdin, self._log):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def kernel_time(console: str, pattern: str) -> float | None:
    """The kernel timestamp of the first console line matching `pattern`."""
    rx = re.compile(pattern)
    for line in console.splitlines():
        m = TIMESTAMP.match(line)
        if m and rx.search(m.group(2)):
            return float(m.group(1))
    return None


def kernel_lines(console: str, pattern: str) -> list[tuple[float, str]]:
    """(timestamp, text) of every timestamped console line matching `pattern`."""
    rx = re.compile(pattern)
    out = []
    for line in console.splitlines():
        m = TIMESTAMP.match(line)
        if m and rx.search(m.group(2)):
            out.append((float(m.group(1)), m.group(2)))
    return out
