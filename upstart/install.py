"""`upstart-install-root ROOT`: make a root file system boot with upstart-py.

Run it after `pip install upstart-py` has put the package into the target's
Python (on the machine itself, ROOT is `/`; for an image, run it inside a
chroot of the image so the interpreter named in `/sbin/init` is the
target's own). It installs:

* `ROOT/sbin/init` (or `ROOT/sbin/NAME` with `--init-name NAME`, to boot
  with `init=/sbin/NAME` and keep the distribution's init): a script running
  `upstart.cli.init` with this Python;
* the job files shipped in the wheel: the stock jobs into `ROOT/etc/init/`,
  and with `--jobs debian` the Debian 12 job set on top (same names replace
  the stock ones: `mountall`, `rc-sysinit` ...);
* the D-Bus system bus policy for init's name
  (`ROOT/etc/dbus-1/system.d/com.ubuntu.Upstart.conf`);
* `ROOT/var/log/upstart/` for the jobs' `console log` output.

An existing `/sbin/init` (systemd-sysv's symlink, sysvinit's binary) or a
job file that differs from ours is left alone unless `--force`; nothing is
written with `--dry-run`, which prints what would be.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources

INIT_SCRIPT = """#!{python}
# upstart-py's init (upstart.cli.init), installed by upstart-install-root.
import sys
from upstart.cli.init import main
sys.exit(main())
"""

JOB_SETS = ("stock", "debian")


def job_files(job_set: str) -> dict[str, str]:
    """name.conf (and name.override) -> text of a job set as shipped in the
    package; `debian` is the stock set with the Debian jobs laid over it."""
    base = resources.files("upstart").joinpath("data", "jobs")
    dirs = [base] + ([base.joinpath("debian")] if job_set == "debian" else [])
    out: dict[str, str] = {}
    for d in dirs:
        for entry in sorted(d.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".conf", ".override")) and entry.is_file():
                out[entry.name] = entry.read_text()
    return out


def plan(root: str, job_set: str, init_name: str, python: str) -> list[tuple[str, str, int]]:
    """(path under root, contents, mode) of every file to write."""
    files = [(f"/sbin/{init_name}", INIT_SCRIPT.format(python=python), 0o755)]
    files += [(f"/etc/init/{name}", text, 0o644) for name, text in job_files(job_set).items()]
    # the system bus lets init own com.ubuntu.Upstart (root only) and lets anyone call it
    policy = resources.files("upstart").joinpath("data", "com.ubuntu.Upstart.conf")
    files.append(("/etc/dbus-1/system.d/com.ubuntu.Upstart.conf", policy.read_text(), 0o644))
    return files


def install(root: str, job_set: str = "stock", init_name: str = "init",
            python: str | None = None, force: bool = False, dry_run: bool = False,
            out=None) -> list[str]:
    """Install; returns the problems (files kept because they differ)."""
    python = python or sys.executable
    out = out or sys.stdout
    problems = []
    for path, text, mode in plan(root, job_set, init_name, python):
        target = os.path.join(root, path.lstrip("/"))
        try:
            with open(target) as f:
                same = f.read() == text
        except (OSError, UnicodeDecodeError):
            same = False
        exists = os.path.lexists(target)
        if exists and not same and not force:
            problems.append(f"{target}: exists and differs (--force replaces it)")
            continue
        if same:
            continue
        out.write(f"{'would install' if dry_run else 'installing'} {target}\n")
        if dry_run:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if exists:
            os.unlink(target)          # a symlink (systemd-sysv's /sbin/init) is replaced
        tmp = f"{target}.upstart-new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    if not dry_run:
        os.makedirs(os.path.join(root, "var/log/upstart"), mode=0o755, exist_ok=True)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="upstart-install-root",
                                 description=__doc__.splitlines()[0].split(": ", 1)[1])
    ap.add_argument("root", help="the root file system (/ on the machine itself)")
    ap.add_argument("--jobs", choices=JOB_SETS, default="stock",
                    help="job set: the stock jobs, or the stock jobs plus the Debian 12 set")
    ap.add_argument("--init-name", default="init",
                    help="install as /sbin/NAME (boot with init=/sbin/NAME); default init")
    ap.add_argument("--python", help="interpreter for /sbin/init (default: this one)")
    ap.add_argument("--force", action="store_true", help="replace files that differ")
    ap.add_argument("--dry-run", action="store_true", help="print what would be installed")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.root):
        sys.stderr.write(f"upstart-install-root: {args.root}: not a directory\n")
        return 2
    if "/" in args.init_name or not args.init_name:
        sys.stderr.write(f"upstart-install-root: bad --init-name {args.init_name!r}\n")
        return 2
    problems = install(args.root, args.jobs, args.init_name, args.python, args.force,
                       args.dry_run)
    for p in problems:
        sys.stderr.write(f"upstart-install-root: {p}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
