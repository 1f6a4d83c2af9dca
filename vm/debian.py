"""`make vm-debian`: Debian 12 booted by upstart-py in qemu, to a login prompt.

    python -m vm.debian              build (cached), boot, log in, check, reboot,
                                     poweroff, check the disk; exit 1 on any failure
    python -m vm.debian --build      only build the image
    python -m vm.debian --systemd    also boot the same packages with systemd (timings)
    python -m vm.debian --shell      boot the image interactively (ctrl-a x quits)

The image (all in vm/.cache/debian/):

* `base-KEY/`: `mmdebstrap --variant=minbase` of PACKAGES from the host's
  own apt sources (no mirror is named), no systemd as init. KEY hashes the
  candidate versions apt gives for PACKAGES, so a rerun reuses it.
* `wheels/`: our wheel (rebuilt each time) and our dependencies' wheels.
* `disk.img`: a copy of the base with upstart-py installed the way a user
  would: `pip install upstart-py` into the guest's python3 (in a chroot,
  from the wheels), then `upstart-install-root --jobs debian /`; plus the
  machine's files (fstab, hostname, interfaces, root without password, a
  swap file) and one VM-only job for a daemon that is not installed
  (`missing-daemon`: the bad-input case). `mke2fs -t ext4 -d`, no mounts.
* `vmlinuz`, `initrd.img`: the guest's own `linux-image-cloud-amd64` and its
  initramfs-tools initramfs (loads virtio_blk, mounts /dev/vda, runs init).

The check (`run_check`) drives the serial console from Python, writes the
whole transcript to `console.log` and prints one timings line.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

from upstart.observe import jsonlog

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache", "debian")
SUITE = "bookworm"
PACKAGES = ("udev", "dbus", "rsyslog", "cron", "openssh-server", "ifupdown", "util-linux",
            "procps", "kmod", "python3", "python3-pip", "e2fsprogs", "iproute2",
            "linux-image-cloud-amd64")
BUILD_FORMAT = 1            # bump when the base's recipe changes
HOSTNAME = "upstart-debian"
IMAGE_MB = 2048
SERVICES = ("udev", "dbus", "rsyslog", "cron", "ssh")
DAEMON_JOBS = ("udev", "dbus", "rsyslog", "cron", "ssh", "ttyS0")
# init's event log lives in /run (a tmpfs, gone at power-off): the session
# copies the first boot's to the disk, read back from the image afterwards
EVENTS_LOG = jsonlog.default_path(False, {})          # /run/upstart/upstart-events.jsonl
EVENTS_COPY = "/root/upstart-events-boot1.jsonl"
APPEND = ("console=ttyS0 root=/dev/vda ro panic=0 printk.devkmsg=on printk.time=1 "
          "loglevel=6 net.ifnames=0")

FILES = {
    "/etc/fstab": "# upstart-py VM (vm/debian.py)\n"
                  "/dev/vda  /      ext4   errors=remount-ro  0 1\n"
                  "tmpfs     /tmp   tmpfs  nosuid,nodev       0 0\n"
                  "/swapfile none   swap   sw                 0 0\n",
    "/etc/hostname": HOSTNAME + "\n",
    "/etc/hosts": f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n::1 localhost ip6-localhost\n",
    "/etc/network/interfaces": "# upstart-py VM: loopback and a dummy link, no network\n"
                               "auto lo\niface lo inet loopback\n\n"
                               "auto dummy0\niface dummy0 inet static\n"
                               "    address 192.0.2.10/24\n"
                               "    pre-up ip link add dummy0 type dummy\n"
                               "    post-down ip link del dummy0\n",
    # loading `dummy` makes a `dummy0` of its own (numdummies=1), and then
    # the pre-up's `ip link add dummy0` fails with "File exists"
    "/etc/modprobe.d/dummy.conf": "# upstart-py VM: links are made by ifupdown's pre-up\n"
                                  "options dummy numdummies=0\n",
    # the bad-input case: a job whose daemon is not in the image
    "/etc/init/missing-daemon.conf": "# VM only (vm/debian.py): a daemon that is not installed\n"
                                     "description \"a job whose program is missing\"\n"
                                     "start on runlevel [2345]\nstop on runlevel [!2345]\n"
                                     "exec /usr/sbin/no-such-daemon --foreground\n",
}


def log(msg: str) -> None:
    sys.stderr.write(f"vm-debian: {msg}\n")
    sys.stderr.flush()


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, **kw)


# ------------------------------------------------------------------ host


def ensure_host_packages() -> None:
    """mmdebstrap, e2fsprogs and qemu from apt when missing (setup-system.sh
    installs them too)."""
    want = [pkg for prog, pkg in (("mmdebstrap", "mmdebstrap"), ("mke2fs", "e2fsprogs"),
                                  ("debugfs", "e2fsprogs"),
                                  ("qemu-system-x86_64", "qemu-system-x86"))
            if not shutil.which(prog)]
    if not want:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"installing {' '.join(sorted(set(want)))}")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *sorted(set(want))]
    if subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL) != 0:
        sh(["apt-get", "update", "-qq"], env=env)
        sh(cmd, env=env, stdout=subprocess.DEVNULL)


def apt_sources() -> list[str]:
    """The host's own apt source files: mmdebstrap reads them as its mirrors."""
    files = glob.glob("/etc/apt/sources.list") + \
        sorted(glob.glob("/etc/apt/sources.list.d/*.list") +
               glob.glob("/etc/apt/sources.list.d/*.sources"))
    return [f for f in files if os.path.getsize(f) > 0]


