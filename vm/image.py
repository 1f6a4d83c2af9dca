"""`make vm-prep`: fetch a kernel and build the initramfs that boots our init.

Everything lands in vm/.cache/ and is reused:

* `vmlinuz`: the Debian cloud kernel, taken out of the .deb that
  `linux-image-cloud-amd64` depends on (`apt-get download` + `dpkg-deb
  --fsys-tarfile`); no kernel package is ever installed on the host.
* `base.cpio`: busybox (static), Debian's /usr/bin/python3.11 with the
  libraries `ldd` names, its standard library (trimmed, precompiled) and our
  pure-Python dependencies from the venv. Rebuilt only when its inputs'
  fingerprint changes.
* `overlay.cpio`: our package (precompiled), the tool wrappers, /sbin/init,
  /etc/init (stock jobs from jobs/ plus the VM-only jobs from vm/jobs/).
  Rebuilt every time (a fraction of a second).
* `initrd.cpio`: base + overlay concatenated (the kernel unpacks both, the
  overlay's entries replacing the base's).

The archives are uncompressed cpio "newc" written by vm/cpio.py, so device
nodes need no mknod on the host. Host packages needed (installed with
apt-get when missing): qemu-system-x86, busybox-static, dash, python3.11.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import hashlib
import importlib.util
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache")
JOBS = os.path.join(REPO, "jobs")
VM_JOBS = os.path.join(HERE, "jobs")
ROOTFS = os.path.join(HERE, "rootfs")
PYVER = "3.11"
GUEST_PY = f"/usr/bin/python{PYVER}"
GUEST_STDLIB = f"/usr/lib/python{PYVER}"
GUEST_SITE = f"/usr/local/lib/python{PYVER}/dist-packages"
KERNEL_META = "linux-image-cloud-amd64"
# modules for the test disk (virtio-blk; ext4, which mounts ext2, is built in),
# in load order (their `depends=`); the guest has them in /lib/modules/vm/
KERNEL_MODULES = ("drivers/virtio/virtio_ring", "drivers/virtio/virtio",
                  "drivers/virtio/virtio_pci_legacy_dev", "drivers/virtio/virtio_pci_modern_dev",
                  "drivers/virtio/virtio_pci", "drivers/block/virtio_blk")
BASE_FORMAT = 3  # bump when base.cpio's layout changes

# stdlib parts a boot never needs
STDLIB_SKIP_DIRS = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
                    "pydoc_data", "distutils", "venv", "site-packages", "dist-packages",
                    "__pycache__", "__phello__", "sqlite3", "curses", "dbm"}
DYNLOAD_SKIP = ("_test", "xx", "_ctypes_test", "_sqlite3", "_ssl", "_hashlib", "nis", "_dbm",
                "_curses", "readline", "ossaudiodev", "audioop")
# console scripts not installed as wrappers: /sbin/init is ours
NOT_TOOLS = {"init", "upstart"}
# busybox applets we do not link: ours (or dash, for sh) take their place.
# /bin/sh is Debian's dash, as on Debian: busybox's sh prefers its own applets
# to $PATH, so a job's `reboot` would run busybox reboot (SIGTERM to PID 1,
# which for Upstart means re-exec) instead of ours.
BUSYBOX_SKIP = {"busybox", "sh", "init", "linuxrc", "halt", "reboot", "poweroff", "getty",
                "run-init"}

WRAPPER = f"""#!{GUEST_PY}
# upstart-py's `{{name}}` in the VM ({{module}}:{{func}}), a console script as
# pip writes them: argv[0] is kept (initctl's shorthands and
# reboot/halt/poweroff dispatch on its basename).
import sys
from {{module}} import {{func}}
sys.exit({{func}}())
"""

INIT = f"""#!{GUEST_PY}
# /sbin/init in the VM: upstart-py's init as PID 1 (upstart.cli.init).
# Kernel command line words that are not kernel parameters arrive as argv
# (e.g. `--verbose`); the rest of the set-up is upstart/daemon/boot.py's.
import sys
from upstart.cli.init import main
sys.exit(main())
"""

# busybox getty takes no `-8` (agetty's "8-bit clean"; busybox's always is)
GETTY = """#!/bin/sh
# /sbin/getty in the VM: the stock tty jobs call agetty's `getty -8 38400 ttyN`;
# busybox getty is always 8-bit clean and has no -8, so drop it.
[ "$1" = "-8" ] && shift
exec /bin/busybox getty "$@"
"""

ETC = {
    "/etc/passwd": "root::0:0:root:/root:/bin/sh\n",
    "/etc/group": "root:x:0:\ntty:x:5:\n",
    "/etc/shadow": "root::19000:0:99999:7:::\n",
    "/etc/hostname": "upstart-vm\n",
    "/etc/issue": "upstart-py VM \\l\n\n",
    "/etc/profile": "export PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin\n",
}


def log(msg: str) -> None:
    sys.stderr.write(f"vm-prep: {msg}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ host tools


def ensure_host_packages() -> None:
    """qemu, busybox and Debian's python3.11, from apt when missing."""
    wanted = []
    if not os.path.exists("/bin/dash"):
        wanted.append("dash")
    if not shutil.which("qemu-system-x86_64"):
        wanted.append("qemu-system-x86")
    if not os.path.exists("/bin/busybox") or "static" not in _file_kind("/bin/busybox"):
        wanted.append("busybox-static")
    if not os.path.exists(GUEST_PY):
        wanted.append(f"python{PYVER}")
    if not shutil.which("mke2fs") or not shutil.which("debugfs"):
        wanted.append("e2fsprogs")  # the test disk
    if not wanted:
        return
    log(f"installing {' '.join(wanted)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.call(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted],
                       env=env, stdout=subprocess.DEVNULL) != 0:
        subprocess.check_call(["apt-get", "update", "-qq"], env=env)
        subprocess.check_call(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                               *wanted], env=env, stdout=subprocess.DEVNULL)


