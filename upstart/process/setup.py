"""The child set-up plan: everything a new job process needs before exec.

`plan_for(request, ...)` turns a `SpawnRequest` (its `Process` and its
`JobClass` stanzas) into a `ChildPlan`: argv, environment, console, limits,
umask, nice, OOM score, chroot, working directory, user and group,
AppArmor profile, trace and debug flags. `ChildPlan.needs_fork()` says
whether the plan can be carried out by `posix_spawn` alone (no code has to
run in the child) or needs the fork path (see docs/design/spawning.md).

This module decides; it never starts a process, opens a file or changes
the calling process.
"""

from __future__ import annotations

import os
import re
import resource

from upstart.core.effects import SpawnRequest
from upstart.process.command import build_command, env_mapping
from upstart.records import dataclass, field

# Resource names of the `limit` stanza, in the kernel's RLIMIT_* order
# (upstream applies them in that order, so the first failing one is named).
_RLIMITS: dict[str, int] = {
    "as": resource.RLIMIT_AS,
    "core": resource.RLIMIT_CORE,
    "cpu": resource.RLIMIT_CPU,
    "data": resource.RLIMIT_DATA,
    "fsize": resource.RLIMIT_FSIZE,
    "memlock": resource.RLIMIT_MEMLOCK,
    "msgqueue": resource.RLIMIT_MSGQUEUE,
    "nice": resource.RLIMIT_NICE,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
    "rss": resource.RLIMIT_RSS,
    "rtprio": resource.RLIMIT_RTPRIO,
    "sigpending": resource.RLIMIT_SIGPENDING,
    "stack": resource.RLIMIT_STACK,
}

SYSTEM_UMASK = 0o022


@dataclass
class ChildPlan:
    job: str
    instance: str
    slot: str
    argv: tuple[str, ...]
    script: bytes | None
    env: dict[str, str]
    console: str                              # none / log / output / owner
    limits: list[tuple[str, int, int, int]] = field(default_factory=list)
    umask: int | None = None                  # None: leave the inherited one
    nice: int | None = None
    oom_score: int | None = None              # None or 0: not written
    chroot: str | None = None
    chdir: str | None = None                  # None: unchanged
    setuid: str | None = None
    setgid: str | None = None
    apparmor: str | None = None               # profile name, already expanded
    trace: bool = False
    debug: bool = False
    fds: tuple[int, ...] = ()                 # UPSTART_FDS: init's fds the job inherits
    # ---- readiness (issue #8): `ready on notify` / `notify-fd N` (process/notify.py)
    notify: bool = False                      # give the process a NOTIFY_SOCKET
    notify_fd: int | None = None              # N of `notify-fd N`: a pipe's write end there
    notify_pipe: int | None = None            # init's fd for that write end (set by NotifyHub)
    # ---- end readiness
    cgroup_procs: tuple[str, ...] = ()        # cgroups (issue #9): cgroup.procs files to join
    # issue #26 (tracking.md): the automatic tracking cgroup; the fast path
    # runs posix_spawn with init inside it and then moves init back home
    track_procs: tuple[str, ...] = ()
    track_home: tuple[str, ...] = ()
    # chroot sessions (docs/design/sessions.md): the session's root, entered
    # before the job's own `chroot` (spec 01 §9 step 4)
    session_root: str | None = None

    @property
    def full_setup(self) -> bool:
        """Steps 3-9 of spec 01 §9 are skipped for the `security` process."""
        return self.slot != "security"

    def needs_fork(self) -> bool:
        """True when some set-up step must run as code in the child (umask and
        chdir are done by init around `posix_spawn`: see launch.spawn_fast)."""
        if self.trace or self.debug or self.console == "owner" or self.apparmor:
            return True
        if self.fds:   # LISTEN_PID must be the child's own pid
            return True
        if self.cgroup_procs:   # cgroups (issue #9): the child joins them before exec
            return True
        if not self.full_setup:
            return False
        if self.limits or self.nice is not None or self.oom_score:
            return True
        return bool(self.chroot or self.session_root or self.setuid or self.setgid)


def plan_for(request: SpawnRequest, *, session_init: bool, default_console: str,
             no_log: bool, debug: bool, apparmor_usable: bool,
             inherit_umask: bool = True) -> ChildPlan:
    """`inherit_umask`: a Session Init's jobs keep init's umask (False with
    `--no-inherit-env`: 022, as a system job)."""
    cls = request.job_class
    cmd = build_command(request.process)
    env = env_mapping(request.env)
    console = cls.console or default_console
    if console == "log" and no_log:
        console = "none"
    limits = []
    for name, (soft, hard) in cls.limits.items():
        num = _RLIMITS.get(name)
        if num is None:
            continue
        limits.append((name, num, _rlim(soft), _rlim(hard)))
    limits.sort(key=lambda item: item[1])
    if cls.umask is not None:
        umask = cls.umask
    else:
        umask = None if session_init and inherit_umask else SYSTEM_UMASK
    chdir = cls.chdir if cls.chdir is not None else (None if session_init else "/")
    apparmor = None
    if cls.apparmor_switch and request.slot == "main" and apparmor_usable:
        apparmor = expand_vars(cls.apparmor_switch, env)
    return ChildPlan(
        job=request.job, instance=request.instance, slot=request.slot,
        argv=cmd.argv, script=cmd.script, env=env, console=console,
        limits=limits, umask=umask, nice=cls.nice, oom_score=cls.oom_score,
        chroot=cls.chroot, chdir=chdir, setuid=cls.setuid, setgid=cls.setgid,
        apparmor=apparmor, trace=request.trace and request.slot == "main",
        debug=debug and cls.debug, fds=passed_fds(env),
        **_notify_fields(cls, request.slot),   # readiness (issue #8)
    )


def _notify_fields(cls, slot: str) -> dict:
    """Readiness (issue #8): the notify channels the main process gets."""
    if not getattr(cls, "ready_on", None):
        return {}
    from upstart.process.notify import wants
    sock, fd = wants(cls.ready_on, slot)
    return {"notify": sock, "notify_fd": fd}


def passed_fds(env: dict[str, str]) -> tuple[int, ...]:
    """The fds named by `UPSTART_FDS` (an event's socket, spec 06/07 §8)."""
    out = []
    for word in env.get("UPSTART_FDS", "").replace(",", " ").split():
        if word.isdigit() and int(word) > 2:
            out.append(int(word))
    return tuple(dict.fromkeys(out))


def _rlim(value: int | None) -> int:
    return resource.RLIM_INFINITY if value is None else value


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_vars(text: str, env: dict[str, str]) -> str:
    """`$VAR` and `${VAR}` from the process environment (unset: empty)."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def apparmor_usable() -> bool:
    """Upstream's test (spec 01 §10), including the Ubuntu container patch."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            if not f.read(1) == "Y":
                return False
    except OSError:
        return False
    parser = "/sbin/apparmor_parser"
    if not (os.path.isfile(parser) and os.access(parser, os.X_OK)):
        return False
    return not (os.path.exists("/run/container_type")
                or os.path.exists("/rofs/etc/apparmor.d"))


def oom_legacy_value(score: int) -> int:
    """The `/proc/PID/oom_adj` value for an `oom_score_adj` score (C division)."""
    factor = 17 if score < 0 else 15
    return int(score * factor / 1000)