def candidate_versions(packages=PACKAGES) -> dict[str, str]:
    out = subprocess.run(["apt-cache", "policy", *packages], capture_output=True,
                         text=True).stdout
    versions, name = {}, None
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            name = line[:-1]
        elif name and line.strip().startswith("Candidate:"):
            versions[name] = line.split(":", 1)[1].strip()
    return versions


def base_key(extra: tuple[str, ...] = ()) -> str:
    versions = candidate_versions(PACKAGES + extra)
    if any(v in ("", "(none)") for v in versions.values()) or len(versions) < len(PACKAGES):
        sh(["apt-get", "update", "-qq"])
        versions = candidate_versions(PACKAGES + extra)
    h = hashlib.sha256(json.dumps([BUILD_FORMAT, SUITE, sorted(versions.items())]).encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ base


def ensure_base(extra: tuple[str, ...] = (), name: str = "base") -> str:
    """The mmdebstrap root for PACKAGES (+ extra), built once per key."""
    key = base_key(extra)
    path = os.path.join(CACHE, f"{name}-{key}")
    if os.path.isdir(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    for old in glob.glob(os.path.join(CACHE, f"{name}-*")):
        if re.fullmatch(rf"{name}-[0-9a-f]{{16}}(\.tmp)?", os.path.basename(old)):
            shutil.rmtree(old, ignore_errors=True)
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"mmdebstrap {SUITE} minbase ({name}, key {key}): about a minute")
    t0 = time.monotonic()
    sh(["mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory",
        "--include=" + ",".join(PACKAGES + extra),
        SUITE, tmp, *apt_sources()], stdout=subprocess.DEVNULL)
    versions = subprocess.run(["chroot", tmp, "dpkg-query", "-W"], capture_output=True,
                              text=True, check=True).stdout
    with open(os.path.join(tmp, "PACKAGES.upstart-vm"), "w") as f:
        f.write(versions)
    os.rename(tmp, path)
    log(f"base built in {time.monotonic() - t0:.0f} s")
    return path


# ------------------------------------------------------------------ wheels


def build_wheels() -> str:
    """Our wheel (fresh) and our dependencies' wheels (kept) in CACHE/wheels."""
    out = os.path.join(CACHE, "wheels")
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, "upstart_py-*.whl")):
        os.unlink(old)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    sh([*pip, "wheel", "--no-deps", "-w", out, REPO], stdout=subprocess.DEVNULL)
    stamp = os.path.join(out, "deps.stamp")
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        import tomllib
        deps = tomllib.load(f)["project"]["dependencies"]
    want = "\n".join(deps)
    if not os.path.exists(stamp) or open(stamp).read() != want:
        sh([*pip, "wheel", "-w", out, *deps], stdout=subprocess.DEVNULL)
        with open(stamp, "w") as f:
            f.write(want)
    return out