def _file_kind(path: str) -> str:
    """'static' or 'dynamic', from the ELF program headers (no `file` needed)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return "dynamic" if b"ld-linux" in head or b"/lib64/" in head else "static"


# ------------------------------------------------------------------ kernel


def kernel_path() -> str:
    return os.path.join(CACHE, "vmlinuz")


def module_paths() -> list[str]:
    """The cached kernel modules for the test disk, in load order."""
    return [os.path.join(CACHE, "modules", os.path.basename(m) + ".ko") for m in KERNEL_MODULES]


def fetch_kernel() -> str:
    """vmlinuz and the few modules we load (KERNEL_MODULES), from the kernel .deb."""
    path = kernel_path()
    if os.path.exists(path) and all(os.path.exists(m) for m in module_paths()):
        return path
    os.makedirs(CACHE, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def depends() -> list[str]:
        out = subprocess.run(["apt-cache", "depends", KERNEL_META], capture_output=True,
                             text=True, env=env).stdout
        return [line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.strip().startswith("Depends:") and "linux-image-" in line]

    pkgs = depends()
    if not pkgs:
        subprocess.check_call(["apt-get", "update", "-qq"], env=env)
        pkgs = depends()
    if not pkgs:
        raise RuntimeError(f"apt knows no {KERNEL_META}")
    pkg = pkgs[0]
    log(f"downloading {pkg}")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        os.chmod(tmp, 0o755)
        subprocess.check_call(["apt-get", "download", "-qq", pkg], cwd=tmp, env=env,
                              stderr=subprocess.DEVNULL)
        deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        wanted = {f"kernel/{m}.ko": dst for m, dst in zip(KERNEL_MODULES, module_paths())}
        os.makedirs(os.path.join(CACHE, "modules"), exist_ok=True)
        with tarfile.open(fileobj=tar.stdout, mode="r|") as tf:
            for member in tf:
                if not member.isfile():
                    continue
                rel = member.name.split("/", 4)[-1]  # ./lib/modules/VERSION/kernel/...
                if os.path.basename(member.name).startswith("vmlinuz-"):
                    with open(path + ".tmp", "wb") as out:
                        out.write(tf.extractfile(member).read())
                    with open(os.path.join(CACHE, "kernel-version"), "w") as out:
                        out.write(os.path.basename(member.name)[len("vmlinuz-"):] + "\n")
                elif member.name.startswith("./lib/modules/") and rel in wanted:
                    with open(wanted[rel], "wb") as out:
                        out.write(tf.extractfile(member).read())
        while tar.stdout.read(1 << 20):  # drain, so dpkg-deb ends quietly
            pass
        tar.stdout.close()
        tar.wait()
    if not os.path.exists(path + ".tmp"):
        raise RuntimeError(f"no vmlinuz in {pkg}")
    os.replace(path + ".tmp", path)
    return path


# ------------------------------------------------------------------ python files


def _pyc_name(guest_py: str) -> str:
    d, base = os.path.split(guest_py)
    return f"{d}/__pycache__/{base[:-3]}.cpython-{PYVER.replace('.', '')}.pyc"


def _compile(args: tuple[str, str, str]) -> tuple[str, bytes | None]:
    """Compile host `src` for guest path `dst` into `out`; return (guest pyc, bytes)."""
    src, dst, out = args
    try:
        py_compile.compile(src, cfile=out, dfile=dst, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except (py_compile.PyCompileError, SyntaxError, UnicodeDecodeError, ValueError):
        return _pyc_name(dst), None
    with open(out, "rb") as f:
        return _pyc_name(dst), f.read()


def add_python_tree(w, src_root: str, dst_root: str, skip_dirs=frozenset(),
                    pool=None, tmp: str = "/tmp") -> int:
    """Copy a tree of Python files with unchecked-hash .pyc beside them
    (the guest never stats sources nor writes __pycache__)."""
    jobs = []
    count = 0
    for dirpath, dirnames, filenames in os.walk(src_root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs
                             and not d.endswith((".dist-info", ".egg-info")))
        rel = os.path.relpath(dirpath, src_root)
        guest_dir = dst_root if rel == "." else f"{dst_root}/{rel}"
        w.dir(guest_dir)
        for name in sorted(filenames):
            src = os.path.join(dirpath, name)
            if name.endswith((".pyc", ".pyo")) or not os.path.isfile(src):
                continue
            dst = f"{guest_dir}/{name}"
            w.copy(dst, src)
            count += 1
            if name.endswith(".py"):
                out = os.path.join(tmp, f"{len(jobs)}.pyc")
                jobs.append((src, dst, out))
    results = pool.map(_compile, jobs, chunksize=16) if pool else map(_compile, jobs)
    for pyc, data in results:
        if data is not None:
            w.file(pyc, data)
    return count


def dependency_modules() -> list[str]:
    """Top-level modules of pyproject.toml's dependencies and theirs (no
    extras), as installed in the running (venv) interpreter."""
    import re
    import tomllib
    from importlib import metadata

    def name_of(req: str) -> str:
        return re.split(r"[\s<>=!~;\[(]", req.strip(), maxsplit=1)[0]

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        todo = [name_of(d) for d in tomllib.load(f)["project"]["dependencies"]]
    seen: set[str] = set()
    modules: set[str] = set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            log(f"dependency {name} is not installed in {sys.prefix}")
            continue
        for f in dist.files or ():
            top = f.parts[0]
            if len(f.parts) == 1 and not top.endswith(".py"):
                continue
            if top.endswith((".dist-info", ".egg-info")) or top in ("..", "__pycache__"):
                continue
            modules.add(top[:-3] if top.endswith(".py") else top)
        todo += [name_of(r) for r in dist.requires or () if _applies(r)]
    return sorted(modules)


def _applies(req: str) -> bool:
    """Does a Requires-Dist line apply on Linux, without extras?"""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # without packaging: only unconditional requirements
        return ";" not in req
    marker = Requirement(req).marker
    return marker is None or marker.evaluate({"extra": ""})


def _venv_site() -> str:
    spec = importlib.util.find_spec("jeepney")
    if spec is None or not spec.origin:
        raise RuntimeError("run vm-prep with the project's venv python (jeepney missing)")
    return os.path.dirname(os.path.dirname(spec.origin))


# ------------------------------------------------------------------ base archive


def _ldd(paths: list[str]) -> set[str]:
    libs: set[str] = set()
    for p in paths:
        out = subprocess.run(["ldd", p], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1 \
                    and parts[parts.index("=>") + 1].startswith("/"):
                libs.add(parts[parts.index("=>") + 1])
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    return libs


def _dynload() -> list[str]:
    d = os.path.join(GUEST_STDLIB, "lib-dynload")
    return sorted(os.path.join(d, n) for n in os.listdir(d)
                  if n.endswith(".so") and not n.startswith(DYNLOAD_SKIP))


def base_fingerprint() -> str:
    h = hashlib.sha256()
    h.update(str(BASE_FORMAT).encode())
    with open(__file__, "rb") as f:
        h.update(f.read())
    for p in (GUEST_PY, "/bin/busybox", "/bin/dash", os.path.join(GUEST_STDLIB, "os.py"),
              *module_paths()):
        st = os.stat(p)
        h.update(f"{p}:{st.st_size}:{int(st.st_mtime)}".encode())
    site = _venv_site()
    for dep in dependency_modules():
        for p in glob.glob(os.path.join(site, dep + "*")):
            h.update(f"{os.path.basename(p)}:{int(os.stat(p).st_mtime)}".encode())
    return h.hexdigest()[:16]


def build_base(path: str) -> None:
    from vm.cpio import CpioWriter

    site = _venv_site()
    tmp_final = path + ".tmp"
    with open(tmp_final, "wb") as f, tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ProcessPoolExecutor(min(16, os.cpu_count() or 1)) as pool:
        w = CpioWriter(f)
        for d in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin",
                  "/etc/init", "/proc", "/sys", "/dev", "/run", "/var/log/upstart", "/root",
                  "/mnt",
                  "/lib", "/lib64"):
            w.dir(d)
        w.dir("/tmp", 0o1777)
        w.symlink("/var/run", "/run")
        w.symlink("/var/lock", "/run/lock")
        # enough /dev for python to start before init mounts devtmpfs over it
        w.node("/dev/console", "c", 5, 1)
        w.node("/dev/urandom", "c", 1, 9, 0o666)
        # busybox and its applets
        w.copy("/bin/busybox", "/bin/busybox")
        applets = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True,
                                 text=True, check=True).stdout.split()
        for applet in applets:
            if os.path.basename(applet) not in BUSYBOX_SKIP:
                w.symlink("/" + applet, "/bin/busybox")
        w.copy("/bin/dash", "/bin/dash")
        w.symlink("/bin/sh", "dash")
        # python, its shared libraries, its standard library
        w.copy(GUEST_PY, GUEST_PY)
        w.symlink("/usr/bin/python3", f"python{PYVER}")
        dynload = _dynload()
        for lib in sorted(_ldd([GUEST_PY, "/bin/dash"] + dynload)):
            w.copy(lib, lib)
            real = os.path.realpath(lib)
            if real != lib:
                w.copy(real, real)
        n = add_python_tree(w, GUEST_STDLIB, GUEST_STDLIB,
                            skip_dirs=STDLIB_SKIP_DIRS | {"lib-dynload"} |
                            {d for d in os.listdir(GUEST_STDLIB) if d.startswith("config-")},
                            pool=pool, tmp=tmp)
        for so in dynload:
            w.copy(f"{GUEST_STDLIB}/lib-dynload/{os.path.basename(so)}", so)
        # our pure-Python dependencies, from the venv
        for dep in dependency_modules():
            pkg = os.path.join(site, dep)
            if os.path.isdir(pkg):
                n += add_python_tree(w, pkg, f"{GUEST_SITE}/{dep}", skip_dirs={"__pycache__"},
                                     pool=pool, tmp=tmp)
            elif os.path.isfile(pkg + ".py"):
                w.copy(f"{GUEST_SITE}/{dep}.py", pkg + ".py")
                pyc, data = _compile((pkg + ".py", f"{GUEST_SITE}/{dep}.py",
                                      os.path.join(tmp, f"{dep}.pyc")))
                if data is not None:
                    w.file(pyc, data)
        for name, text in ETC.items():
            w.file(name, text.encode(), 0o600 if name == "/etc/shadow" else 0o644)
        for ko in module_paths():
            w.copy(f"/lib/modules/vm/{os.path.basename(ko)}", ko)
        w.file("/lib/modules/vm/order",
               "".join(os.path.basename(ko) + "\n" for ko in module_paths()).encode())
        w.close()
    os.replace(tmp_final, path)
    log(f"base.cpio: {n} python files, {os.path.getsize(path) >> 20} MiB")


def ensure_base() -> str:
    path = os.path.join(CACHE, "base.cpio")
    stamp = os.path.join(CACHE, "base.fingerprint")
    fp = base_fingerprint()
    try:
        with open(stamp) as f:
            if f.read().strip() == fp and os.path.exists(path):
                return path
    except OSError:
        pass
    log("building base.cpio (busybox, python, stdlib, dependencies)")
    build_base(path)
    with open(stamp, "w") as f:
        f.write(fp + "\n")
    return path


# ------------------------------------------------------------------ overlay


def tools() -> dict[str, tuple[str, str]]:
    """pyproject.toml's console scripts whose module exists: name -> (module, function)."""
    import tomllib

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    out = {}
    for name, target in scripts.items():
        module, _, func = target.partition(":")
        base = os.path.join(REPO, *module.split("."))
        if name not in NOT_TOOLS and (os.path.exists(base + ".py") or os.path.isdir(base)):
            out[name] = (module, func or "main")
    return out


