"""Configuration sources: where job files live and which one defines a job.

A source is a directory of jobs (scanned recursively) or a plain file
(`/etc/init.conf`, which accepts no stanzas at all). Sources are ordered; for
each job name the first source whose `<name>.conf` parses owns the job
(`init/conf.c:conf_select_job`), and that file's override is the first regular
`<name>.override` found in the sources up to and including the owner's
(`conf_get_best_override`). Names are paths relative to the source without the
suffix (`net/apache.conf` -> `net/apache`). Directories whose basename
`nih_file_ignore` rejects (hidden, backups, swap files, VCS and packaging
leftovers) are not entered; only regular files count (no symlinks).

This module owns scanning, naming, override selection and the exact error texts
(without init's `init:` prefix). It reads files and never raises for a file it
cannot read; it knows nothing about running jobs or inotify (the daemon asks
`job_name_for` whether a changed path matters).
"""

from __future__ import annotations

import os
import stat
from typing import Iterable, Literal, Mapping

from upstart.jobfile.lexer import Scanner
from upstart.jobfile.model import JobClass, ParseError
from upstart.jobfile.parser import UNKNOWN_STANZA, parse_job
from upstart.records import dataclass, field

CONF_SUFFIX = ".conf"
OVERRIDE_SUFFIX = ".override"
LOAD_ERROR = "Error while loading configuration file"

SYSTEM_CONF_FILE = "/etc/init.conf"
SYSTEM_JOB_DIR = "/etc/init"

_VCS_NAMES = frozenset({".bzr", ".bzr.log", ".hg", ".git", ".svn", ".arch-ids", ".arch-inventory"})
_IGNORED_SUFFIXES = (".swp", ".swo", ".swn", ".bak", ".BAK", ".rpmsave", ".rpmorig", ".rpmnew")


@dataclass(frozen=True)
class ConfSource:
    """One configuration source: a job directory (`dir`) or a plain file (`file`)."""

    path: str
    kind: Literal["dir", "file"] = "dir"


@dataclass
class LoadResult:
    """Job classes by name, and the error lines to log (without `init:`)."""

    classes: dict[str, JobClass] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def ignored_dir(basename: str) -> bool:
    """`nih_file_ignore`: directories init never enters."""
    b = basename
    if b.startswith("."):
        return True
    if b.endswith("~") or (b.startswith("#") and b.endswith("#") and len(b) > 1):
        return True
    if b in _VCS_NAMES or b.endswith(_IGNORED_SUFFIXES):
        return True
    return ".dpkg-" in b


def _as_source(s: str | ConfSource) -> ConfSource:
    if isinstance(s, ConfSource):
        return s
    try:
        is_dir = stat.S_ISDIR(os.stat(s).st_mode)
    except OSError:
        is_dir = not s.endswith(CONF_SUFFIX)
    return ConfSource(s, "dir" if is_dir else "file")


def _split_name(rel: str) -> tuple[str, str] | None:
    """(job name, suffix) for a relative path, or None if not a job file."""
    base = rel.rsplit("/", 1)[-1]
    for suffix in (CONF_SUFFIX, OVERRIDE_SUFFIX):
        if rel.endswith(suffix) and len(base) > len(suffix):
            return rel[: -len(suffix)], suffix
    return None