# ------------------------------------------------------------------ image


def install_into(root: str, wheels: str) -> None:
    """What a user does on the machine, run in a chroot of the image."""
    dst = os.path.join(root, "tmp", "wheels")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(wheels, dst)
    try:
        # the host's PIP_* settings (a find-links path, a cert) mean nothing in the guest
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        sh(["chroot", root, "python3", "-m", "pip", "install", "-q", "--no-index",
            "--find-links", "/tmp/wheels", "--break-system-packages", "--no-warn-script-location",
            "--root-user-action=ignore", "--disable-pip-version-check", "upstart-py"], env=env)
        sh(["chroot", root, "upstart-install-root", "--jobs", "debian", "/"])
    finally:
        shutil.rmtree(dst, ignore_errors=True)


def configure(root: str, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(text)
    sh(["chroot", root, "passwd", "-dq", "root"])
    swap = os.path.join(root, "swapfile")
    with open(swap, "wb") as f:
        f.write(b"\x5a" * (16 << 20))    # not zeros: mke2fs -d would leave holes
    os.chmod(swap, 0o600)
    sh(["mkswap", "-q", swap], stdout=subprocess.DEVNULL)
    # no machine-specific state from the build
    for path in ("etc/machine-id", "var/lib/dbus/machine-id"):
        try:
            os.unlink(os.path.join(root, path))
        except OSError:
            pass
    open(os.path.join(root, "etc/machine-id"), "w").close()


def build_image(base: str, wheels: str | None, files: dict[str, str], image: str,
                boot_dir: str) -> None:
    stage = image + ".stage"
    shutil.rmtree(stage, ignore_errors=True)
    sh(["cp", "-a", base, stage])
    try:
        if wheels:
            install_into(stage, wheels)
        configure(stage, files)
        for pattern, name in (("vmlinuz-*", "vmlinuz"), ("initrd.img-*", "initrd.img")):
            found = sorted(p for p in glob.glob(os.path.join(stage, "boot", pattern))
                           if re.search(r"-\d+-cloud-amd64$", p))
            if not found:
                raise RuntimeError(f"no /boot/{pattern} in the image")
            shutil.copyfile(found[-1], os.path.join(boot_dir, name))
        if os.path.exists(image):
            os.unlink(image)
        sh(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "debian-root", "-d", stage, image,
            f"{IMAGE_MB}M"])
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def build(systemd: bool = False) -> dict[str, str]:
    """Everything a boot needs: {'disk', 'kernel', 'initrd'}."""
    ensure_host_packages()
    if os.geteuid() != 0:
        raise RuntimeError("building the Debian image needs root (mmdebstrap, chroot)")
    os.makedirs(CACHE, exist_ok=True)
    if systemd:
        base = ensure_base(("systemd-sysv",), name="base-systemd")
        wheels, files, tag = None, {k: v for k, v in FILES.items()
                                    if not k.startswith("/etc/init/")}, "systemd"
    else:
        base = ensure_base()
        wheels, files, tag = build_wheels(), FILES, "upstart"
    boot_dir = os.path.join(CACHE, f"boot-{tag}")
    os.makedirs(boot_dir, exist_ok=True)
    image = os.path.join(CACHE, "disk.img" if tag == "upstart" else f"disk-{tag}.img")
    t0 = time.monotonic()
    build_image(base, wheels, files, image, boot_dir)
    log(f"{os.path.relpath(image, REPO)} made in {time.monotonic() - t0:.0f} s")
    return {"disk": image, "kernel": os.path.join(boot_dir, "vmlinuz"),
            "initrd": os.path.join(boot_dir, "initrd.img")}


# ------------------------------------------------------------------ disk checks