def build_overlay(path: str) -> None:
    """Our package, init, the tools and /etc/init: rebuilt on every prep."""
    from vm.cpio import CpioWriter

    with open(path + ".tmp", "wb") as f, tempfile.TemporaryDirectory() as tmp:
        w = CpioWriter(f)
        add_python_tree(w, os.path.join(REPO, "upstart"), f"{GUEST_SITE}/upstart",
                        skip_dirs={"__pycache__"}, tmp=tmp)
        w.file("/sbin/init", INIT.encode(), 0o755)
        w.file("/sbin/getty", GETTY.encode(), 0o755)
        for name, (module, func) in sorted(tools().items()):
            w.file(f"/usr/local/sbin/{name}",
                   WRAPPER.format(name=name, module=module, func=func).encode(), 0o755)
        # VM-only system files (vm/rootfs: /etc/init.d/rcS)
        for dirpath, _dirs, files in os.walk(ROOTFS):
            for name in sorted(files):
                src = os.path.join(dirpath, name)
                w.copy("/" + os.path.relpath(src, ROOTFS), src)
        for src_dir in (JOBS, VM_JOBS):
            for conf in sorted(glob.glob(os.path.join(src_dir, "*.conf"))):
                w.copy(f"/etc/init/{os.path.basename(conf)}", conf, 0o644)
        w.close()
    os.replace(path + ".tmp", path)


def prepare(quiet: bool = False) -> dict[str, str]:
    """Everything a boot needs; returns {'kernel': ..., 'initrd': ...}."""
    ensure_host_packages()
    os.makedirs(CACHE, exist_ok=True)
    kernel = fetch_kernel()
    base = ensure_base()
    overlay = os.path.join(CACHE, f"overlay.{os.getpid()}.cpio")
    build_overlay(overlay)
    initrd = os.path.join(CACHE, "initrd.cpio")
    tmp = f"{initrd}.{os.getpid()}"
    with open(tmp, "wb") as out:
        for part in (base, overlay):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    os.unlink(overlay)
    os.replace(tmp, initrd)  # atomic: a concurrent boot keeps its open copy
    if not quiet:
        log(f"kernel {kernel}, initrd {initrd} ({os.path.getsize(initrd) >> 20} MiB)")
    return {"kernel": kernel, "initrd": initrd}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the paths as JSON")
    args = ap.parse_args(argv)
    paths = prepare()
    if args.json:
        print(json.dumps(paths))
    return 0


if __name__ == "__main__":
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    sys.exit(main())
