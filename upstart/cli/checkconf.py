"""`init-checkconf`: check a job file without a running init.

Upstream's script starts a throw-away Session Init on a copy of the file and
asks it; this version parses the file directly with the same parser the daemon
uses, so the verdict and the error text are the daemon's:

    File FILE: syntax ok                                   (exit 0)
    ERROR: File FILE: syntax invalid:                      (exit 1)
    init:FILE:LINE: MESSAGE

Unless `-s`, every script section is also checked with `/bin/sh -n`. With
`-d`, the events the job waits for are listed with whether anything known
emits them (built-in events, `emits` of the jobs beside FILE, job events of
jobs that exist there).

This module owns argument handling and output; it must never start a daemon or
touch the system's job directories.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys

from upstart.jobfile.conf import read_text, scan_dir, CONF_SUFFIX
from upstart.jobfile.model import JobClass, ParseError, expr_matches
from upstart.jobfile.parser import parse_job

BUILTIN_EVENTS = (
    "startup", "control-alt-delete", "keyboard-request", "power-status-changed",
    "session-end", "child-subreaper-failed", "dbus-connected", "runlevel",
)
JOB_EVENTS = ("starting", "started", "stopping", "stopped", "died")   # died: RM-12
SCRIPT_SECTIONS = (("pre-start", "pre-start"), ("post-start", "post-start"),
                   ("main", "script"), ("pre-stop", "pre-stop"), ("post-stop", "post-stop"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="init-checkconf", add_help=True,
                                description="Check an Upstart job configuration file.")
    p.add_argument("-d", "--debug", action="store_true", help="show events and emitters")
    p.add_argument("-s", "--noscript", action="store_true", help="do not check script sections")
    p.add_argument("-i", "--initctl-path", metavar="PATH", help="accepted for compatibility")
    p.add_argument("-x", "--upstart-path", metavar="PATH", help="accepted for compatibility")
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE")
    p.add_argument("paths", nargs="*", metavar="FILE")
    from upstart.version import add_version_option
    add_version_option(p, "init-checkconf")
    return p


def _err(msg: str) -> None:
    print(f"ERROR: {msg}", file=sys.stderr)


def _job_name(path: str) -> str:
    base = os.path.basename(path)
    return base[: -len(CONF_SUFFIX)] if base.endswith(CONF_SUFFIX) else base


def _check_scripts(path: str, cls: JobClass) -> bool:
    ok = True
    for slot, section in SCRIPT_SECTIONS:
        proc = cls.process.get(slot)
        if proc is None or not proc.script:
            continue
        try:
            res = subprocess.run(["/bin/sh", "-n"], input=proc.command.encode("utf-8", "surrogateescape"),
                                 capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            _err(f"File {path}: unable to run /bin/sh: {exc}")
            return False
        if res.returncode != 0:
            ok = False
            _err(f"File {path}: shell syntax invalid in {section} section:")
            sys.stderr.write(res.stderr.decode("utf-8", "replace"))
    return ok


def _siblings(path: str) -> dict[str, JobClass]:
    """Jobs that parse in the directory of FILE (for the -d emitter check)."""
    jobs: dict[str, JobClass] = {}
    directory = os.path.dirname(os.path.abspath(path))
    for name, p in scan_dir(directory)[CONF_SUFFIX].items():
        try:
            jobs[name] = parse_job(read_text(p), name, path=p)
        except (OSError, ParseError):
            continue
    return jobs


def _emitters(event: str, args: tuple[str, ...], jobs: dict[str, JobClass]) -> list[str]:
    if event in BUILTIN_EVENTS:
        return ["init"]
    if event in JOB_EVENTS:
        target = next((a.split("=", 1)[1] for a in args if a.startswith("JOB=")),
                      args[0] if args and "=" not in args[0] else None)
        if target is None or target in jobs or any(fnmatch.fnmatchcase(j, target) for j in jobs):
            return ["init"]
        return []
    return sorted(n for n, j in jobs.items()
                  if any(fnmatch.fnmatchcase(event, pat) for pat in j.emits))


def _debug(path: str, cls: JobClass) -> None:
    jobs = _siblings(path)
    jobs.setdefault(cls.name, cls)
    for label, expr in (("start on", cls.start_on), ("stop on", cls.stop_on),
                        ("while", cls.while_), ("ready on", cls.ready_on)):
        for m in expr_matches(expr):
            who = _emitters(m.name, m.args, jobs)
            state = f"emitted by {', '.join(who)}" if who else "no known emitter"
            print(f"DEBUG: {label}: event {m.name}: {state}")


def _warn_time_events(path: str, cls: JobClass) -> None:
    """`time` events are the time bridge's: check their arguments (CRON=, EVERY=,
    AFTER=...). init accepts any arguments, so a bad one is a warning."""
    from upstart.jobfile.model import expr_matches
    from upstart.timebridge.schedule import validate_time_match

    for label, expr in (("start on", cls.start_on), ("stop on", cls.stop_on),
                        ("while", cls.while_), ("ready on", cls.ready_on)):
        for match in expr_matches(expr):
            if match.name == "time":
                problem = validate_time_match(match.args)
                if problem:
                    print(f"WARNING: File {path}: {label} time: {problem}", file=sys.stderr)


def check_file(path: str, *, noscript: bool = False, debug: bool = False) -> int:
    if not os.path.exists(path):
        _err(f"File {path} does not exist")
        return 1
    if not path.endswith(CONF_SUFFIX):
        _err("File must end in .conf")
        return 1
    try:
        text = read_text(path)
    except OSError as exc:
        _err(f"File {path}: syntax invalid:")
        print(f"init:{path}: Error while loading configuration file: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        cls = parse_job(text, _job_name(path), path=path)
    except ParseError as err:
        _err(f"File {path}: syntax invalid:")
        err.path = path
        print(f"init:{err}", file=sys.stderr)
        return 1
    if not noscript and not _check_scripts(path, cls):
        return 1
    _warn_time_events(path, cls)
    if debug:
        _debug(path, cls)
    print(f"File {path}: syntax ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    files = list(args.files) + list(args.paths)
    if not files:
        _err("no file specified")
        return 1
    rc = 0
    for f in files:
        rc |= check_file(f, noscript=args.noscript, debug=args.debug)
    return rc


if __name__ == "__main__":
    sys.exit(main())