def fsck_problems(image: str) -> list[str]:
    """`e2fsck -fn` must exit 0 and the superblock must say clean, with no
    journal to recover (e2fsck -n alone exits 0 on a journal needing recovery)."""
    problems = []
    fsck = subprocess.run(["e2fsck", "-fn", image], capture_output=True, text=True)
    if fsck.returncode != 0:
        problems.append(f"e2fsck -fn exit {fsck.returncode}: {fsck.stdout[-500:]}")
    head = subprocess.run(["dumpe2fs", "-h", image], capture_output=True, text=True).stdout
    state = re.search(r"^Filesystem state:\s*(.*)$", head, re.M)
    if not state or state.group(1).strip() != "clean":
        problems.append(f"superblock state {state.group(1).strip() if state else '?'!r}")
    features = re.search(r"^Filesystem features:\s*(.*)$", head, re.M)
    if features and "needs_recovery" in features.group(1).split():
        problems.append("the journal needs recovery")
    return problems


def read_file(image: str, path: str) -> bytes | None:
    out = subprocess.run(["debugfs", "-R", f"cat {path}", image], capture_output=True)
    return out.stdout if out.returncode == 0 and out.stdout else None


# ------------------------------------------------------------------ the console


class Serial:
    """A root shell on the guest's ttyS0, typed from Python."""

    def __init__(self, vm):
        self.vm = vm
        self.n = 0

    def login(self, timeout: float) -> float | None:
        """Wait for `login:`, log in as root; the host time the prompt showed."""
        since = self.vm.mark()
        m = self.vm.wait_for(r"login: *$|Kernel panic", timeout, since=since)
        if not m or "panic" in m.group(0):
            return None
        seen = time.monotonic()
        since = self.vm.mark()
        self.vm.send("root\n")
        if not self.vm.wait_for(r"root@[^:\s]+:~# *$", 120, since=since):
            return None
        # no echo, no prompt, no bracketed paste: only the commands' output
        self.run("stty -echo cols 200; bind 'set enable-bracketed-paste off'; PS1=; "
                 "export TERM=dumb PAGER=cat")
        return seen

    def run(self, command: str, timeout: float = 120) -> tuple[int | None, str]:
        """(exit status, output) of one command line; status None on a timeout."""
        self.n += 1
        since = self.vm.mark()
        self.vm.send(f"{command}; echo \"@@{self.n} $?@@\"\n")
        m = self.vm.wait_for(rf"@@{self.n} (\d+)@@", timeout, since=since)
        text = self.vm.console_since(since)
        if not m:
            return None, text
        out = text[:text.find(f"@@{self.n} {m.group(1)}@@")]
        lines = out.replace("\r", "").split("\n")
        if lines and command[:20] in lines[0]:
            lines = lines[1:]                     # the echo of the line typed
        return int(m.group(1)), "\n".join(lines).strip("\n")


# ------------------------------------------------------------------ the check


def _jobs(listing: str) -> dict[str, str]:
    """job (or `job (instance)`) -> `goal/state` from `initctl list`."""
    out = {}
    for line in listing.splitlines():
        m = re.match(r"^(\S+(?: \(.*\))?) (\S+/\S+?)[,]?(?: process \d+)?$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _pids(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\S+) start/running, process (\d+)", text, re.M)}


def boot_timings(records: list[dict]) -> dict[str, float]:
    """Kernel-clock seconds of the first boot's `startup` and of the last of
    SERVICES ready (or running, for those without `ready on`).

    A job's readiness is its `ready JOB=...` event. The recorder writes the
    env of an event init queues itself (not a job event) only when the event
    finishes (`event-finished`), so that record is what names the job; a
    `ready` event blocks nobody unless it starts a job, so it finishes at
    once: a late finish can only make the mark later, never earlier."""
    first = []
    for rec in records:
        if first and rec.get("mono", 0) < first[-1].get("mono", 0):
            break                                     # the next boot's records
        first.append(rec)
    out = {}
    for rec in first:
        if rec.get("kind") == "event-queued" and rec.get("name") == "startup":
            out.setdefault("startup", rec["mono"])
    when = {}
    for rec in first:
        job = rec.get("job")
        if rec.get("kind") == "state" and rec.get("state") == "running" and job in SERVICES:
            when.setdefault(job, rec["mono"])
        if rec.get("kind") in ("event-queued", "event-finished") and rec.get("name") == "ready":
            job = next((e[4:] for e in rec.get("env", []) if e.startswith("JOB=")), None)
            if job in SERVICES and job in when:
                when[job] = max(when[job], rec["mono"])
    if len(when) == len(SERVICES):
        out["services"] = max(when.values())
    return out