def scan_dir(root: str, errors: list[str] | None = None) -> dict[str, dict[str, str]]:
    """`{suffix: {job name: path}}` of the regular job files under `root`.

    A root that exists but cannot be read is reported in `errors` the way
    `conf_reload` logs it; a missing root is silently empty.
    """
    found: dict[str, dict[str, str]] = {CONF_SUFFIX: {}, OVERRIDE_SUFFIX: {}}
    root = root.rstrip("/") or "/"
    if errors is not None:
        try:
            os.scandir(root).close()
        except FileNotFoundError:
            return found
        except OSError as exc:
            errors.append(f"{root}: Unable to load configuration: {exc.strerror or exc}")
            return found

    def walk(directory: str, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            rel = prefix + entry.name
            if stat.S_ISDIR(mode):
                if not ignored_dir(entry.name):
                    walk(entry.path, rel + "/")
            elif stat.S_ISREG(mode):
                split = _split_name(rel)
                if split is not None:
                    found[split[1]][split[0]] = entry.path

    walk(root, "")
    return found


def read_text(path: str) -> str:
    """A file's text (undecodable bytes kept as surrogates)."""
    with open(path, "rb") as f:
        data = f.read()
    return data.decode("utf-8", "surrogateescape")


def _load_error(path: str, exc: OSError) -> str:
    return f"{path}: {LOAD_ERROR}: {exc.strerror or exc}"


def parse_file(conf_path: str, name: str, override_path: str | None,
               errors: list[str], *, roadmap: bool = True) -> JobClass | None:
    """Parse one `.conf` (+ override); errors are appended, never raised."""
    try:
        text = read_text(conf_path)
    except OSError as exc:
        errors.append(_load_error(conf_path, exc))
        return None
    try:
        cls = parse_job(text, name, path=conf_path, roadmap=roadmap)
    except ParseError as err:
        errors.append(str(err))
        return None
    if override_path is None:
        return cls
    try:
        otext = read_text(override_path)
    except OSError as exc:
        errors.append(_load_error(override_path, exc))
        return cls
    try:
        return parse_job(otext, name, path=override_path, base=cls, roadmap=roadmap)
    except ParseError as err:
        errors.append(str(err))      # D-2: the override is ignored as a whole
        return cls


def check_plain_file(path: str) -> str | None:
    """`/etc/init.conf`: accepts no stanzas. The error line, or None."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _load_error(path, exc)
    sc = Scanner(text)
    while sc.pos < sc.n:
        sc.skip_ws()
        if not sc.has_token():
            sc.next_line()
            continue
        try:
            sc.next_token()
        except ParseError as err:
            err.path = path
            return str(err)
        return str(ParseError(UNKNOWN_STANZA, sc.lineno, path))
    return None


def load_sources(sources: Iterable[str | ConfSource], *, roadmap: bool = True) -> LoadResult:
    """Scan every source in order and build the job classes.

    Every `.conf` of every source is parsed (so every error is reported); a
    name belongs to the first source whose file parsed.
    """
    result = LoadResult()
    srcs = [_as_source(s) for s in sources]
    scans: list[dict[str, dict[str, str]] | None] = []
    for src in srcs:
        if src.kind == "file":
            scans.append(None)
            err = check_plain_file(src.path)
            if err:
                result.errors.append(err)
        else:
            scans.append(scan_dir(src.path, result.errors))

    for i, scan in enumerate(scans):
        if scan is None:
            continue
        for name, conf_path in scan[CONF_SUFFIX].items():
            override = _best_override(scans, i, name)
            cls = parse_file(conf_path, name, override, result.errors, roadmap=roadmap)
            if cls is not None and name not in result.classes:
                result.classes[name] = cls
    return result


def _best_override(scans: list, owner: int, name: str) -> str | None:
    for scan in scans[: owner + 1]:
        if scan is not None and name in scan[OVERRIDE_SUFFIX]:
            return scan[OVERRIDE_SUFFIX][name]
    return None


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def load_job(name: str, sources: Iterable[str | ConfSource], *,
             roadmap: bool = True) -> LoadResult:
    """Re-read one job (after an inotify event): same rules as `load_sources`.

    `classes` holds the job if some source defines it validly (empty if the job
    is gone or broken); `errors` the lines to log for its files.
    """
    result = LoadResult()
    dirs = [s for s in map(_as_source, sources) if s.kind == "dir"]
    for i, src in enumerate(dirs):
        conf_path = os.path.join(src.path, name + CONF_SUFFIX)
        if not _regular(conf_path):
            continue
        override = next((o for o in (os.path.join(d.path, name + OVERRIDE_SUFFIX)
                                     for d in dirs[: i + 1]) if _regular(o)), None)
        cls = parse_file(conf_path, name, override, result.errors, roadmap=roadmap)
        if cls is not None and name not in result.classes:
            result.classes[name] = cls
    return result


def job_name_for(path: str, dirs: Iterable[str | ConfSource]) -> str | None:
    """The job a changed path belongs to, if it is a job file of a source."""
    for src in dirs:
        src = _as_source(src)
        if src.kind != "dir":
            continue
        root = src.path.rstrip("/")
        if not path.startswith(root + "/"):
            continue
        rel = path[len(root) + 1:]
        parts = rel.split("/")
        if any(ignored_dir(p) for p in parts[:-1]):
            return None
        split = _split_name(rel)
        return split[0] if split else None
    return None


def session_dirs(environ: Mapping[str, str]) -> list[str]:
    """The Session Init's job directories, in priority order (init/xdg.c)."""
    home = environ.get("HOME", "")
    dirs: list[str] = []
    config_home = environ.get("XDG_CONFIG_HOME") or (os.path.join(home, ".config") if home else "")
    if config_home:
        dirs.append(os.path.join(config_home, "upstart"))
    if home:
        dirs.append(os.path.join(home, ".init"))
    config_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    for d in config_dirs.split(":"):
        if d.startswith("/"):
            dirs.append(os.path.join(d, "upstart"))
    if "UPSTART_NO_SYSTEM_USERCONFDIR" not in environ:
        dirs.append("/usr/share/upstart/sessions")
    return dirs


def system_sources(confdirs: list[str] | None = None) -> list[ConfSource]:
    """System mode: `/etc/init.conf` then the job directory (or `--confdir`s)."""
    dirs = confdirs or [SYSTEM_JOB_DIR]
    return [ConfSource(SYSTEM_CONF_FILE, "file")] + [ConfSource(d, "dir") for d in dirs]