class Report:
    def __init__(self):
        self.problems: list[str] = []
        self.timings: dict[str, float] = {}
        self.devices: int | None = None     # udev's database at the login: devices known

    def check(self, ok, what: str) -> bool:
        if not ok:
            self.problems.append(what)
        return bool(ok)


def _uptime_at(shell: Serial, seen: float) -> float | None:
    """The guest's kernel clock when the host saw the prompt at `seen`."""
    code, out = shell.run("cat /proc/uptime")
    now = time.monotonic()
    m = re.search(r"^(\d+\.\d+) ", out, re.M)
    return float(m.group(1)) - (now - seen) if code == 0 and m else None


def run_check(paths: dict[str, str], timeout: float = 900) -> Report:
    """The whole scripted session, then the disk; the transcript goes to
    CACHE/console.log. `timeout`: for each boot to reach `login:`."""
    from vm.qemu import VM
    rep = Report()
    console = os.path.join(CACHE, "console.log")
    vm = VM(paths["kernel"], paths["initrd"], disk=paths["disk"], memory=1024,
            base_append=APPEND, reboot=True, interactive=True, log=console)
    try:
        powered_off = _session(vm, rep, timeout)
    finally:
        vm.close()
    with open(console, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for bad in ("Traceback (most recent call last)", "internal error", "Kernel panic"):
        rep.check(bad not in text, f"the console shows {bad!r}")
    if powered_off:         # else the disk is as a power cut leaves it: nothing to learn
        for p in fsck_problems(paths["disk"]):
            rep.problems.append(f"disk after power-off: {p}")
    svg = read_file(paths["disk"], "/root/boot-timeline.svg")
    if rep.check(svg and svg.lstrip().startswith(b"<"), "no timeline SVG in the image"):
        with open(os.path.join(CACHE, "boot-timeline.svg"), "wb") as f:
            f.write(svg)
    events = read_file(paths["disk"], EVENTS_COPY) or b""
    records = []
    for line in events.decode("utf-8", "replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass
    rep.timings.update(boot_timings(records))
    added = device_events(records)
    rep.check(rep.devices is not None and added >= 0.9 * rep.devices,
              f"the first boot had {added} *-device-added events for {rep.devices} devices "
              "in udev's database: the udev bridge missed the coldplug")
    return rep


def device_events(records: list[dict]) -> int:
    """`*-device-added` events init queued in the first boot of the log."""
    count, last = 0, 0.0
    for rec in records:
        if rec.get("mono", 0) < last:
            break                                     # the next boot's records
        last = rec.get("mono", 0)
        if rec.get("kind") == "event-queued" and str(rec.get("name", "")).endswith(
                "-device-added"):
            count += 1
    return count


def _check_init_name(shell, rep: Report, when: str) -> None:
    """PID 1 reads as `/sbin/init ARGS` (the kernel ran the script as its
    interpreter; init, with CAP_SYS_RESOURCE here, points the kernel's argv
    at its own: exactly those arguments, no padding), and `pidof init` is 1."""
    code, line = shell.run("tr '\\0' '|' < /proc/1/cmdline; echo; pidof init")
    argv, _, pids = line.strip().partition("\n")
    rep.check(argv.startswith("/sbin/init|") and "||" not in argv,
              f"PID 1's command line {when} is {argv!r}, not /sbin/init and its arguments")
    rep.check("1" in pids.split(), f"pidof init {when} does not find PID 1: {pids!r}")


def _session(vm, rep: Report, timeout: float) -> bool:
    """Log in, look, `telinit u`, reboot, log in again, power off; True when
    the machine powered off."""
    shell = Serial(vm)
    seen = shell.login(timeout)
    if not rep.check(seen, "no login prompt on ttyS0 (or the login failed)"):
        return False
    up = _uptime_at(shell, seen)
    if up is not None:
        rep.timings["login"] = up
    code, listing = shell.run("initctl list")
    jobs = _jobs(listing)
    for job in SERVICES:
        rep.check(jobs.get(job) == "start/running", f"{job} is {jobs.get(job)!r}, "
                  "not start/running")
    # the network as /etc/network/interfaces says: the dummy link up with its
    # address, configured once (networking's ifup -a and network-interface's
    # ifup never race on it: a second ifup at once fails on its pre-up)
    code, addr = shell.run("ip -4 -br addr show dummy0")
    rep.check(code == 0 and "192.0.2.10/24" in addr, f"dummy0 not configured: {addr!r}")
    rep.check(jobs.get("network-interface (dummy0)") == "start/running",
              f"network-interface (dummy0) is {jobs.get('network-interface (dummy0)')!r}")
    code, netlog = shell.run("cat /var/log/upstart/networking.log "
                             "/var/log/upstart/network-interface-dummy0.log 2>/dev/null")
    rep.check("failed" not in netlog, f"ifup failed at boot: {netlog!r}")
    # the coldplug reached the bridge: as many devices as udev knows (each
    # replayed `add` is a `*-device-added` event; checked on the event log)
    code, count = shell.run("udevadm info --export-db | grep -c '^P:'")
    if code == 0 and count.strip().isdigit():
        rep.devices = int(count.strip())
    # where the boot's CPU went (for docs/boot.md): the processes still alive
    shell.run("ps -eo pid,time,etimes,comm --sort=-time | head -20")
    code, who = shell.run("who")
    rep.check(re.search(r"^root\s+ttyS0\b", who, re.M), f"who: no root on ttyS0: {who!r}")
    code, level = shell.run("runlevel")
    rep.check(level.strip() == "N 2", f"runlevel says {level.strip()!r}, not 'N 2'")
    code, why = shell.run("initctl why ssh")
    rep.check(code == 0 and "ssh" in why, f"initctl why ssh failed: {why!r}")
    code, failed = shell.run("initctl list --failed")
    rep.check("missing-daemon" in failed, "missing-daemon is not in initctl list --failed")
    code, why = shell.run("initctl why missing-daemon")
    rep.check(code == 0 and "it failed" in why,
              f"initctl why missing-daemon does not say it failed: {why!r}")
    code, _ = shell.run("initctl timeline --svg=/root/boot-timeline.svg && "
                        "ls -l /root/boot-timeline.svg")
    rep.check(code == 0, "initctl timeline --svg failed")
    code, _ = shell.run(f"cp {EVENTS_LOG} {EVENTS_COPY} && wc -l {EVENTS_COPY}")
    rep.check(code == 0, f"no event log at {EVENTS_LOG}")
    _check_init_name(shell, rep, "at boot")
    status = "for j in " + " ".join(DAEMON_JOBS) + "; do status $j; done"
    code, before = shell.run(status)
    code, _ = shell.run("telinit u && sleep 1 && "
                        "until initctl version >/dev/null 2>&1; do sleep 0.2; done", 300)
    rep.check(code == 0, "telinit u failed")
    code, after = shell.run(status)
    pb, pa = _pids(before), _pids(after)
    rep.check(len(pb) == len(DAEMON_JOBS) and pb == pa,
              f"PIDs changed over telinit u: {pb} -> {pa}")
    _check_init_name(shell, rep, "after telinit u")
    shell.run("sync")
    since = vm.mark()
    vm.send("reboot\n")
    rep.check(vm.wait_for(r"reboot: Restarting system", 300, since=since),
              "reboot did not restart the machine")
    seen = shell.login(timeout)
    if not rep.check(seen, "no login prompt after the reboot"):
        return False
    code, last = shell.run("last -x -n 20 -f /var/log/wtmp")
    rep.check(len(re.findall(r"^reboot\s+system boot", last, re.M)) >= 2,
              f"last -x does not show two boots: {last!r}")
    rep.check(re.search(r"^(shutdown\s+system down|runlevel)", last, re.M),
              "last -x shows no shutdown/runlevel record")
    code, level = shell.run("runlevel")
    rep.check(level.strip() == "N 2", f"after the reboot runlevel says {level.strip()!r}")
    since = vm.mark()
    asked = time.monotonic()
    vm.send("poweroff\n")
    end = vm.wait(300)
    if not rep.check(end is not None, "poweroff: qemu did not exit"):
        return False
    rep.timings["poweroff"] = time.monotonic() - asked
    text = vm.console_since(since)
    rep.check("Will now power off" in text, "no `Will now power off` on the console")
    rep.check("reboot: Power down" in text, "no `reboot: Power down` on the console")
    return True


def time_boot(paths: dict[str, str], label: str, timeout: float = 900) -> Report:
    """One plain boot for comparison (`--systemd`, bench/debian.py): to
    `login:`, log in, `poweroff`; the same host-side measures as run_check.
    `label`: "upstart-py" or "systemd" (the image's init; its transcript is
    CACHE/console-LABEL.log)."""
    from vm.qemu import VM
    rep = Report()
    vm = VM(paths["kernel"], paths["initrd"], disk=paths["disk"], memory=1024,
            base_append=APPEND, interactive=True,
            log=os.path.join(CACHE, f"console-{label}.log"))
    try:
        shell = Serial(vm)
        seen = shell.login(timeout)
        if not rep.check(seen, f"{label}: no login prompt"):
            return rep
        up = _uptime_at(shell, seen)
        if up is not None:
            rep.timings["login"] = up
        if label == "systemd":          # the image's init is what we think it is
            code, out = shell.run("systemd-analyze time | head -1")
            rep.check(re.search(r"\(kernel\)", out), f"systemd-analyze: {out!r}")
        else:
            code, out = shell.run("initctl version")
            rep.check("upstart" in out, f"initctl version: {out!r}")
        asked = time.monotonic()
        vm.send("poweroff\n")
        rep.check(vm.wait(300) is not None, f"{label}: poweroff did not end qemu")
        rep.timings["poweroff"] = time.monotonic() - asked
    finally:
        vm.close()
    return rep


def timings_line(t: dict[str, float], label: str = "upstart-py") -> str:
    def f(key):
        return f"{t[key]:.1f} s" if key in t else "?"
    return (f"{label} timings: kernel start -> startup {f('startup')}, -> services "
            f"running {f('services')}, -> login: {f('login')}; power-off {f('poweroff')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true", help="only build the image")
    ap.add_argument("--shell", action="store_true", help="boot interactively")
    ap.add_argument("--systemd", action="store_true",
                    help="then boot the same packages with systemd as init, for comparison")
    args = ap.parse_args(argv)
    paths = build()
    if args.build:
        return 0
    if args.shell:
        from vm.qemu import accel_args
        return subprocess.call(["qemu-system-x86_64", *accel_args(), "-nodefaults",
                                "-display", "none", "-serial", "mon:stdio", "-nic", "none",
                                "-m", "1024", "-smp", "2", "-kernel", paths["kernel"],
                                "-initrd", paths["initrd"], "-append", APPEND, "-drive",
                                f"file={paths['disk']},format=raw,if=virtio"])
    t0 = time.monotonic()
    rep = run_check(paths)
    print(timings_line(rep.timings))
    log(f"console transcript: {os.path.relpath(os.path.join(CACHE, 'console.log'), REPO)}; "
        f"check took {time.monotonic() - t0:.0f} s")
    problems = list(rep.problems)
    if args.systemd:
        sd = time_boot(build(systemd=True), "systemd")
        print(timings_line(sd.timings, "systemd 252"))
        problems += sd.problems
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    sys.exit(main())
